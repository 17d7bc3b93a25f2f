import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { isSignType, Params, sign, SIGN_TYPES, SignType, stringToSign, verifySign } from '../../../lib/wechatpay';

// Official example from /work/shared/wechatpay-v2.md section 1.
const VECTOR_PARAMS = {
  appid: 'wxd930ea5d5a258f4f',
  mch_id: '10000100',
  device_info: '1000',
  body: 'test',
  nonce_str: 'ibuaiVcKdpRxkhJA',
};
const VECTOR_KEY = '192006250b4c09247ec02edce69f6a2d';
const VECTOR_STRING = 'appid=wxd930ea5d5a258f4f&body=test&device_info=1000&mch_id=10000100&nonce_str=ibuaiVcKdpRxkhJA&key=192006250b4c09247ec02edce69f6a2d';
const VECTOR_MD5 = '9A0A8659F005D6984697E2CA0A9CF3B7';
const VECTOR_HMAC = '6A9AE1657590FD6257D693A078E1C3E4BB6BA4DC30B23E0EE2496E54170DACD6';

// Official mini-program paySign example (second vector).
const PAY_PARAMS = {
  appId: 'wxd678efh567hg6787',
  nonceStr: '5K8264ILTKCH16CQ2502SI8ZNMTM67VS',
  package: 'prepay_id=wx2017033010242291fcfe0db70013231072',
  signType: 'MD5',
  timeStamp: '1490840662',
};
const PAY_KEY = 'qazwsxedcrfvtgbyhnujmikolp111111';
const PAY_SIGN = '22D9B4E54AB1950F51E0649E8810ACD6';

const KEY = 'a'.repeat(32);

function md5Upper(text: string): string {
  return createHash('md5').update(Buffer.from(text, 'utf8')).digest('hex')
    .toUpperCase();
}

/** A notification as WeChat would send it: every field, then sign over all of them. */
function signedNotification(signType: SignType, extra: Record<string, string> = {}): Record<string, string> {
  const fields: Record<string, string> = {
    return_code: 'SUCCESS', appid: 'wx1234567890abcdef', mch_id: '1900000109', nonce_str: 'n0nce',
    result_code: 'SUCCESS', openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o', trade_type: 'JSAPI', bank_type: 'CMC',
    total_fee: '100', cash_fee: '100', transaction_id: '1004400740201409030005092168',
    out_trade_no: 'P20240101000000abcdef0123456789', time_end: '20240101120000', ...extra,
  };
  return { ...fields, sign: sign(fields, KEY, signType) };
}

describe('lib/wechatpay sign', () => {
  describe('official vectors', () => {
    it('builds the documented string to sign', () => {
      assert.equal(stringToSign(VECTOR_PARAMS, VECTOR_KEY), VECTOR_STRING);
    });

    it('reproduces the MD5 vector', () => {
      assert.equal(sign(VECTOR_PARAMS, VECTOR_KEY, 'MD5'), VECTOR_MD5);
    });

    it('reproduces the HMAC-SHA256 vector', () => {
      assert.equal(sign(VECTOR_PARAMS, VECTOR_KEY, 'HMAC-SHA256'), VECTOR_HMAC);
    });

    it('reproduces the mini-program paySign vector', () => {
      assert.equal(sign(PAY_PARAMS, PAY_KEY, 'MD5'), PAY_SIGN);
    });

    it('verifies both vectors when the sign is part of the map', () => {
      assert.equal(verifySign({ ...VECTOR_PARAMS, sign: VECTOR_MD5 }, VECTOR_KEY, 'MD5'), true);
      assert.equal(verifySign({ ...VECTOR_PARAMS, sign: VECTOR_HMAC }, VECTOR_KEY, 'HMAC-SHA256'), true);
      assert.equal(verifySign({ ...PAY_PARAMS, sign: PAY_SIGN }, PAY_KEY, 'MD5'), true);
    });

    it('agrees with an independent MD5 / HMAC computation over the string', () => {
      assert.equal(md5Upper(VECTOR_STRING), VECTOR_MD5);
      assert.equal(createHmac('sha256', VECTOR_KEY).update(VECTOR_STRING).digest('hex')
        .toUpperCase(), VECTOR_HMAC);
    });
  });

  describe('stringToSign', () => {
    it('leaves out empty, undefined and null values but keeps 0', () => {
      const params: Params = { a: '1', b: '', c: undefined, d: null, e: 0, f: 'x' };
      assert.equal(stringToSign(params, 'K'), 'a=1&e=0&f=x&key=K');
    });

    it('leaves out sign itself', () => {
      assert.equal(stringToSign({ ...VECTOR_PARAMS, sign: 'WHATEVER' }, VECTOR_KEY), VECTOR_STRING);
      assert.equal(sign({ ...VECTOR_PARAMS, sign: 'WHATEVER' }, VECTOR_KEY, 'MD5'), VECTOR_MD5);
    });

    it('signs sign_type like any other parameter', () => {
      const text = stringToSign({ ...VECTOR_PARAMS, sign_type: 'HMAC-SHA256' }, VECTOR_KEY);
      assert.equal(text, VECTOR_STRING.replace('&key=', '&sign_type=HMAC-SHA256&key='));
      assert.notEqual(sign({ ...VECTOR_PARAMS, sign_type: 'MD5' }, VECTOR_KEY, 'MD5'), VECTOR_MD5);
    });

    it('sorts names by ASCII code, case-sensitively', () => {
      const params = { b: '1', a: '2', B: '3', A: '4', _: '5', 1: '6', Z: '7', z: '8' };
      assert.equal(stringToSign(params, 'K'), '1=6&A=4&B=3&Z=7&_=5&a=2&b=1&z=8&key=K');
    });

    it('orders a prefix before its extensions (coupon_fee before coupon_fee_0)', () => {
      const text = stringToSign({ coupon_fee_0: '1', coupon_fee: '2', coupon_count: '1' }, 'K');
      assert.equal(text, 'coupon_count=1&coupon_fee=2&coupon_fee_0=1&key=K');
    });

    it('joins raw values, without URL encoding', () => {
      assert.equal(stringToSign({ body: 'a&b=c d+e%20' }, 'K'), 'body=a&b=c d+e%20&key=K');
    });

    it('does not depend on the insertion order of the map', () => {
      const reversed = Object.fromEntries(Object.entries(VECTOR_PARAMS).reverse());
      assert.equal(sign(reversed, VECTOR_KEY, 'MD5'), VECTOR_MD5);
    });
  });

  describe('sign', () => {
    it('signs unicode values as UTF-8 (MD5)', () => {
      const params = { body: '腾讯充值中心-QQ会员充值', attach: '深圳分店 😀' };
      const text = 'attach=深圳分店 😀&body=腾讯充值中心-QQ会员充值&key=K';
      assert.equal(stringToSign(params, 'K'), text);
      assert.equal(sign(params, 'K', 'MD5'), md5Upper(text));
    });

    it('signs unicode values as UTF-8 (HMAC-SHA256)', () => {
      const params = { body: '测试商品' };
      const expected = createHmac('sha256', 'K').update(Buffer.from('body=测试商品&key=K', 'utf8')).digest('hex')
        .toUpperCase();
      assert.equal(sign(params, 'K', 'HMAC-SHA256'), expected);
    });

    it('produces 32 / 64 upper-case hex characters', () => {
      assert.match(sign(VECTOR_PARAMS, KEY, 'MD5'), /^[0-9A-F]{32}$/);
      assert.match(sign(VECTOR_PARAMS, KEY, 'HMAC-SHA256'), /^[0-9A-F]{64}$/);
    });

    it('changes with the key', () => {
      assert.notEqual(sign(VECTOR_PARAMS, VECTOR_KEY, 'MD5'), sign(VECTOR_PARAMS, VECTOR_KEY.toUpperCase(), 'MD5'));
    });

    it('refuses an unsupported sign type', () => {
      assert.throws(() => sign(VECTOR_PARAMS, KEY, 'SHA1' as SignType), /unsupported sign type/);
      assert.throws(() => sign(VECTOR_PARAMS, KEY, 'md5' as SignType), /unsupported sign type/);
    });

    it('knows exactly the two sign types', () => {
      assert.deepEqual([ ...SIGN_TYPES ], [ 'MD5', 'HMAC-SHA256' ]);
      assert.equal(isSignType('MD5'), true);
      assert.equal(isSignType('HMAC-SHA256'), true);
      for (const bad of [ 'md5', 'hmac-sha256', 'SHA256', '', undefined, null, 5, {}]) assert.equal(isSignType(bad), false);
    });
  });

  describe('verifySign', () => {
    for (const signType of SIGN_TYPES) {
      it(`accepts a genuine ${signType} notification`, () => {
        assert.equal(verifySign(signedNotification(signType), KEY, signType), true);
      });
    }

    it('includes unknown extra fields (coupons) in verification', () => {
      const withCoupon = signedNotification('MD5', { coupon_count: '1', coupon_fee: '10', coupon_fee_0: '10', coupon_id_0: '10000' });
      assert.equal(verifySign(withCoupon, KEY, 'MD5'), true);
      // Dropping the unknown fields (as a whitelist-based verifier would) breaks the signature...
      const { coupon_count, coupon_fee, coupon_fee_0, coupon_id_0, ...stripped } = withCoupon;
      void coupon_count; void coupon_fee; void coupon_fee_0; void coupon_id_0;
      assert.equal(verifySign(stripped, KEY, 'MD5'), false);
      // ...and so does adding one after signing.
      assert.equal(verifySign({ ...signedNotification('MD5'), coupon_fee: '10' }, KEY, 'MD5'), false);
    });

    it('ignores a present but empty field, as the signer did', () => {
      const n = signedNotification('HMAC-SHA256');
      assert.equal(verifySign({ ...n, attach: '' }, KEY, 'HMAC-SHA256'), true);
    });

    it('refuses a tampered value', () => {
      const n = signedNotification('MD5');
      assert.equal(verifySign({ ...n, total_fee: '1' }, KEY, 'MD5'), false);
      assert.equal(verifySign({ ...n, out_trade_no: n.out_trade_no + ' ' }, KEY, 'MD5'), false);
      assert.equal(verifySign({ ...n, result_code: 'FAIL' }, KEY, 'MD5'), false);
    });

    it('refuses a tampered sign_type field', () => {
      const n = signedNotification('MD5', { sign_type: 'MD5' });
      assert.equal(verifySign(n, KEY, 'MD5'), true);
      assert.equal(verifySign({ ...n, sign_type: 'HMAC-SHA256' }, KEY, 'MD5'), false);
    });

    it('refuses a missing, empty or non-string sign', () => {
      const { sign: _s, ...unsigned } = signedNotification('MD5');
      void _s;
      assert.equal(verifySign(unsigned, KEY, 'MD5'), false);
      assert.equal(verifySign({ ...unsigned, sign: '' }, KEY, 'MD5'), false);
      assert.equal(verifySign({ ...unsigned, sign: null }, KEY, 'MD5'), false);
      assert.equal(verifySign({ ...unsigned, sign: 12345 }, KEY, 'MD5'), false);
    });

    it('refuses the wrong key', () => {
      const n = signedNotification('HMAC-SHA256');
      assert.equal(verifySign(n, 'b'.repeat(32), 'HMAC-SHA256'), false);
      assert.equal(verifySign(n, KEY.toUpperCase(), 'HMAC-SHA256'), false);
      assert.equal(verifySign(n, '', 'HMAC-SHA256'), false);
    });

    it('refuses the wrong sign type, both ways', () => {
      assert.equal(verifySign(signedNotification('MD5'), KEY, 'HMAC-SHA256'), false);
      assert.equal(verifySign(signedNotification('HMAC-SHA256'), KEY, 'MD5'), false);
    });

    it('answers false, not an exception, for an unsupported sign type', () => {
      const n = signedNotification('MD5');
      for (const bad of [ 'SHA1', 'md5', '', undefined ]) {
        assert.equal(verifySign(n, KEY, bad as SignType), false);
      }
    });

    it('accepts a lower-case sign', () => {
      for (const signType of SIGN_TYPES) {
        const n = signedNotification(signType);
        assert.equal(verifySign({ ...n, sign: n.sign.toLowerCase() }, KEY, signType), true);
      }
      assert.equal(verifySign({ ...VECTOR_PARAMS, sign: VECTOR_MD5.toLowerCase() }, VECTOR_KEY, 'MD5'), true);
    });

    it('answers false without throwing for a sign of another length', () => {
      const n = signedNotification('MD5');
      const variants = [
        n.sign.slice(0, 31), n.sign + '0', n.sign + n.sign, 'A', ' ' + n.sign, n.sign + '\n',
        // Characters whose upper case is longer or multi-byte: ß -> SS, ŉ -> ʼN.
        n.sign.slice(0, 30) + 'ß', n.sign.slice(0, 31) + 'ŉ', '测'.repeat(32), '\u0000'.repeat(32),
        sign(n, KEY, 'HMAC-SHA256'),
      ];
      for (const bad of variants) {
        assert.doesNotThrow(() => verifySign({ ...n, sign: bad }, KEY, 'MD5'));
        assert.equal(verifySign({ ...n, sign: bad }, KEY, 'MD5'), false, JSON.stringify(bad));
      }
    });

    it('refuses a same-length sign that differs in one character', () => {
      const n = signedNotification('HMAC-SHA256');
      const last = n.sign[n.sign.length - 1];
      const flipped = n.sign.slice(0, -1) + (last === '0' ? '1' : '0');
      assert.equal(verifySign({ ...n, sign: flipped }, KEY, 'HMAC-SHA256'), false);
    });

    it('does not modify the map it verifies', () => {
      const n = signedNotification('MD5');
      const copy = { ...n };
      verifySign(n, KEY, 'MD5');
      assert.deepEqual(n, copy);
    });
  });
});
