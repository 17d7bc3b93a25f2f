import assert from 'node:assert/strict';
import { appPayParams, h5SceneInfo, missingTradeTypeField, mwebUrlWithRedirect, TRADE_TYPE_SPECS } from '../../../lib/wechatpay';

describe('lib/wechatpay tradeType', () => {
  describe('appPayParams (the WeChat app SDK\'s PayReq)', () => {
    // The channels reference's vector, computed from the official doc's sample values (no official vector exists).
    const SAMPLE = {
      appId: 'wx8888888888888888', mchId: '1900000109', prepayId: 'WX1217752501201407033233368018',
      nonceStr: '5K8264ILTKCH16CQ2502SI8ZNMTM67VS', now: new Date(1412000000 * 1000), apiKey: '192006250b4c09247ec02edce69f6a2d',
    };

    it('MD5: the documented vector FCA247F599C9DA7DC7D634CD2E493E17, lower-case keys, package Sign=WXPay, 10-digit timestamp', () => {
      assert.deepEqual(appPayParams({ ...SAMPLE, signType: 'MD5' }), {
        appid: 'wx8888888888888888', partnerid: '1900000109', prepayid: 'WX1217752501201407033233368018', package: 'Sign=WXPay',
        noncestr: '5K8264ILTKCH16CQ2502SI8ZNMTM67VS', timestamp: '1412000000', sign: 'FCA247F599C9DA7DC7D634CD2E493E17',
      });
    });

    it('HMAC-SHA256: the documented vector', () => {
      assert.equal(appPayParams({ ...SAMPLE, signType: 'HMAC-SHA256' }).sign, '67614ABC5F1A094AC2EB61DB2B98D6291991EE70284D321EA0B51ACCA7C325D0');
    });

    it('a different key or appid gives another sign', () => {
      const base = appPayParams({ ...SAMPLE, signType: 'MD5' }).sign;
      assert.notEqual(appPayParams({ ...SAMPLE, signType: 'MD5', apiKey: 'x'.repeat(32) }).sign, base);
      assert.notEqual(appPayParams({ ...SAMPLE, signType: 'MD5', appId: 'wx0000000000000003' }).sign, base);
    });
  });

  it('each trade type\'s required field and reply field', () => {
    assert.deepEqual(Object.fromEntries(Object.entries(TRADE_TYPE_SPECS).map(([ t, s ]) => [ t, [ s.required, s.replyField, s.replyTtlMs / 60000 ]])), {
      JSAPI: [[ 'openid' ], 'prepay_id', 120 ], NATIVE: [[ 'product_id' ], 'code_url', 120 ], MWEB: [[ 'scene_info' ], 'mweb_url', 5 ], APP: [[], 'prepay_id', 120 ],
    });
    assert.equal(missingTradeTypeField('NATIVE', { product_id: '' }), 'product_id');
    assert.equal(missingTradeTypeField('NATIVE', { product_id: '1' }), undefined);
    assert.equal(missingTradeTypeField('APP', {}), undefined);
  });

  it('h5SceneInfo and mwebUrlWithRedirect', () => {
    assert.equal(h5SceneInfo({ wapUrl: 'https://shop.example.com', wapName: '小店' }),
      '{"h5_info":{"type":"Wap","wap_url":"https://shop.example.com","wap_name":"小店"}}');
    assert.equal(mwebUrlWithRedirect('https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=wx1&package=2', 'https://shop.example.com/back?o=1&x=2'),
      'https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=wx1&package=2&redirect_url=https%3A%2F%2Fshop.example.com%2Fback%3Fo%3D1%26x%3D2');
  });
});
