import assert from 'node:assert/strict';
import { backoffMs, nextAttemptAfter, outboxTypeOf } from '../../../app/domain/outboxRules';

describe('domain/outboxRules', () => {
  const policy = { backoffBaseMs: 30_000, backoffMaxMs: 6 * 3600_000, maxAttempts: 20 };

  it('back-off doubles from the base after each failed attempt, up to the cap', () => {
    assert.deepEqual([ 1, 2, 3, 4, 10, 11, 19 ].map(n => backoffMs(n, policy)), [
      30_000, 60_000, 120_000, 240_000, 15_360_000, 21_600_000, 21_600_000,
    ]);
  });

  it('gives up after maxAttempts; the default policy retries for about three days', () => {
    const now = new Date(0);
    assert.equal(nextAttemptAfter(19, now, policy)!.getTime(), 21_600_000);
    assert.equal(nextAttemptAfter(20, now, policy), null);
    const total = Array.from({ length: 19 }, (_, i) => backoffMs(i + 1, policy)).reduce((a, b) => a + b, 0);
    assert.ok(total > 2.5 * 86400_000 && total < 3.5 * 86400_000, `${total / 86400_000} days`);
  });

  it('maps the order events a merchant acts on, and no internal one', () => {
    assert.equal(outboxTypeOf('PAID', {}), 'order.paid');
    assert.equal(outboxTypeOf('PAID_AFTER_CLOSE', {}), 'order.paid_after_close');
    assert.equal(outboxTypeOf('DOUBLE_PAYMENT', {}), 'order.paid_twice');
    assert.equal(outboxTypeOf('CLOSED', { expired: false }), 'order.closed');
    assert.equal(outboxTypeOf('CLOSED', { expired: true }), 'order.expired');
    assert.equal(outboxTypeOf('REFUNDED', {}), 'refund.succeeded');
    assert.equal(outboxTypeOf('REFUND_CLOSED', {}), 'refund.failed');
    assert.equal(outboxTypeOf('REFUND_FAILED', {}), 'refund.failed');
    assert.equal(outboxTypeOf('REFUND_CHANGE', {}), 'refund.needs_attention');
    assert.equal(outboxTypeOf('REFUND_REQUESTED', {}), null);
  });
});
