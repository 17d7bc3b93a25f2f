import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  buildXml, parseStaticCodeUrl, parseXml, readScanCallback, scanCallbackRefusal, scanCallbackReply, sign, staticCodeUrl, verifySign,
} from '../../../lib/wechatpay';

const KEY = '192006250b4c09247ec02edce69f6a2d';
const APP = 'wx2421b1c4370ec43b';
const MCH = '10000100';
const expect = { appIds: [ APP ], mchId: MCH, apiKey: KEY, maxBytes: 4096 };
const md5 = (text: string) => createHash('md5').update(text, 'utf8').digest('hex')
  .toUpperCase();

/** A scan callback as WeChat sends it, signed with MD5 (unless `sign` is given). */
function callback(fields: Record<string, string | undefined> = {}): Buffer {
  const base: Record<string, string | undefined> = {
    appid: APP, mch_id: MCH, openid: 'o-payer-1', product_id: '42', nonce_str: 'Wm3WZYTPz0wzccnW', is_subscribe: 'N', ...fields,
  };
  return Buffer.from(buildXml({ ...base, sign: 'sign' in fields ? fields.sign : sign(base, KEY, 'MD5') }));
}

describe('lib/wechatpay/nativeScan (NATIVE mode 1)', () => {
  describe('the static code', () => {
    it('names the product and is signed with MD5 over appid, mch_id, nonce_str, product_id, time_stamp (checked by the documented rule)', () => {
      const url = staticCodeUrl({ appId: APP, mchId: MCH, productId: '42', apiKey: KEY, now: new Date(1414488825000), nonceStr: 'Wm3WZYTPz0wzccnW' });
      assert.ok(url.startsWith('weixin://wxpay/bizpayurl?'));
      const fields = parseStaticCodeUrl(url)!;
      assert.deepEqual({ ...fields, sign: undefined }, {
        appid: APP, mch_id: MCH, product_id: '42', time_stamp: '1414488825', nonce_str: 'Wm3WZYTPz0wzccnW', sign: undefined,
      });
      assert.equal(fields.sign, md5(`appid=${APP}&mch_id=${MCH}&nonce_str=Wm3WZYTPz0wzccnW&product_id=42&time_stamp=1414488825&key=${KEY}`));
    });

    it('refuses a product_id WeChat would not take, and parses nothing but a complete static code', () => {
      for (const productId of [ '', 'a b', 'x'.repeat(33), '商品' ]) {
        assert.throws(() => staticCodeUrl({ appId: APP, mchId: MCH, productId, apiKey: KEY }), /product_id/, productId);
      }
      assert.equal(parseStaticCodeUrl('weixin://wxpay/bizpayurl?pr=abc'), undefined);
      assert.equal(parseStaticCodeUrl('https://example.com/?appid=a&mch_id=b&product_id=c&time_stamp=1&nonce_str=n&sign=s'), undefined);
    });
  });

  describe('the callback', () => {
    it('reads a signed callback: the payer, the product', () => {
      assert.deepEqual(readScanCallback(callback(), expect), {
        fields: { appid: APP, mch_id: MCH, openid: 'o-payer-1', product_id: '42', nonce_str: 'Wm3WZYTPz0wzccnW', is_subscribe: 'N' },
      });
    });

    it('refuses one that is forged, not ours, incomplete or unreadable, saying why', () => {
      const cases: Array<[ Buffer, string ]> = [
        [ callback({ sign: 'F'.repeat(32) }), 'signature does not verify' ],
        [ callback({ product_id: '43', sign: sign({ appid: APP, mch_id: MCH, openid: 'o-payer-1', product_id: '42', nonce_str: 'n' }, KEY, 'MD5') }), 'signature does not verify' ],
        [ callback({ mch_id: '10000999' }), 'mch_id is not ours' ],
        [ callback({ appid: 'wx0000000000000009' }), 'appid is not ours' ],
        [ callback({ openid: undefined }), 'openid is missing' ],
        [ callback({ product_id: 'a b' }), 'product_id is malformed' ],
        [ Buffer.from('<xml><appid>'), 'unreadable XML' ],
        [ Buffer.from(`<xml><a>${'x'.repeat(5000)}</a></xml>`), 'unreadable XML' ],
      ];
      for (const [ raw, reason ] of cases) {
        const read = readScanCallback(raw, expect);
        assert.ok(read.refused?.startsWith(reason), `${read.refused} for ${raw.toString().slice(0, 60)}`);
      }
    });

    it('answers with the prepay_id, signed with MD5; or result_code FAIL with the reason; or return_code FAIL unsigned', () => {
      const ok = parseXml(scanCallbackReply({ appId: APP, mchId: MCH, apiKey: KEY, prepayId: 'wx201410272009395522657a690389285100', nonceStr: 'n1' }));
      assert.deepEqual({ ...ok, sign: undefined }, {
        return_code: 'SUCCESS', appid: APP, mch_id: MCH, nonce_str: 'n1', prepay_id: 'wx201410272009395522657a690389285100', result_code: 'SUCCESS', sign: undefined,
      });
      assert.equal(ok.sign, md5(`appid=${APP}&mch_id=${MCH}&nonce_str=n1&prepay_id=wx201410272009395522657a690389285100&result_code=SUCCESS&return_code=SUCCESS&key=${KEY}`));

      const failed = parseXml(scanCallbackReply({ appId: APP, mchId: MCH, apiKey: KEY, failure: '商品已下架', nonceStr: 'n2' }));
      assert.deepEqual([ failed.return_code, failed.result_code, failed.err_code_des, failed.prepay_id ], [ 'SUCCESS', 'FAIL', '商品已下架', undefined ]);
      assert.ok(verifySign(failed, KEY, 'MD5'));
      assert.throws(() => scanCallbackReply({ appId: APP, mchId: MCH, apiKey: KEY }), /prepay_id/);

      assert.deepEqual(parseXml(scanCallbackRefusal('signature does not verify')), { return_code: 'FAIL', return_msg: 'signature does not verify' });
    });
  });
});
