import assert from 'node:assert/strict';
import { once } from 'node:events';
import * as http from 'node:http';
import { AddressInfo } from 'node:net';
import { app, mock } from 'egg-mock/bootstrap';
import { MockApplication } from 'egg-mock';
import { buildXml, sign, SignType } from '../../../lib/wechatpay';
import { postXml } from '../../support/postXml';
import { startSecondApp } from '../../support/secondApp';
import { SettlementRepository } from '../../../app/repository/settlementRepository';
import { ReceivedNotification } from '../../../app/service/settlement';
import { testEnv } from '../../support/env';
import { createOrder, login, resetWorld } from '../../support/fixtures';

// Settlement (app/service/settlement.ts): each payment in its own transaction, its order row and
// then its attempts locked; concurrent payments are each judged by their own rules.

/** An order paid at the simulator whose notification is held back: the test hands it over itself. */
async function paidAtWechat(token: string, result: 'SUCCESS' | 'FAIL' = 'SUCCESS'): Promise<{ outTradeNo: string; fields: Record<string, string> }> {
  const outTradeNo = (await createOrder(token).expect(200)).body.outTradeNo as string;
  testEnv.sim.setFault('notify', { kind: 'drop', beforeProcessing: true });
  await testEnv.sim.pay(outTradeNo, { result });
  return { outTradeNo, fields: testEnv.sim.buildNotification(outTradeNo) };
}

function resign(fields: Record<string, string>): Record<string, string> {
  const { sign: _old, ...rest } = fields;
  const signType = (app.config.wechat.signType ?? 'MD5') as SignType;
  return { ...rest, sign: sign(rest, app.config.wechat.apiKey, signType) };
}

function received(fields: Record<string, string>) {
  return { outTradeNo: fields.out_trade_no, fields, rawBody: `<xml>${fields.out_trade_no}</xml>`, remoteIp: '127.0.0.1' };
}

function settle(notification: ReceivedNotification) {
  return app.mockContext().service.settlement.settleNotification(notification);
}

async function orderState(outTradeNo: string) {
  const order = (await app.model.Order.findOne({ where: { outTradeNo }, raw: true }))!;
  const events = await app.model.OrderEvent.findAll({ where: { orderId: order.id }, raw: true });
  const audit = await app.model.PaymentNotification.findAll({ where: { outTradeNo }, order: [[ 'id', 'ASC' ]], raw: true });
  return { order, events: events.map(e => e.type), audit: audit.map(a => [ a.outcome, a.reason ]) };
}

describe('settlement', () => {
  beforeEach(resetWorld);
  afterEach(() => {
    mock.restore();
    testEnv.sim.reset();
  });

  it('settles payments arriving together, each by its own rules', async () => {
    const { token } = await login();
    const a = await paidAtWechat(token);
    const b = await paidAtWechat(token);
    const forged = await paidAtWechat(token);
    const failed = await paidAtWechat(token, 'FAIL');

    const outcomes = await Promise.all([
      settle(received(a.fields)),
      settle(received(b.fields)),
      settle(received({ ...a.fields, nonce_str: 'copy' + a.fields.nonce_str })),
      settle(received({ ...forged.fields, total_fee: '1' })),
      settle(received(failed.fields)),
      settle(received(resign({ ...a.fields, out_trade_no: 'NOSUCHORDER0001' }))),
    ]);

    assert.deepEqual(outcomes.map(o => o.result), [ 'APPLIED', 'APPLIED', 'REJECTED', 'REJECTED', 'PAYMENT_FAILED', 'REJECTED' ]);
    // The copy is signed over its changed nonce with the old signature: refused like any tampering.
    assert.equal((outcomes[2] as any).reason, 'signature does not verify');
    assert.equal((outcomes[3] as any).reason, 'signature does not verify');
    assert.equal((outcomes[5] as any).reason, 'unknown out_trade_no');

    const stateA = await orderState(a.outTradeNo);
    assert.equal(stateA.order.status, 'SUCCESS');
    assert.equal(stateA.order.transactionId, a.fields.transaction_id);
    assert.deepEqual(stateA.events, [ 'PAID' ]);
    assert.deepEqual(stateA.audit.sort(), [[ 'APPLIED', 'APPLIED' ], [ 'REJECTED', 'signature does not verify' ]]);
    assert.equal((await orderState(b.outTradeNo)).order.status, 'SUCCESS');
    const stateForged = await orderState(forged.outTradeNo);
    assert.equal(stateForged.order.status, 'NOTPAY');
    assert.deepEqual(stateForged.events, []);
    const stateFailed = await orderState(failed.outTradeNo);
    assert.equal(stateFailed.order.status, 'NOTPAY');
    assert.deepEqual(stateFailed.audit, [[ 'APPLIED', `payment failed: ${failed.fields.err_code}` ]]);
    const attempt = await app.model.PaymentAttempt.findOne({ where: { outTradeNo: failed.outTradeNo }, raw: true });
    assert.equal(attempt!.errCode, failed.fields.err_code);
    assert.equal(attempt!.status, 'FAILED', 'the next /pay closes this number and opens a new one');
    assert.equal(await app.model.PaymentNotification.count({ where: { outTradeNo: 'NOSUCHORDER0001' } }), 1);
  });

  it('two copies of one notification at once: one payment, one duplicate', async () => {
    const { token } = await login();
    const a = await paidAtWechat(token);
    const copy = testEnv.sim.buildNotification(a.outTradeNo);

    const outcomes = await Promise.all([ settle(received(a.fields)), settle(received(copy)) ]);

    assert.deepEqual(outcomes.map(o => o.result).sort(), [ 'APPLIED', 'DUPLICATE' ]);
    const state = await orderState(a.outTradeNo);
    assert.deepEqual(state.events, [ 'PAID' ]);
    assert.deepEqual(state.audit.sort(), [[ 'APPLIED', 'APPLIED' ], [ 'DUPLICATE', 'DUPLICATE' ]]);
  });

  it('a transaction_id that already paid another order is refused and recorded, not retried forever', async () => {
    const { token } = await login();
    const first = await paidAtWechat(token);
    assert.equal((await settle(received(first.fields))).result, 'APPLIED');
    const other = await paidAtWechat(token);
    const fresh = await paidAtWechat(token);
    // Validly signed, for another order, with the first order's transaction_id.
    const reused = resign({ ...other.fields, transaction_id: first.fields.transaction_id });

    const outcomes = await Promise.all([ settle(received(reused)), settle(received(fresh.fields)) ]);

    assert.deepEqual(outcomes.map(o => o.result), [ 'REJECTED', 'APPLIED' ]);
    assert.equal((outcomes[0] as any).reason, 'transaction_id already belongs to another payment');
    const otherState = await orderState(other.outTradeNo);
    assert.equal(otherState.order.status, 'NOTPAY');
    assert.equal(otherState.order.transactionId, null);
    assert.deepEqual(otherState.events, []);
    assert.deepEqual(otherState.audit, [[ 'REJECTED', 'transaction_id already belongs to another payment' ]]);
    const firstState = await orderState(first.outTradeNo);
    assert.equal(firstState.order.transactionId, first.fields.transaction_id);
    assert.deepEqual(firstState.events, [ 'PAID' ]);
    assert.equal((await orderState(fresh.outTradeNo)).order.status, 'SUCCESS');

    // WeChat's resend is refused the same way, and recorded again.
    const again = await settle(received(reused));
    assert.equal(again.result, 'REJECTED');
    assert.equal((await orderState(other.outTradeNo)).audit.length, 2);
  });

  it('an order query and a notification of the same payment at once apply it once', async () => {
    const { token } = await login();
    const a = await paidAtWechat(token);
    const service = app.mockContext().service.settlement;
    const outcomes = await Promise.all([
      service.applyPaid({ outTradeNo: a.outTradeNo, transactionId: a.fields.transaction_id, totalFee: Number(a.fields.total_fee), openid: a.fields.openid }),
      settle(received(a.fields)),
    ]);
    assert.deepEqual(outcomes.map(o => o.result).sort(), [ 'APPLIED', 'DUPLICATE' ]);
    const state = await orderState(a.outTradeNo);
    assert.equal(state.order.status, 'SUCCESS');
    assert.deepEqual(state.events, [ 'PAID' ]);
  });

  it('a payment that cannot be settled fails alone, and leaves nothing half-written', async () => {
    const { token } = await login();
    const good = await paidAtWechat(token);
    const bad = await paidAtWechat(token);
    const applyAndCommit = SettlementRepository.prototype.applyAndCommit;
    mock(SettlementRepository.prototype, 'applyAndCommit', function(this: SettlementRepository, ...args: Parameters<typeof applyAndCommit>) {
      // The writes run inside the transaction, then MariaDB fails it before its COMMIT (as a lock wait timeout would).
      if (args[0].attempt.outTradeNo === bad.outTradeNo) args[4]!.sql.push('SIGNAL SQLSTATE \'HY000\' SET MESSAGE_TEXT = \'Lock wait timeout exceeded\'');
      return applyAndCommit.apply(this, args);
    });

    const [ goodOutcome, badOutcome ] = await Promise.allSettled([
      settle(received(good.fields)), settle(received(bad.fields)),
    ]);

    assert.equal(goodOutcome.status, 'fulfilled');
    assert.equal((goodOutcome as PromiseFulfilledResult<any>).value.result, 'APPLIED');
    assert.equal(badOutcome.status, 'rejected');
    assert.match((badOutcome as PromiseRejectedResult).reason.message, /Lock wait timeout/);
    const state = await orderState(bad.outTradeNo);
    assert.equal(state.order.status, 'NOTPAY');
    assert.equal(state.order.transactionId, null);
    assert.deepEqual(state.events, []);
    assert.deepEqual(state.audit, []);
    const attempt = await app.model.PaymentAttempt.findOne({ where: { outTradeNo: bad.outTradeNo }, raw: true });
    assert.equal(attempt!.transactionId, null);
    assert.equal((await orderState(good.outTradeNo)).order.status, 'SUCCESS');
  });

  it('a payment waiting for its order\'s row lock holds back no other order\'s payment, and settles once the lock is gone', async () => {
    const { token } = await login();
    const free = await paidAtWechat(token);
    const blocked = await paidAtWechat(token);
    const holder = await app.model.transaction();
    let waiting;
    try {
      // The order row is the first lock settlement takes (docs/decisions/0002-lock-order.md).
      await app.model.Order.findOne({ where: { outTradeNo: blocked.outTradeNo }, lock: holder.LOCK.UPDATE, transaction: holder });
      waiting = settle(received(blocked.fields));
      assert.equal((await settle(received(free.fields))).result, 'APPLIED');
      assert.equal((await orderState(blocked.outTradeNo)).order.status, 'NOTPAY');
    } finally {
      await holder.rollback();
    }
    assert.equal((await waiting).result, 'APPLIED');
    assert.equal((await orderState(free.outTradeNo)).order.status, 'SUCCESS');
    assert.deepEqual((await orderState(blocked.outTradeNo)).events, [ 'PAID' ]);
  });

  it('locks the order and its attempts but not the owner read beside them: a login is not held up by a payment', async () => {
    const { token, userId } = await login();
    const a = await paidAtWechat(token);
    // Hold the settlement inside its transaction, with its locks taken, until the checks are done.
    let reached!: () => void;
    let release!: () => void;
    const inside = new Promise<void>(resolve => { reached = resolve; });
    const held = new Promise<void>(resolve => { release = resolve; });
    const lockPayment = SettlementRepository.prototype.lockPayment;
    mock(SettlementRepository.prototype, 'lockPayment', async function(this: SettlementRepository, ...args: Parameters<typeof lockPayment>) {
      const rows = await lockPayment.apply(this, args);
      reached();
      await held;
      return rows;
    });
    const settling = settle(received(a.fields));
    await inside;
    const other = await app.model.transaction();
    try {
      await app.model.query('SET SESSION innodb_lock_wait_timeout = 1', { transaction: other });
      // Another transaction writes the owner's row at once...
      await app.model.User.update({ lastLoginAt: new Date() }, { where: { id: userId }, transaction: other });
      // ...and waits in vain for the order's and the attempt's.
      await assert.rejects(app.model.Order.update({ body: 'x' }, { where: { outTradeNo: a.outTradeNo }, transaction: other }), /Lock wait timeout/);
      await assert.rejects(app.model.PaymentAttempt.update({ errCode: 'X' }, { where: { outTradeNo: a.outTradeNo }, transaction: other }), /Lock wait timeout/);
    } finally {
      // The pooled connection goes back with the server's default wait.
      await app.model.query('SET SESSION innodb_lock_wait_timeout = DEFAULT', { transaction: other });
      await other.rollback();
      release();
    }
    assert.equal((await settling).result, 'APPLIED');
  });

  it('keeps a notification\'s non-ASCII text intact in its audit row', async () => {
    const { token } = await login();
    const a = await paidAtWechat(token);
    const fields = resign({ ...a.fields, attach: '咖啡 ☕ 😀' });
    const rawBody = `<xml><attach><![CDATA[${fields.attach}]]></attach></xml>`;
    const outcome = await settle({ ...received(fields), rawBody });
    assert.equal(outcome.result, 'APPLIED');
    const row = (await app.model.PaymentNotification.findOne({ where: { outTradeNo: a.outTradeNo }, raw: true }))!;
    assert.equal(row.rawBody, rawBody);
    assert.equal(JSON.parse(row.parsed!).attach, '咖啡 ☕ 😀');
  });

  it('logs each payment on the logger of the request that brought it, after the commit', async () => {
    const { token } = await login();
    const a = await paidAtWechat(token);
    app.mockLog();
    await app.httpRequest().post('/payment/notify').set('Content-Type', 'text/xml')
      .send(buildXml(a.fields))
      .expect(200);
    // Egg's request logger prefixes the line with the request: [user/ip/trace/time METHOD url].
    app.expectLog(new RegExp(`\\[-/[^/]+/[^\\]]* POST /payment/notify\\] \\[payment\\] order ${a.outTradeNo} paid: out_trade_no=${a.outTradeNo} transaction_id=${a.fields.transaction_id} `));
  });

  describe('two app instances settling copies of the same payments at once', () => {
    let app2: MockApplication;
    let server2: http.Server;
    before(async () => {
      app2 = await startSecondApp({});
      server2 = http.createServer(app2.callback()).listen(0, '127.0.0.1');
      await once(server2, 'listening');
    });
    after(async () => {
      server2?.close();
      await app2?.close();
    });

    it('pays each order once, answers every copy SUCCESS and records each in the audit', async () => {
      const { token } = await login();
      const orders: Array<{ outTradeNo: string; transactionId: string }> = [];
      for (let i = 0; i < 20; i++) {
        const paid = await paidAtWechat(token);
        orders.push({ outTradeNo: paid.outTradeNo, transactionId: paid.fields.transaction_id });
      }
      // Six copies of each, alternating between the two instances, interleaved across orders.
      const urls = [ testEnv.appUrl, `http://127.0.0.1:${(server2.address() as AddressInfo).port}` ];
      const deliveries: Array<{ url: string; xml: string }> = [];
      for (let copy = 0; copy < 6; copy++) {
        orders.forEach((o, i) => deliveries.push({ url: urls[(copy + i) % 2], xml: buildXml(testEnv.sim.buildNotification(o.outTradeNo)) }));
      }
      const agent = new http.Agent({ keepAlive: true, maxSockets: 40 });
      const post = (url: string, xml: string) => postXml(`${url}/payment/notify`, xml, agent);
      let replies: string[];
      try {
        replies = await Promise.all(deliveries.map(d => post(d.url, d.xml)));
      } finally {
        agent.destroy();
      }

      assert.ok(replies.every(r => r.includes('<return_code><![CDATA[SUCCESS]]></return_code>')), replies.find(r => !r.includes('SUCCESS')));
      for (const o of orders) {
        const state = await orderState(o.outTradeNo);
        assert.equal(state.order.status, 'SUCCESS');
        assert.equal(state.order.transactionId, o.transactionId);
        assert.deepEqual(state.events, [ 'PAID' ]);
        assert.deepEqual(state.audit.map(([ outcome ]) => outcome).sort(), [ 'APPLIED', 'DUPLICATE', 'DUPLICATE', 'DUPLICATE', 'DUPLICATE', 'DUPLICATE' ]);
      }
    });
  });
});
