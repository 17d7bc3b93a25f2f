import assert from 'node:assert/strict';
import { buildXml, readNotification } from '../../../lib/wechatpay';

const expect = { appId: 'wx0000000000000001', mchId: '1900000001', maxBytes: 1024 };
const ours = { return_code: 'SUCCESS', appid: expect.appId, mch_id: expect.mchId, out_trade_no: 'P1' };
const read = (fields: Record<string, string>) => readNotification(Buffer.from(buildXml(fields)), expect);

describe('readNotification', () => {
  it('answers the fields of a notification for our app and merchant', () => {
    assert.deepEqual(read(ours), { fields: ours });
  });

  it('refuses, with the fields, a return_code other than SUCCESS, another app, another merchant', () => {
    assert.deepEqual(read({ ...ours, return_code: 'FAIL' }), { fields: { ...ours, return_code: 'FAIL' }, refused: 'return_code is FAIL' });
    const { return_code: _dropped, ...noCode } = ours;
    assert.equal(read(noCode).refused, 'return_code is missing');
    assert.equal(read({ ...ours, appid: 'wx0000000000000002' }).refused, 'appid is not ours');
    assert.equal(read({ ...ours, mch_id: '1900000002' }).refused, 'mch_id is not ours');
  });

  it('refuses a body that is not XML or is over the limit, without fields', () => {
    const notXml = readNotification(Buffer.from('{"return_code":"SUCCESS"}'), expect);
    assert.equal(notXml.fields, undefined);
    assert.match(notXml.refused!, /^unreadable XML: /);
    const big = readNotification(Buffer.from(buildXml({ ...ours, attach: 'x'.repeat(2000) })), expect);
    assert.match(big.refused!, /^unreadable XML: .*exceeds the limit of 1024/);
  });
});
