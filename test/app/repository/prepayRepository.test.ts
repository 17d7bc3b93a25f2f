import assert from 'node:assert/strict';
import { app } from 'egg-mock/bootstrap';
import { PrepayRepository } from '../../../app/repository/prepayRepository';
import { createOrder, login, resetWorld } from '../../support/fixtures';
import { waitForStatement } from '../../support/processList';

/** The order and its current attempt, as stored. */
async function rows(outTradeNo: string) {
  const order = (await app.model.Order.findOne({ where: { outTradeNo } }))!;
  const attempt = (await app.model.PaymentAttempt.findByPk(order.currentAttemptId!))!;
  return { order, attempt };
}

/** The connection pool's counts, to tell a store stuck waiting for a connection from one waiting for the lock. */
function poolState() {
  const pool = (app.model as any).connectionManager.pool;
  const write = pool?.write ?? pool;
  return { size: write?.size, available: write?.available, using: write?.using, waiting: write?.waiting, max: write?.maxSize };
}

describe('PrepayRepository', () => {
  let outTradeNo: string;
  beforeEach(async () => {
    await resetWorld();
    const { token } = await login();
    outTradeNo = (await createOrder(token).expect(200)).body.outTradeNo;
  });

  it('links a new order to its first attempt (current_attempt_id), the link the order reply is signed for', async () => {
    const { order, attempt } = await rows(outTradeNo);
    assert.equal(attempt.orderId, order.id);
    assert.equal(attempt.outTradeNo, outTradeNo);
    assert.equal(attempt.status, 'PREPAID');
  });

  it('stores a prepay_id on an open attempt, clearing an earlier error, and answers the order status read under the lock', async () => {
    const { order, attempt } = await rows(outTradeNo);
    await attempt.update({ status: 'CREATED', prepayId: null, errCode: 'SYSTEMERROR', errCodeDes: 'busy' });
    const expires = new Date(Date.now() + 3600_000);
    const stored = await new PrepayRepository(app.model).storePrepay(order.id, attempt.id, { prepayId: 'wx_prepay_new', prepayExpiresAt: expires, payUrl: null });
    assert.deepEqual(stored, { open: true, orderStatus: 'NOTPAY' });
    await attempt.reload();
    assert.equal(attempt.status, 'PREPAID');
    assert.equal(attempt.prepayId, 'wx_prepay_new');
    assert.equal(attempt.prepayExpiresAt!.getTime(), expires.getTime());
    assert.equal(attempt.errCode, null);
    assert.equal(attempt.errCodeDes, null);
  });

  it('stores nothing on an attempt no longer open (closed or paid meanwhile), and says why', async () => {
    const { order, attempt } = await rows(outTradeNo);
    const before = attempt.prepayId;
    for (const [ attemptStatus, orderStatus ] of [[ 'CLOSED', 'CLOSED' ], [ 'PAID', 'SUCCESS' ], [ 'FAILED', 'NOTPAY' ]] as const) {
      await attempt.update({ status: attemptStatus });
      await order.update({ status: orderStatus });
      const stored = await new PrepayRepository(app.model).storePrepay(order.id, attempt.id, { prepayId: 'wx_prepay_late', prepayExpiresAt: new Date(Date.now() + 3600_000), payUrl: null });
      assert.deepEqual(stored, { open: false, orderStatus }, attemptStatus);
      await attempt.reload();
      assert.equal(attempt.prepayId, before, attemptStatus);
      assert.equal(attempt.status, attemptStatus);
    }
  });

  it('answers null for an order or attempt that does not exist', async () => {
    const { order, attempt } = await rows(outTradeNo);
    const repository = new PrepayRepository(app.model);
    assert.equal(await repository.storePrepay(order.id + 1000, attempt.id, { prepayId: 'wx_x', prepayExpiresAt: new Date(), payUrl: null }), null);
    assert.equal(await repository.storePrepay(order.id, attempt.id + 1000, { prepayId: 'wx_x', prepayExpiresAt: new Date(), payUrl: null }), null);
  });

  it('writes nothing on an open attempt when the order row it was asked with does not exist', async () => {
    const { order, attempt } = await rows(outTradeNo);
    await attempt.update({ status: 'CREATED', prepayId: null });
    const stored = await new PrepayRepository(app.model).storePrepay(order.id + 1000, attempt.id, { prepayId: 'wx_orphan', prepayExpiresAt: new Date(Date.now() + 3600_000), payUrl: null });
    assert.equal(stored, null);
    await attempt.reload();
    assert.equal(attempt.status, 'CREATED');
    assert.equal(attempt.prepayId, null);
  });

  it('waits for the order row\'s lock before it touches the attempt (lock order: order row first)', async () => {
    const { order, attempt } = await rows(outTradeNo);
    await attempt.update({ status: 'CREATED' });
    let stored: Promise<unknown> | undefined;
    let settled = false;
    await app.model.transaction(async transaction => {
      await app.model.Order.findByPk(order.id, { lock: transaction.LOCK.UPDATE, transaction });
      stored = new PrepayRepository(app.model).storePrepay(order.id, attempt.id, { prepayId: 'wx_after_lock', prepayExpiresAt: new Date(Date.now() + 3600_000), payUrl: null })
        .finally(() => { settled = true; });
      let storeError: unknown;
      stored.catch(err => { storeError = err; });
      // The store waits for the order row (its statement after the batch's name comment, in the process list)...
      const waiting = await waitForStatement([ '%SELECT status FROM orders WHERE id = % FOR UPDATE%' ], () => settled);
      assert.ok(waiting, `the store waits for the order row held by another transaction (settled: ${settled}, error: ${storeError}, pool: ${JSON.stringify(poolState())})`);
      assert.equal(settled, false);
      // ...without having locked the attempt: it is still free to this transaction.
      const free = await app.model.PaymentAttempt.findByPk(attempt.id, { lock: transaction.LOCK.UPDATE, transaction });
      assert.equal(free!.status, 'CREATED');
      await order.update({ status: 'CLOSED' }, { transaction });
      await free!.update({ status: 'CLOSED' }, { transaction });
    });
    // The store then reads what the lock holder committed.
    assert.deepEqual(await stored, { open: false, orderStatus: 'CLOSED' });
  });
});
