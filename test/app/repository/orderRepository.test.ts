import assert from 'node:assert/strict';
import { app } from 'egg-mock/bootstrap';
import { QueryTypes, UniqueConstraintError } from 'sequelize';
import { merchantNumber } from '../../../lib/wechatpay';
import { NewOrder, OrderRepository } from '../../../app/repository/orderRepository';
import { attemptFieldsOf } from '../../../app/service/prepay';
import { login, resetWorld } from '../../support/fixtures';

/** A stored row as MariaDB holds it, every column, without those that differ between any two orders. */
async function rawRow(table: 'orders' | 'payment_attempts', id: number) {
  const [ row ] = await app.model.query<Record<string, unknown>>(`SELECT * FROM ${table} WHERE id = ?`, { replacements: [ id ], type: QueryTypes.SELECT });
  assert.ok(row, `${table} ${id} exists`);
  const { id: _id, out_trade_no, idempotency_key, order_id, current_attempt_id, created_at, updated_at, ...rest } = row;
  return rest;
}

describe('OrderRepository', () => {
  let userId: number;
  beforeEach(async () => {
    await resetWorld();
    ({ userId } = await login());
  });

  const newOrder = (overrides: Partial<NewOrder> = {}): NewOrder => ({
    outTradeNo: merchantNumber('P'), userId, idempotencyKey: null, totalFee: 2400, body: 'Coffee x2',
    items: JSON.stringify([{ productId: 1, name: 'Coffee', unitPriceFen: 1200, quantity: 2 }]),
    signType: 'HMAC-SHA256', appid: app.config.wechat.appId, tradeType: 'NATIVE', attach: null, goodsTag: null, limitPay: null,
    receipt: false, detail: null, expiresAt: new Date(Date.UTC(2026, 11, 1, 8, 30, 15, 123)), ...overrides,
  });

  const cases: Array<[string, Partial<NewOrder>]> = [
    [ 'with every optional column set', {
      idempotencyKey: 'key-all', attach: 'table 7 \'quoted\' 桌', goodsTag: 'SPRING', limitPay: 'no_credit', receipt: true,
      detail: '{"cost_price":2400,"goods_detail":[{"goods_id":"1","quantity":2,"price":1200}]}',
    }],
    [ 'with none set', {}],
  ];
  for (const [ name, overrides ] of cases) {
    it(`writes the order and its first attempt, linked, exactly as Order.create and PaymentAttempt.create wrote them (${name})`, async () => {
      const fields = newOrder(overrides);
      const attemptFields = attemptFieldsOf(fields, fields.outTradeNo);
      const { orderId, attemptId, createdAt } = await new OrderRepository(app.model).insertWithFirstAttempt(fields, attemptFields);

      // The model's read of it: every field as given, the defaults as the model set them, linked.
      const order = (await app.model.Order.findByPk(orderId))!;
      const attempt = (await app.model.PaymentAttempt.findByPk(attemptId))!;
      for (const [ key, value ] of Object.entries(fields)) assert.deepEqual((order as any)[key], value, key);
      assert.equal(order.expiresAt.getTime(), fields.expiresAt.getTime(), 'expires_at to the millisecond');
      assert.equal(order.status, 'NOTPAY');
      assert.equal(order.currentAttemptId, attemptId);
      assert.equal(order.refundRequired, false);
      assert.equal(order.refundedFee, 0);
      assert.equal(order.createdAt.getTime(), createdAt.getTime());
      assert.equal(order.updatedAt.getTime(), createdAt.getTime());
      for (const [ key, value ] of Object.entries(attemptFields)) assert.deepEqual((attempt as any)[key], value, key);
      assert.equal(attempt.orderId, orderId);
      assert.equal(attempt.status, 'CREATED');
      assert.equal(attempt.createdAt.getTime(), createdAt.getTime());

      // The same order made the models' way (the code this replaced): every other column identical.
      const { Order, PaymentAttempt } = app.model;
      const modelFields = { ...fields, outTradeNo: merchantNumber('P'), idempotencyKey: fields.idempotencyKey && `${fields.idempotencyKey}-model` };
      const created = await app.model.transaction(async transaction => {
        const o = await Order.create(modelFields, { transaction });
        const a = await PaymentAttempt.create({ orderId: o.id, ...attemptFields, outTradeNo: o.outTradeNo }, { transaction });
        await o.update({ currentAttemptId: a.id }, { transaction });
        return { orderId: o.id, attemptId: a.id };
      });
      assert.deepEqual(await rawRow('orders', orderId), await rawRow('orders', created.orderId));
      assert.deepEqual(await rawRow('payment_attempts', attemptId), await rawRow('payment_attempts', created.attemptId));
    });
  }

  it('a reused Idempotency-Key fails on its unique key and rolls back whole: no second order, no half-written attempt', async () => {
    const repository = new OrderRepository(app.model);
    const first = newOrder({ idempotencyKey: 'key-dup' });
    await repository.insertWithFirstAttempt(first, attemptFieldsOf(first, first.outTradeNo));
    const second = newOrder({ idempotencyKey: 'key-dup' });
    await assert.rejects(repository.insertWithFirstAttempt(second, attemptFieldsOf(second, second.outTradeNo)),
      UniqueConstraintError);
    assert.equal(await app.model.Order.count(), 1);
    assert.equal(await app.model.PaymentAttempt.count(), 1);
    assert.equal(await app.model.PaymentAttempt.count({ where: { outTradeNo: second.outTradeNo } }), 0);
    // The same key for another user is another order.
    const other = await login();
    const theirs = newOrder({ userId: other.userId, idempotencyKey: 'key-dup' });
    const ids = await repository.insertWithFirstAttempt(theirs, attemptFieldsOf(theirs, theirs.outTradeNo));
    assert.equal((await app.model.Order.findByPk(ids.orderId))!.currentAttemptId, ids.attemptId);
  });
});
