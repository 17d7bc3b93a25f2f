import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { app, mock } from 'egg-mock/bootstrap';
import { QueryTypes, Transaction } from 'sequelize';
import { eventPayload } from '../../../app/domain/outboxRules';
import { SettlementRepository } from '../../../app/repository/settlementRepository';
import { testEnv } from '../../support/env';
import { waitForStatement } from '../../support/processList';
import { createOrder, login, resetWorld } from '../../support/fixtures';

// The settlement's plain-SQL reads and writes (app/repository/settlementRepository.ts): one round
// trip begins the transaction and reads under the locks, one writes everything and commits, with
// the guards of the model code it replaced (docs/decisions/0017, 0019).

/** An order paid at the simulator whose notification is held back: the test hands it over itself. */
async function paidAtWechat(token: string): Promise<{ outTradeNo: string; fields: Record<string, string> }> {
  const outTradeNo = (await createOrder(token).expect(200)).body.outTradeNo as string;
  testEnv.sim.setFault('notify', { kind: 'drop', beforeProcessing: true });
  await testEnv.sim.pay(outTradeNo);
  return { outTradeNo, fields: testEnv.sim.buildNotification(outTradeNo) };
}

function settle(fields: Record<string, string>) {
  return app.mockContext().service.settlement.settleNotification({
    outTradeNo: fields.out_trade_no, fields, rawBody: `<xml>${fields.out_trade_no}</xml>`, remoteIp: '127.0.0.1',
  });
}

async function stored(outTradeNo: string) {
  const order = (await app.model.Order.findOne({ where: { outTradeNo }, raw: true }))!;
  const attempt = (await app.model.PaymentAttempt.findOne({ where: { outTradeNo }, raw: true }))!;
  const events = await app.model.OrderEvent.findAll({ where: { orderId: order.id }, raw: true });
  const outbox = await app.model.OutboxEvent.findAll({ where: { orderId: order.id }, order: [[ 'seq', 'ASC' ]], raw: true });
  const audit = await app.model.PaymentNotification.findAll({ where: { outTradeNo }, raw: true });
  return { order, attempt, events: events.map(e => e.type), outbox, audit: audit.map(a => a.outcome) };
}

/** The queries Sequelize sends in the settlement's transaction (taken from lockPayment's arguments), each with its SQL text. */
function watchRoundTrips(): { of: () => string[] } {
  const sent: Array<{ sql: string; transaction?: Transaction }> = [];
  let settling: Transaction | undefined;
  app.model.addHook('afterQuery', 'countRoundTrips', (options: any, query: any) => {
    sent.push({ sql: String(query.sql), transaction: options.transaction });
  });
  const lockPayment = SettlementRepository.prototype.lockPayment;
  mock(SettlementRepository.prototype, 'lockPayment', function(this: SettlementRepository, ...args: Parameters<typeof lockPayment>) {
    settling = args[2] as unknown as Transaction;
    return lockPayment.apply(this, args);
  });
  return { of: () => sent.filter(q => settling && q.transaction === settling).map(q => q.sql) };
}

describe('SettlementRepository', () => {
  beforeEach(resetWorld);
  afterEach(() => {
    app.model.removeHook('afterQuery', 'countRoundTrips');
    mock.restore();
    testEnv.sim.reset();
  });

  it('settles a payment in two round trips (begin and the reads; the writes and commit), and its repeat too', async () => {
    const { token } = await login();
    const a = await paidAtWechat(token);
    let watch = watchRoundTrips();
    assert.equal((await settle(a.fields)).result, 'APPLIED');
    const paid = watch.of();
    assert.equal(paid.length, 2, paid.join('\n'));
    assert.match(paid[0], /^\/\* settlement\.lock \*\/ START TRANSACTION;\n/);
    assert.match(paid[1], /^\/\* settlement\.apply \*\/ UPDATE payment_attempts [^]*INSERT INTO payment_notifications [^]*;\nCOMMIT$/);

    app.model.removeHook('afterQuery', 'countRoundTrips');
    mock.restore();
    watch = watchRoundTrips();
    assert.equal((await settle(a.fields)).result, 'DUPLICATE');
    const repeat = watch.of();
    assert.equal(repeat.length, 2, repeat.join('\n'));
    assert.match(repeat[1], /^\/\* settlement\.apply \*\/ INSERT INTO payment_notifications [^;]*;\nCOMMIT$/);
    const state = await stored(a.outTradeNo);
    assert.deepEqual(state.events, [ 'PAID' ]);
    assert.deepEqual(state.audit.sort(), [ 'APPLIED', 'DUPLICATE' ]);
  });

  it('waits for the order row before it locks any attempt (lock order: order row first)', async () => {
    const { token } = await login();
    const a = await paidAtWechat(token);
    const { order } = await stored(a.outTradeNo);
    let settling: Promise<{ result: string }> | undefined;
    let settled = false;
    await app.model.transaction(async holder => {
      await app.model.query('SELECT id FROM orders WHERE id = ? FOR UPDATE', { replacements: [ order.id ], type: QueryTypes.SELECT, transaction: holder });
      settling = settle(a.fields).finally(() => { settled = true; });
      let settleError: unknown;
      settling.catch(err => { settleError = err; });
      // The settlement's reads wait for the order row (seen in the process list)...
      const waiting = await waitForStatement([ '%FROM orders o WHERE o.id = @settle_order_id FOR UPDATE%' ], () => settled);
      assert.ok(waiting, `the settlement waits for the order row held by another transaction (settled: ${settled}, error: ${settleError})`);
      assert.equal(settled, false);
      // ...without having locked any attempt: NOWAIT would fail on a held lock.
      const attempts = await app.model.query<{ id: number }>('SELECT id FROM payment_attempts WHERE order_id = ? FOR UPDATE NOWAIT',
        { replacements: [ order.id ], type: QueryTypes.SELECT, transaction: holder });
      assert.equal(attempts.length, 1);
      // The holder closes the order; the settlement decides on what it committed.
      await app.model.query('UPDATE orders SET status = \'CLOSED\', closed_at = NOW(3) WHERE id = ?', { replacements: [ order.id ], transaction: holder });
    });
    assert.equal((await settling!).result, 'REFUND_REQUIRED');
    const state = await stored(a.outTradeNo);
    assert.equal(state.order.status, 'CLOSED');
    assert.equal(Boolean(state.order.refundRequired), true);
    assert.deepEqual(state.events, [ 'PAID_AFTER_CLOSE' ]);
    assert.deepEqual(state.outbox.map(e => [ e.seq, e.type ]), [[ 1, 'order.paid_after_close' ]]);
  });

  for (const [ which, change ] of [
    [ 'the order left NOTPAY', 'UPDATE orders SET status = \'CLOSED\' WHERE id = ?' ],
    [ 'the attempt holds a transaction_id', 'UPDATE payment_attempts SET transaction_id = \'4200000000000000000000000001\' WHERE order_id = ?' ],
  ]) {
    it(`a guarded update whose row is no longer as read fails before the COMMIT (${which}): no change, no event, no outbox row, no audit row`, async () => {
      const { token } = await login();
      const a = await paidAtWechat(token);
      // The row changes inside the settlement's own transaction, after its read: the read says
      // payable, so the decision pays it, and the guarded update then refuses its row.
      const lockPayment = SettlementRepository.prototype.lockPayment;
      mock(SettlementRepository.prototype, 'lockPayment', async function(this: SettlementRepository, ...args: Parameters<typeof lockPayment>) {
        const rows = await lockPayment.apply(this, args);
        await app.model.query(change, { replacements: [ rows!.order.id ], transaction: args[2] as unknown as Transaction });
        return rows;
      });
      await assert.rejects(settle(a.fields), new RegExp(`^Error: settlement: payment ${a.outTradeNo} of order ${a.outTradeNo} was not as read under its lock; nothing written$`));
      const state = await stored(a.outTradeNo);
      assert.equal(state.order.status, 'NOTPAY', 'the change made in the transaction rolled back too');
      assert.equal(state.order.transactionId, null);
      assert.equal(state.attempt.transactionId, null, 'every update of the batch rolled back');
      assert.equal(state.attempt.status, 'PREPAID');
      assert.deepEqual(state.events, []);
      assert.deepEqual(state.outbox, []);
      assert.deepEqual(state.audit, []);
    });
  }

  it('continues the order\'s outbox sequence, with the payload of the order as committed', async () => {
    const { token, openid } = await login();
    const a = await paidAtWechat(token);
    const { order } = await stored(a.outTradeNo);
    await app.model.OutboxEvent.create({
      eventId: `evt_${randomUUID().replace(/-/g, '')}`, type: 'order.closed', orderId: order.id, outTradeNo: a.outTradeNo, seq: 1,
      payload: '{}', status: 'DELIVERED', nextAttemptAt: new Date(), deliveredTo: 'webhook',
    });
    assert.equal((await settle(a.fields)).result, 'APPLIED');
    const state = await stored(a.outTradeNo);
    assert.deepEqual(state.outbox.map(e => [ e.seq, e.type, e.status ]), [[ 1, 'order.closed', 'DELIVERED' ], [ 2, 'order.paid', 'PENDING' ]]);
    // What recordOrderEvent would have built from the order read again after the change.
    const paid = (await app.model.Order.findByPk(order.id))!;
    const expected = eventPayload({
      outTradeNo: paid.outTradeNo, appId: paid.appid, openid, status: paid.status, totalFee: paid.totalFee, refundedFee: paid.refundedFee,
      refundRequired: paid.refundRequired, items: JSON.parse(paid.items), attach: paid.attach ?? null, transactionId: paid.transactionId ?? null,
      createdAt: paid.createdAt, paidAt: paid.paidAt ?? null, closedAt: paid.closedAt ?? null,
    }, { payment: { outTradeNo: a.outTradeNo, transactionId: a.fields.transaction_id, totalFee: 1200 }, source: 'notify' });
    assert.deepEqual(JSON.parse(state.outbox[1].payload), JSON.parse(JSON.stringify(expected)));
    assert.equal(paid.status, 'SUCCESS');
  });
});
