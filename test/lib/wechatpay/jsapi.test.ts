import assert from 'node:assert/strict';
import { requestPaymentParams, RequestPaymentParams, SignType, verifySign } from '../../../lib/wechatpay';

const VECTOR = {
  appId: 'wxd678efh567hg6787',
  prepayId: 'wx2017033010242291fcfe0db70013231072',
  apiKey: 'qazwsxedcrfvtgbyhnujmikolp111111',
  nonceStr: '5K8264ILTKCH16CQ2502SI8ZNMTM67VS',
  now: new Date(1490840662 * 1000),
};

/** What WeChat checks on wx.requestPayment: the fields plus appId, under the name `sign`. */
function asSignedMap(appId: string, p: RequestPaymentParams): Record<string, string> {
  return { appId, timeStamp: p.timeStamp, nonceStr: p.nonceStr, package: p.package, signType: p.signType, sign: p.paySign };
}

describe('lib/wechatpay jsapi requestPaymentParams', () => {
  it('reproduces the official paySign vector', () => {
    const p = requestPaymentParams({ ...VECTOR, signType: 'MD5' });
    assert.deepEqual(p, {
      timeStamp: '1490840662',
      nonceStr: '5K8264ILTKCH16CQ2502SI8ZNMTM67VS',
      package: 'prepay_id=wx2017033010242291fcfe0db70013231072',
      signType: 'MD5',
      paySign: '22D9B4E54AB1950F51E0649E8810ACD6',
    });
  });

  it('does not return appId (the mini-program supplies it)', () => {
    const p = requestPaymentParams({ ...VECTOR, signType: 'MD5' });
    assert.deepEqual(Object.keys(p).sort(), [ 'nonceStr', 'package', 'paySign', 'signType', 'timeStamp' ]);
  });

  it('uses whole seconds for timeStamp', () => {
    const p = requestPaymentParams({ ...VECTOR, signType: 'MD5', now: new Date(1490840662 * 1000 + 999) });
    assert.equal(p.timeStamp, '1490840662');
    assert.equal(p.paySign, '22D9B4E54AB1950F51E0649E8810ACD6');
  });

  it('signs the HMAC-SHA256 variant verifiably', () => {
    const p = requestPaymentParams({ ...VECTOR, signType: 'HMAC-SHA256' });
    assert.equal(p.signType, 'HMAC-SHA256');
    assert.match(p.paySign, /^[0-9A-F]{64}$/);
    assert.equal(verifySign(asSignedMap(VECTOR.appId, p), VECTOR.apiKey, 'HMAC-SHA256'), true);
  });

  for (const signType of [ 'MD5', 'HMAC-SHA256' ] as SignType[]) {
    it(`${signType}: fails verification with another appId, key, sign type or package`, () => {
      const p = requestPaymentParams({ ...VECTOR, signType });
      const map = asSignedMap(VECTOR.appId, p);
      const other: SignType = signType === 'MD5' ? 'HMAC-SHA256' : 'MD5';
      assert.equal(verifySign(map, VECTOR.apiKey, signType), true);
      assert.equal(verifySign({ ...map, appId: 'wx0000000000000000' }, VECTOR.apiKey, signType), false);
      assert.equal(verifySign(map, 'x'.repeat(32), signType), false);
      assert.equal(verifySign(map, VECTOR.apiKey, other), false);
      assert.equal(verifySign({ ...map, package: 'prepay_id=wx_other' }, VECTOR.apiKey, signType), false);
      assert.equal(verifySign({ ...map, timeStamp: String(Number(map.timeStamp) + 1) }, VECTOR.apiKey, signType), false);
    });
  }

  it('signs appId with a capital I (appid would give another sign)', () => {
    const p = requestPaymentParams({ ...VECTOR, signType: 'MD5' });
    const { appId, ...rest } = asSignedMap(VECTOR.appId, p);
    assert.equal(verifySign({ ...rest, appid: appId }, VECTOR.apiKey, 'MD5'), false);
  });

  it('defaults to a fresh 32-character nonce and the current time', () => {
    const before = Math.floor(Date.now() / 1000);
    const a = requestPaymentParams({ appId: VECTOR.appId, prepayId: VECTOR.prepayId, apiKey: VECTOR.apiKey, signType: 'MD5' });
    const b = requestPaymentParams({ appId: VECTOR.appId, prepayId: VECTOR.prepayId, apiKey: VECTOR.apiKey, signType: 'MD5' });
    const after = Math.floor(Date.now() / 1000);
    assert.match(a.nonceStr, /^[A-Za-z0-9]{32}$/);
    assert.notEqual(a.nonceStr, b.nonceStr);
    assert.notEqual(a.paySign, b.paySign);
    assert.ok(Number(a.timeStamp) >= before && Number(a.timeStamp) <= after);
    assert.match(a.timeStamp, /^\d{10}$/);
    assert.equal(verifySign(asSignedMap(VECTOR.appId, a), VECTOR.apiKey, 'MD5'), true);
  });

  it('refuses an unsupported sign type', () => {
    assert.throws(() => requestPaymentParams({ ...VECTOR, signType: 'SHA1' as SignType }), /unsupported sign type/);
  });
});
