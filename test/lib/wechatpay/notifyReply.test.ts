import assert from 'node:assert/strict';
import {
  notifyReply, parseXml, WechatApiError, WechatError, WechatLoginError, WechatSignatureError, WechatTransportError, WechatXmlError,
} from '../../../lib/wechatpay';

describe('lib/wechatpay notifyReply', () => {
  it('answers SUCCESS exactly as WeChat expects', () => {
    assert.equal(notifyReply(true),
      '<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>');
  });

  it('answers FAIL exactly', () => {
    assert.equal(notifyReply(false),
      '<xml><return_code><![CDATA[FAIL]]></return_code><return_msg><![CDATA[FAIL]]></return_msg></xml>');
  });

  it('carries a custom message', () => {
    assert.equal(notifyReply(false, 'signature does not verify'),
      '<xml><return_code><![CDATA[FAIL]]></return_code><return_msg><![CDATA[signature does not verify]]></return_msg></xml>');
    assert.deepEqual(parseXml(notifyReply(false, '签名失败 <&>')), { return_code: 'FAIL', return_msg: '签名失败 <&>' });
  });

  it('parses back with our own parser', () => {
    assert.deepEqual(parseXml(notifyReply(true)), { return_code: 'SUCCESS', return_msg: 'OK' });
    assert.deepEqual(parseXml(notifyReply(false, 'try again')), { return_code: 'FAIL', return_msg: 'try again' });
  });

  it('cannot be broken out of its CDATA by "]]>" in the message', () => {
    for (const message of [ ']]>', 'a]]>b', ']]]]>>', ']]]]]]>>>', ']]></return_msg><return_code>SUCCESS</return_code><x><![CDATA[' ]) {
      const xml = notifyReply(false, message);
      const parsed = parseXml(xml);
      assert.deepEqual(Object.keys(parsed).sort(), [ 'return_code', 'return_msg' ], xml);
      assert.equal(parsed.return_code, 'FAIL');
      assert.equal(parsed.return_msg, message);
    }
  });

  it('always answers, with U+FFFD for a character XML cannot carry', () => {
    const xml = notifyReply(false, 'bad\u0001byte\uFFFE\uD800');
    assert.equal(xml, '<xml><return_code><![CDATA[FAIL]]></return_code><return_msg><![CDATA[bad\uFFFDbyte\uFFFD\uFFFD]]></return_msg></xml>');
    assert.deepEqual(parseXml(xml), { return_code: 'FAIL', return_msg: 'bad\uFFFDbyte\uFFFD\uFFFD' });
  });

  it('an injected return_code never reads as SUCCESS', () => {
    const xml = notifyReply(false, ']]]]>><![CDATA[</return_msg></xml>');
    assert.equal(parseXml(xml).return_code, 'FAIL');
  });
});

describe('lib/wechatpay errors', () => {
  it('every error is a WechatError and an Error, named after its class', () => {
    const errors: WechatError[] = [
      new WechatXmlError('x'), new WechatSignatureError('s'), new WechatTransportError('t', 'timeout'),
      new WechatApiError('result', 'ORDERPAID', '订单已支付'), new WechatLoginError(40029, 'invalid code'),
    ];
    for (const err of errors) {
      assert.ok(err instanceof Error);
      assert.ok(err instanceof WechatError);
      assert.equal(err.name, err.constructor.name);
      assert.ok(err.stack);
    }
    assert.ok(!(new WechatXmlError('x') instanceof WechatSignatureError));
  });

  it('WechatTransportError carries its reason', () => {
    for (const reason of [ 'timeout', 'network', 'http_status' ] as const) {
      assert.equal(new WechatTransportError('m', reason).reason, reason);
    }
  });

  it('WechatApiError carries the codes and the reply', () => {
    const reply = { return_code: 'SUCCESS', result_code: 'FAIL', err_code: 'OUT_TRADE_NO_USED' };
    const err = new WechatApiError('result', 'OUT_TRADE_NO_USED', '商户订单号重复', reply);
    assert.equal(err.kind, 'result');
    assert.equal(err.errCode, 'OUT_TRADE_NO_USED');
    assert.equal(err.errCodeDes, '商户订单号重复');
    assert.equal(err.reply, reply);
    assert.equal(err.message, 'WeChat result_code=FAIL OUT_TRADE_NO_USED: 商户订单号重复');
    assert.deepEqual(new WechatApiError('return', 'FAIL', 'x').reply, {});
  });

  it('WechatLoginError carries errcode and errmsg', () => {
    const err = new WechatLoginError(40163, 'code been used');
    assert.equal(err.errcode, 40163);
    assert.equal(err.errmsg, 'code been used');
    assert.equal(err.message, 'code2Session errcode 40163: code been used');
  });
});
