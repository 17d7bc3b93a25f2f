import assert from 'node:assert/strict';
import { createCipheriv, createDecipheriv, createHash } from 'node:crypto';
import { decryptRefundInfo, encryptRefundInfo, parseXml, WechatSignatureError } from '../../../lib/wechatpay';

const API_KEY = '192006250b4c09247ec02edce69f6a2d';
const PLAIN = '<root>\n<out_refund_no><![CDATA[R20240101000000abcdef0123456789]]></out_refund_no>\n' +
  '<out_trade_no><![CDATA[P20240101000000abcdef0123456789]]></out_trade_no>\n<refund_account><![CDATA[REFUND_SOURCE_RECHARGE_FUNDS]]></refund_account>\n' +
  '<refund_fee><![CDATA[100]]></refund_fee>\n<refund_id><![CDATA[50000408942018111907145868882]]></refund_id>\n' +
  '<refund_recv_accout><![CDATA[支付用户零钱]]></refund_recv_accout>\n<refund_request_source><![CDATA[API]]></refund_request_source>\n' +
  '<refund_status><![CDATA[SUCCESS]]></refund_status>\n<settlement_refund_fee><![CDATA[100]]></settlement_refund_fee>\n' +
  '<settlement_total_fee><![CDATA[100]]></settlement_total_fee>\n<success_time><![CDATA[2024-01-01 12:00:05]]></success_time>\n' +
  '<total_fee><![CDATA[100]]></total_fee>\n<transaction_id><![CDATA[4200000252201811190000000000]]></transaction_id>\n</root>';

/** The scheme written out independently: AES-256-ECB, PKCS#7, key = the 32 characters of md5(apiKey) in lower-case hex. */
function independentEncrypt(plain: string, apiKey: string): string {
  const key = Buffer.from(createHash('md5').update(apiKey).digest('hex')
    .toLowerCase(), 'ascii');
  assert.equal(key.length, 32);
  const cipher = createCipheriv('aes-256-ecb', key, null);
  return Buffer.concat([ cipher.update(Buffer.from(plain, 'utf8')), cipher.final() ]).toString('base64');
}

function assertForged(reqInfo: string, apiKey = API_KEY): void {
  assert.throws(() => decryptRefundInfo(reqInfo, apiKey), (err: unknown) => {
    assert.ok(err instanceof WechatSignatureError, `expected WechatSignatureError, got ${String(err)}`);
    if (apiKey) assert.ok(!err.message.includes(apiKey), 'the error must not carry the key');
    return true;
  });
}

function tamper(reqInfo: string, mutate: (bytes: Buffer) => Buffer | void): string {
  const bytes = Buffer.from(reqInfo, 'base64');
  return (mutate(bytes) ?? bytes).toString('base64');
}

describe('lib/wechatpay refundCrypto', () => {
  it('round-trips a refund notification', () => {
    const reqInfo = encryptRefundInfo(PLAIN, API_KEY);
    assert.equal(decryptRefundInfo(reqInfo, API_KEY), PLAIN);
    const info = parseXml(decryptRefundInfo(reqInfo, API_KEY), { root: 'root' });
    assert.equal(info.refund_status, 'SUCCESS');
    assert.equal(info.refund_recv_accout, '支付用户零钱');
  });

  it('decrypts a vector computed independently with node:crypto', () => {
    assert.equal(decryptRefundInfo(independentEncrypt(PLAIN, API_KEY), API_KEY), PLAIN);
  });

  it('encrypts exactly as the independent computation (ECB is deterministic)', () => {
    assert.equal(encryptRefundInfo(PLAIN, API_KEY), independentEncrypt(PLAIN, API_KEY));
    assert.equal(encryptRefundInfo('<root></root>', 'k'), independentEncrypt('<root></root>', 'k'));
  });

  it('matches a fixed known-answer ciphertext', () => {
    // One 16-byte block of plain text plus a full block of padding.
    const fixed = independentEncrypt('<root>abcdefghi<', API_KEY);
    assert.equal(Buffer.from(fixed, 'base64').length, 32);
    const key = Buffer.from(createHash('md5').update(API_KEY).digest('hex'), 'ascii');
    const decipher = createDecipheriv('aes-256-ecb', key, null);
    assert.equal(Buffer.concat([ decipher.update(Buffer.from(fixed, 'base64')), decipher.final() ]).toString(), '<root>abcdefghi<');
    assert.equal(encryptRefundInfo('<root>abcdefghi<', API_KEY), fixed);
    assert.equal(decryptRefundInfo(fixed, API_KEY), '<root>abcdefghi<');
  });

  it('accepts base64 wrapped over several lines', () => {
    const reqInfo = encryptRefundInfo(PLAIN, API_KEY).replace(/(.{76})/g, '$1\r\n');
    assert.ok(reqInfo.includes('\n'));
    assert.equal(decryptRefundInfo(reqInfo, API_KEY), PLAIN);
  });

  it('round-trips an empty plain text (one block of padding)', () => {
    const reqInfo = encryptRefundInfo('', API_KEY);
    assert.equal(Buffer.from(reqInfo, 'base64').length, 16);
    assert.equal(decryptRefundInfo(reqInfo, API_KEY), '');
  });

  it('refuses the wrong key', () => {
    assertForged(encryptRefundInfo(PLAIN, API_KEY), 'x'.repeat(32));
    assertForged(encryptRefundInfo(PLAIN, API_KEY), API_KEY.toUpperCase());
    assertForged(encryptRefundInfo(PLAIN, API_KEY), '');
  });

  it('refuses every one of 3000 wrong keys (padding alone lets about 1 in 250 through)', () => {
    const reqInfo = encryptRefundInfo(PLAIN, API_KEY);
    for (let i = 0; i < 3000; i++) assertForged(reqInfo, `wrong-key-${i}`);
  });

  it('refuses a payload encrypted with the raw MD5 bytes or the upper-case hex as key', () => {
    const digest = createHash('md5').update(API_KEY).digest();
    const aes128 = createCipheriv('aes-128-ecb', digest, null);
    assertForged(Buffer.concat([ aes128.update(PLAIN), aes128.final() ]).toString('base64'));
    const upper = createCipheriv('aes-256-ecb', Buffer.from(digest.toString('hex').toUpperCase()), null);
    assertForged(Buffer.concat([ upper.update(PLAIN), upper.final() ]).toString('base64'));
  });

  it('refuses a tampered last block', () => {
    const reqInfo = encryptRefundInfo(PLAIN, API_KEY);
    assertForged(tamper(reqInfo, b => { b[b.length - 1] ^= 0x01; }));
    assertForged(tamper(reqInfo, b => { b[b.length - 16] ^= 0x80; }));
  });

  it('refuses a tampered block in the middle (ECB padding does not notice it)', () => {
    const reqInfo = encryptRefundInfo(PLAIN, API_KEY);
    for (const at of [ 0, 5, 16, 47, 100 ]) assertForged(tamper(reqInfo, b => { b[at] ^= 0x04; }));
  });

  it('refuses a payload with the last block dropped', () => {
    assertForged(tamper(encryptRefundInfo(PLAIN, API_KEY), b => b.subarray(0, b.length - 16)));
  });

  it('refuses a length that is not a whole number of blocks', () => {
    const reqInfo = encryptRefundInfo(PLAIN, API_KEY);
    assertForged(tamper(reqInfo, b => b.subarray(0, b.length - 1)));
    assertForged(tamper(reqInfo, b => Buffer.concat([ b, Buffer.from([ 0 ]) ])));
    assertForged(Buffer.alloc(15).toString('base64'));
  });

  it('refuses bad base64 and empty input', () => {
    for (const bad of [ '', '   ', '!!!!', 'abc$def=', '测试', 'a-b_c', '<xml></xml>', 'QUJD\u0000' ]) assertForged(bad);
  });

  it('documents the limit of ECB: whole blocks can be reordered undetected', () => {
    // Not a test of a defence but of its absence: callers must cross-check decrypted refunds
    // against their own records (amounts, numbers) and the refund query.
    const plain = '<root>' + 'A'.repeat(10) + 'B'.repeat(16) + 'C'.repeat(16) + '</root>';
    const reqInfo = encryptRefundInfo(plain, API_KEY);
    const swapped = tamper(reqInfo, b => Buffer.concat([ b.subarray(0, 16), b.subarray(32, 48), b.subarray(16, 32), b.subarray(48) ]));
    assert.equal(decryptRefundInfo(swapped, API_KEY), '<root>' + 'A'.repeat(10) + 'C'.repeat(16) + 'B'.repeat(16) + '</root>');
  });
});
