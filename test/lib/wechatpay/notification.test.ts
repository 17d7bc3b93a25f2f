import assert from 'node:assert/strict';
import { buildXml, readNotification } from '../../../lib/wechatpay';

const expect = { appIds: [ 'wx0000000000000001' ], mchId: '1900000001', maxBytes: 1024 };
const ours = { return_code: 'SUCCESS', appid: expect.appIds[0], mch_id: expect.mchId, out_trade_no: 'P1' };
const read = (fields: Record<string, string>) => readNotification(Buffer.from(buildXml(fields)), expect);

describe('readNotification', () => {
  it('answers the fields of a notification for our app and merchant', () => {
    assert.deepEqual(read(ours), { fields: ours });
  });

  it('refuses, with the fields, a return_code other than SUCCESS, another app, another merchant', () => {
    assert.deepEqual(read({ ...ours, return_code: 'FAIL' }), { fields: { ...ours, return_code: 'FAIL' }, refused: 'return_code is FAIL' });
    const { return_code: _dropped, ...noCode } = ours;
    assert.equal(read(noCode).refused, 'return_code is missing');
    assert.equal(read({ ...ours, appid: 'wx0000000000000009' }).refused, 'appid is not ours');
    const noAppid: Record<string, string> = { ...ours };
    delete noAppid.appid;
    assert.equal(read(noAppid).refused, 'appid is not ours');
    assert.equal(read({ ...ours, mch_id: '1900000002' }).refused, 'mch_id is not ours');
  });

  it('accepts any of the merchant\'s apps (the order\'s own appid is checked with the order)', () => {
    const two = { ...expect, appIds: [ 'wx0000000000000001', 'wx0000000000000002' ] };
    const other = { ...ours, appid: 'wx0000000000000002' };
    assert.deepEqual(readNotification(Buffer.from(buildXml(other)), two), { fields: other });
  });

  it('refuses a body that is not XML or is over the limit, without fields', () => {
    const notXml = readNotification(Buffer.from('{"return_code":"SUCCESS"}'), expect);
    assert.equal(notXml.fields, undefined);
    assert.match(notXml.refused!, /^unreadable XML: /);
    const big = readNotification(Buffer.from(buildXml({ ...ours, attach: 'x'.repeat(2000) })), expect);
    assert.match(big.refused!, /^unreadable XML: .*exceeds the limit of 1024/);
  });

  it('refuses as unreadable, without fields, a body holding a character XML 1.0 forbids, raw or as a reference', () => {
    const body = buildXml(ours);
    const cases: Array<[string, RegExp]> = [
      [ body.replace('<![CDATA[P1]]>', 'P1\u0001'), /^unreadable XML: XML contains U\+0001 at character \d+, which XML 1\.0 does not allow$/ ],
      [ body.replace('<![CDATA[P1]]>', 'P1&#1;'), /^unreadable XML: XML contains the character reference &#1; \(U\+0001\), which XML 1\.0 does not allow$/ ],
      [ body.replace('<![CDATA[P1]]>', 'P1&#x1;'), /^unreadable XML: XML contains the character reference &#x1; \(U\+0001\)/ ],
      [ body.replace('<![CDATA[P1]]>', '<![CDATA[P1\u001B]]>'), /^unreadable XML: XML contains U\+001B/ ],
      [ body.replace('<![CDATA[P1]]>', 'P1&#xFFFF;'), /^unreadable XML: .*\(U\+FFFF\)/ ],
    ];
    for (const [ text, refused ] of cases) {
      assert.ok(text !== body);
      const read = readNotification(Buffer.from(text, 'utf8'), expect);
      assert.equal(read.fields, undefined, text);
      assert.match(read.refused!, refused);
    }
  });

  it('reads a notification whose values hold "]]>" and a CR, as buildXml writes them', () => {
    const fields = { ...ours, attach: 'a]]>b\r\nc' };
    assert.deepEqual(read(fields), { fields });
  });
});
