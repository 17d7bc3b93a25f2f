import assert from 'node:assert/strict';
import { beijingDay, fromBeijing, toBeijingCompact } from '../../../lib/wechatpay';

describe('lib/wechatpay time', () => {
  describe('toBeijingCompact', () => {
    it('writes yyyyMMddHHmmss at UTC+8', () => {
      assert.equal(toBeijingCompact(new Date('2024-01-01T00:00:00Z')), '20240101080000');
      assert.equal(toBeijingCompact(new Date('2014-09-03T05:15:40Z')), '20140903131540');
    });

    it('crosses the day, month and year boundary at 16:00 UTC', () => {
      assert.equal(toBeijingCompact(new Date('2023-12-31T15:59:59Z')), '20231231235959');
      assert.equal(toBeijingCompact(new Date('2023-12-31T16:00:00Z')), '20240101000000');
      assert.equal(toBeijingCompact(new Date('2024-02-28T16:00:00Z')), '20240229000000');
    });

    it('drops milliseconds', () => {
      assert.equal(toBeijingCompact(new Date('2024-06-01T12:34:56.999Z')), '20240601203456');
    });

    it('refuses an invalid Date instead of writing "NaN"', () => {
      assert.throws(() => toBeijingCompact(new Date('not a date')), RangeError);
      assert.throws(() => toBeijingCompact(new Date(NaN)), RangeError);
    });
  });

  describe('fromBeijing', () => {
    it('reads yyyyMMddHHmmss as UTC+8', () => {
      assert.equal(fromBeijing('20240101080000')?.toISOString(), '2024-01-01T00:00:00.000Z');
      assert.equal(fromBeijing('20240101000000')?.toISOString(), '2023-12-31T16:00:00.000Z');
    });

    it('reads yyyy-MM-dd HH:mm:ss as UTC+8 (refund success_time)', () => {
      assert.equal(fromBeijing('2024-01-01 08:00:00')?.toISOString(), '2024-01-01T00:00:00.000Z');
      assert.equal(fromBeijing('2017-12-15 09:46:01')?.toISOString(), '2017-12-15T01:46:01.000Z');
    });

    it('round-trips with toBeijingCompact', () => {
      let t = Date.UTC(2000, 0, 1);
      for (let i = 0; i < 500; i++) {
        t += 86_400_000 * 17 + 3_600_000 * 7 + 61_000 + 13; // irregular steps, whole seconds + ms
        const date = new Date(t);
        const back = fromBeijing(toBeijingCompact(date));
        assert.equal(back?.getTime(), Math.floor(t / 1000) * 1000);
      }
    });

    it('accepts the two formats for the same instant', () => {
      assert.equal(fromBeijing('20240229235959')?.getTime(), fromBeijing('2024-02-29 23:59:59')?.getTime());
    });

    it('accepts Feb 29 of a leap year only', () => {
      assert.ok(fromBeijing('20240229120000'));
      assert.equal(fromBeijing('20230229120000'), undefined);
      assert.ok(fromBeijing('20000229120000'));
      assert.equal(fromBeijing('19000229120000'), undefined);
    });

    it('refuses impossible dates and times', () => {
      for (const bad of [
        '20241301000000', '20240001000000', '20240230000000', '20240431000000', '20240100000000', '20240132000000',
        '20240101240000', '20240101006000', '20240101000060', '2024-13-01 00:00:00', '2024-02-30 00:00:00',
        '00000101000000', '00500101000000',
      ]) {
        assert.equal(fromBeijing(bad), undefined, bad);
      }
    });

    it('refuses malformed text', () => {
      for (const bad of [
        undefined, '', ' ', 'abc', '2024010100000', '202401010000000', '2024-01-01', '2024-01-01T08:00:00',
        '2024-01-01T08:00:00Z', '2024-0101 08:0000', '20240101 080000', '2024/01/01 08:00:00', '2024-01-01 08:00:00+08:00',
        '２０２４０１０１０８００００', '20240101080000x', '-20240101080000', '2024-1-1 8:00:00',
      ]) {
        assert.equal(fromBeijing(bad), undefined, JSON.stringify(bad));
      }
    });

    it('tolerates surrounding whitespace', () => {
      assert.equal(fromBeijing(' 20240101080000\n')?.toISOString(), '2024-01-01T00:00:00.000Z');
    });
  });

  describe('beijingDay', () => {
    it('names the Beijing calendar day', () => {
      assert.equal(beijingDay(new Date('2024-01-01T15:59:59Z')), '20240101');
      assert.equal(beijingDay(new Date('2024-01-01T16:00:00Z')), '20240102');
      assert.equal(beijingDay(new Date('2023-12-31T16:00:00Z')), '20240101');
    });

    it('refuses an invalid Date', () => {
      assert.throws(() => beijingDay(new Date('x')), RangeError);
    });
  });
});
