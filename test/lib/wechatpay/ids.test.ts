import assert from 'node:assert/strict';
import { merchantNumber, nonceStr, OUT_REFUND_NO_PATTERN, OUT_TRADE_NO_PATTERN } from '../../../lib/wechatpay';

describe('lib/wechatpay ids', () => {
  describe('nonceStr', () => {
    it('is 32 letters and digits by default', () => {
      const n = nonceStr();
      assert.equal(n.length, 32);
      assert.match(n, /^[A-Za-z0-9]{32}$/);
    });

    it('honours a custom length', () => {
      assert.equal(nonceStr(16).length, 16);
      assert.equal(nonceStr(1).length, 1);
      assert.equal(nonceStr(0), '');
    });

    it('is unique over 10,000 draws', () => {
      const seen = new Set<string>();
      for (let i = 0; i < 10000; i++) seen.add(nonceStr());
      assert.equal(seen.size, 10000);
    });

    it('uses the whole alphabet and nothing else', () => {
      const counts = new Map<string, number>();
      for (let i = 0; i < 2000; i++) for (const c of nonceStr()) counts.set(c, (counts.get(c) ?? 0) + 1);
      assert.equal(counts.size, 62);
      for (const c of counts.keys()) assert.match(c, /^[A-Za-z0-9]$/);
      // 64,000 characters over 62 symbols: about 1032 each; a biased source would stand out.
      for (const [ c, n ] of counts) assert.ok(n > 800 && n < 1300, `${c} drawn ${n} times`);
    });
  });

  describe('merchantNumber', () => {
    it('is at most 32 characters and a valid out_trade_no / out_refund_no', () => {
      for (const prefix of [ '', 'P', 'RF', 'r9' ]) {
        const n = merchantNumber(prefix);
        assert.ok(n.length <= 32, n);
        assert.equal(n.length, prefix.length + 30);
        assert.match(n, OUT_TRADE_NO_PATTERN);
        assert.match(n, OUT_REFUND_NO_PATTERN);
        assert.ok(n.startsWith(prefix));
      }
    });

    it('is prefix, UTC timestamp to the second, then 16 hex digits', () => {
      const before = Math.floor(Date.now() / 1000) * 1000;
      const n = merchantNumber('P');
      const after = Date.now();
      const m = /^P(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})([0-9a-f]{16})$/.exec(n);
      assert.ok(m, n);
      const stamp = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]);
      assert.ok(stamp >= before && stamp <= after, `${n} is not now`);
    });

    it('is unique over 10,000 numbers made in the same second(s)', () => {
      const seen = new Set<string>();
      for (let i = 0; i < 10000; i++) seen.add(merchantNumber('P'));
      assert.equal(seen.size, 10000);
    });

    it('refuses a prefix longer than 2 characters', () => {
      assert.throws(() => merchantNumber('ABC'), /prefix/);
      assert.throws(() => merchantNumber('PAY'), /prefix/);
    });

    it('refuses a prefix that is not letters or digits', () => {
      for (const bad of [ '_', '-', '|', '*', '@', 'a b', ' ', '中', 'é', '\n', 'P\n' ]) {
        assert.throws(() => merchantNumber(bad), /prefix/, JSON.stringify(bad));
      }
    });
  });

  describe('patterns', () => {
    it('OUT_TRADE_NO_PATTERN accepts letters, digits and _-|* up to 32', () => {
      for (const ok of [ 'a', 'A_b-c|d*e', '0'.repeat(32), 'P20240101000000abcdef0123456789' ]) assert.match(ok, OUT_TRADE_NO_PATTERN);
    });

    it('OUT_TRADE_NO_PATTERN refuses empty, too long and other characters', () => {
      for (const bad of [ '', '0'.repeat(33), 'a@b', 'a b', 'a.b', 'a/b', '订单1', 'a\n', 'a+b', 'a=b' ]) {
        assert.doesNotMatch(bad, OUT_TRADE_NO_PATTERN, JSON.stringify(bad));
      }
    });

    it('OUT_REFUND_NO_PATTERN accepts @ and up to 64 characters', () => {
      for (const ok of [ 'r@1', 'A_b-c|d*e@f', '0'.repeat(64) ]) assert.match(ok, OUT_REFUND_NO_PATTERN);
    });

    it('OUT_REFUND_NO_PATTERN refuses empty, too long and other characters', () => {
      for (const bad of [ '', '0'.repeat(65), 'a b', 'a.b', 'a#b', '退款', 'a\n' ]) {
        assert.doesNotMatch(bad, OUT_REFUND_NO_PATTERN, JSON.stringify(bad));
      }
    });
  });
});
