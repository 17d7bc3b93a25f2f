import assert from 'node:assert/strict';
import { requestPaymentParams, sign } from '../../../lib/wechatpay';

// The official-account bridge's known vector (docs: /work/shared/wechatpay-v2-channels.md section 1).
const VECTOR = {
  apiKey: '192006250b4c09247ec02edce69f6a2d',
  appId: 'wx2421b1c4370ec43b',
  timeStamp: '1395712654',
  nonceStr: 'e61463f8efa94090b1f366cccfbbb444',
  prepayId: 'u802345jgfjsdfgsdg888',
  paySign: '0784A14C2CD35747364F62512E724FD8',
};

describe('getBrandWCPayRequest paySign (known vector)', () => {
  it('the signer gives the published MD5 over exactly appId, nonceStr, package, signType, timeStamp', () => {
    assert.equal(sign({
      appId: VECTOR.appId, timeStamp: VECTOR.timeStamp, nonceStr: VECTOR.nonceStr, package: `prepay_id=${VECTOR.prepayId}`, signType: 'MD5',
    }, VECTOR.apiKey, 'MD5'), VECTOR.paySign);
  });

  it('requestPaymentParams builds the same parameters and paySign', () => {
    const params = requestPaymentParams({
      appId: VECTOR.appId, prepayId: VECTOR.prepayId, apiKey: VECTOR.apiKey, signType: 'MD5',
      now: new Date(Number(VECTOR.timeStamp) * 1000), nonceStr: VECTOR.nonceStr,
    });
    assert.deepEqual(params, {
      timeStamp: VECTOR.timeStamp, nonceStr: VECTOR.nonceStr, package: `prepay_id=${VECTOR.prepayId}`, signType: 'MD5', paySign: VECTOR.paySign,
    });
  });

  it('another appid gives another paySign (a page of the other app cannot use it)', () => {
    const params = requestPaymentParams({
      appId: 'wx0000000000000002', prepayId: VECTOR.prepayId, apiKey: VECTOR.apiKey, signType: 'MD5',
      now: new Date(Number(VECTOR.timeStamp) * 1000), nonceStr: VECTOR.nonceStr,
    });
    assert.notEqual(params.paySign, VECTOR.paySign);
  });
});
