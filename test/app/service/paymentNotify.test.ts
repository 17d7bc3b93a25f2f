import assert from 'node:assert/strict';
import { app, mock } from 'egg-mock/bootstrap';
import { buildXml, sign } from '../../../lib/wechatpay';
import { testEnv } from '../../support/env';
import { createOrder, login, resetWorld } from '../../support/fixtures';
import { SettlementRepository } from '../../../app/repository/settlementRepository';

const SUCCESS_XML = '<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>';

function postNotify(body: string | Buffer, contentType = 'text/xml') {
  return app.httpRequest().post('/payment/notify').set('Content-Type', contentType)
    .send(body);
}

function failReply(text: string) {
  assert.match(text, /^<xml><return_code><!\[CDATA\[FAIL\]\]><\/return_code><return_msg><!\[CDATA\[[^\]]*\]\]><\/return_msg><\/xml>$/);
}

async function paidOrder(token: string) {
  const created = await createOrder(token).expect(200);
  return created.body.outTradeNo as string;
}

describe('payment journey: login -> order -> pay -> notification -> paid', () => {
  beforeEach(resetWorld);

  it('moves the order to SUCCESS once, records the notification and answers SUCCESS XML', async () => {
    const { token } = await login();
    const outTradeNo = await paidOrder(token);
    const payment = await testEnv.sim.pay(outTradeNo);
    const deliveries = await testEnv.sim.waitForDelivery(outTradeNo, { acknowledged: true });
    assert.equal(deliveries.length, 1);
    assert.equal(deliveries[0].status, 200);
    assert.equal(deliveries[0].reply, SUCCESS_XML);

    const order = await app.model.Order.findOne({ where: { outTradeNo } });
    assert.equal(order!.status, 'SUCCESS');
    assert.equal(order!.transactionId, payment.transactionId);
    assert.ok(order!.paidAt instanceof Date);
    assert.ok(order!.bankType);
    const events = await app.model.OrderEvent.findAll({ where: { orderId: order!.id } });
    assert.deepEqual(events.map(e => [ e.type, e.source ]), [[ 'PAID', 'notify' ]]);
    const notes = await app.model.PaymentNotification.findAll();
    assert.equal(notes.length, 1);
    assert.equal(notes[0].outcome, 'APPLIED');
    assert.equal(notes[0].rawBody, deliveries[0].body);
    assert.equal(JSON.parse(notes[0].parsed!).transaction_id, payment.transactionId);

    const status = await app.httpRequest().get(`/payment/orders/${outTradeNo}`).set('Authorization', `Bearer ${token}`)
      .expect(200);
    assert.equal(status.body.status, 'SUCCESS');
    assert.equal(status.body.totalFee, 1200);
    assert.equal(status.body.paidAt, order!.paidAt!.toISOString());
  });

  it('works the same for an HMAC-SHA256 order', async () => {
    mock(app.config.wechat, 'signType', 'HMAC-SHA256');
    const { token } = await login();
    const outTradeNo = await paidOrder(token);
    mock.restore();
    await testEnv.sim.pay(outTradeNo);
    await testEnv.sim.waitForDelivery(outTradeNo, { acknowledged: true });
    const order = await app.model.Order.findOne({ where: { outTradeNo } });
    assert.equal(order!.status, 'SUCCESS');
  });

  it('a change of WECHAT_SIGN_TYPE strands no order in flight: every call for an order keeps the sign type it was created with', async () => {
    const { token } = await login();
    const outTradeNo = await paidOrder(token);
    assert.equal((await app.model.Order.findOne({ where: { outTradeNo } }))!.signType, 'MD5');
    mock(app.config.wechat, 'signType', 'HMAC-SHA256');
    // The prepay runs out: /pay closes the old number and opens a new one, both for this MD5 order.
    const order = (await app.model.Order.findOne({ where: { outTradeNo } }))!;
    await app.model.PaymentAttempt.update({ prepayExpiresAt: new Date(Date.now() - 1000) }, { where: { id: order.currentAttemptId! } });
    await app.httpRequest().post(`/payment/orders/${outTradeNo}/pay`).set('Authorization', `Bearer ${token}`)
      .expect(200);
    await order.reload();
    const attempt = (await app.model.PaymentAttempt.findByPk(order.currentAttemptId!))!;
    assert.notEqual(attempt.outTradeNo, outTradeNo);

    await testEnv.sim.pay(attempt.outTradeNo);
    const deliveries = await testEnv.sim.waitForDelivery(attempt.outTradeNo, { acknowledged: true });
    assert.equal(deliveries.length, 1, 'the first delivery verified: no resend needed');
    await order.reload();
    assert.equal(order.status, 'SUCCESS');
    const ours = testEnv.sim.requests().filter(r => [ outTradeNo, attempt.outTradeNo ].includes(r.params.out_trade_no));
    assert.deepEqual([ ...new Set(ours.map(r => r.api)) ].sort(), [ 'closeorder', 'unifiedorder' ]);
    assert.deepEqual([ ...new Set(ours.map(r => r.params.sign_type)) ], [ 'MD5' ]);
  });

  it('a failed payment notification is acknowledged and leaves the order payable', async () => {
    const { token } = await login();
    const outTradeNo = await paidOrder(token);
    await testEnv.sim.pay(outTradeNo, { result: 'FAIL' });
    await testEnv.sim.waitForDelivery(outTradeNo, { acknowledged: true });
    const order = await app.model.Order.findOne({ where: { outTradeNo } });
    assert.equal(order!.status, 'NOTPAY');
    assert.equal(order!.transactionId, null);
  });
});

describe('POST /payment/notify: exactly once', () => {
  let token: string;
  beforeEach(async () => {
    await resetWorld();
    ({ token } = await login());
  });

  it('a repeated notification answers SUCCESS and changes nothing', async () => {
    const outTradeNo = await paidOrder(token);
    await testEnv.sim.pay(outTradeNo);
    await testEnv.sim.waitForDelivery(outTradeNo, { acknowledged: true });
    const before = await app.model.Order.findOne({ where: { outTradeNo }, raw: true });
    const again = await testEnv.sim.sendNotification(outTradeNo, { copies: 3 });
    assert.deepEqual(again.map(d => d.reply), [ SUCCESS_XML, SUCCESS_XML, SUCCESS_XML ]);
    const after = await app.model.Order.findOne({ where: { outTradeNo }, raw: true });
    assert.deepEqual(after, before);
    assert.equal(await app.model.OrderEvent.count({ where: { type: 'PAID' } }), 1);
    const outcomes = (await app.model.PaymentNotification.findAll({ order: [[ 'id', 'ASC' ]] })).map(n => n.outcome);
    assert.deepEqual(outcomes, [ 'APPLIED', 'DUPLICATE', 'DUPLICATE', 'DUPLICATE' ]);
  });

  it('50 concurrent copies move the order once', async () => {
    const outTradeNo = await paidOrder(token);
    await testEnv.sim.pay(outTradeNo);
    // The first delivery races the 50 copies too.
    const copies = await testEnv.sim.sendNotification(outTradeNo, { copies: 50, concurrent: true });
    await testEnv.sim.waitForDelivery(outTradeNo, { acknowledged: true });
    assert.equal(copies.length, 50);
    assert.ok(copies.every(d => d.reply === SUCCESS_XML), copies.map(d => d.reply ?? d.error).join('\n'));
    assert.equal(await app.model.OrderEvent.count({ where: { type: 'PAID' } }), 1);
    const order = await app.model.Order.findOne({ where: { outTradeNo } });
    assert.equal(order!.status, 'SUCCESS');
    assert.equal(await app.model.PaymentNotification.count({ where: { outcome: 'APPLIED' } }), 1);
    assert.equal(await app.model.PaymentNotification.count({ where: { outcome: 'DUPLICATE' } }), 50);
  });

  it('SUCCESS is withheld when the transaction fails, and the resend then applies once', async () => {
    const outTradeNo = await paidOrder(token);
    // The writes go through inside the transaction, then MariaDB fails it before its COMMIT (as a
    // deadlock would): all of them roll back.
    const applyAndCommit = SettlementRepository.prototype.applyAndCommit;
    mock(SettlementRepository.prototype, 'applyAndCommit', function(this: SettlementRepository, ...args: Parameters<typeof applyAndCommit>) {
      args[4]!.sql.push('SIGNAL SQLSTATE \'40001\' SET MESSAGE_TEXT = \'Deadlock found when trying to get lock\'');
      return applyAndCommit.apply(this, args);
    });
    await testEnv.sim.pay(outTradeNo);
    const [ first ] = await testEnv.sim.waitForDelivery(outTradeNo, { count: 1 });
    failReply(first.reply!);
    const order = await app.model.Order.findOne({ where: { outTradeNo } });
    assert.equal(order!.status, 'NOTPAY');
    assert.equal(order!.transactionId, null);
    const attempt = await app.model.PaymentAttempt.findByPk(order!.currentAttemptId!);
    assert.equal(attempt!.transactionId, null, 'the attempt update rolled back with the rest');

    mock.restore();
    await testEnv.sim.waitForDelivery(outTradeNo, { acknowledged: true });
    const attempts = testEnv.sim.deliveries(outTradeNo);
    assert.ok(attempts.length >= 2);
    assert.equal(attempts.filter(a => a.acknowledged).length, 1);
    await order!.reload();
    assert.equal(order!.status, 'SUCCESS');
    assert.equal(await app.model.OrderEvent.count({ where: { type: 'PAID' } }), 1);
  });

  it('database down answers FAIL, never SUCCESS', async () => {
    const outTradeNo = await paidOrder(token);
    await testEnv.sim.pay(outTradeNo);
    await testEnv.sim.waitForDelivery(outTradeNo, { acknowledged: true });
    await app.model.Order.update({ status: 'NOTPAY', transactionId: null, paidAt: null }, { where: { outTradeNo } });
    const audited = await app.model.PaymentNotification.count();
    const down = async () => { throw new Error('connect ECONNREFUSED 127.0.0.1:3306'); };
    mock(SettlementRepository.prototype, 'lockPayment', down);
    mock(app.model.PaymentNotification, 'create', down);
    const [ reply ] = await testEnv.sim.sendNotification(outTradeNo, { copies: 1 });
    failReply(reply.reply!);
    assert.equal(reply.status, 500);
    assert.equal(await app.model.PaymentNotification.count(), audited);
  });
});

describe('POST /payment/notify: forged and wrong notifications', () => {
  let token: string;
  let outTradeNo: string;
  beforeEach(async () => {
    await resetWorld();
    ({ token } = await login());
    outTradeNo = await paidOrder(token);
  });

  async function expectRefused(mutate: (f: Record<string, string>) => Record<string, string>, resign: boolean, reason: RegExp) {
    await testEnv.sim.pay(outTradeNo);
    await testEnv.sim.waitForDelivery(outTradeNo, { acknowledged: true });
    // Undo the genuine payment so the forged copy could change something if it were accepted.
    await app.model.Order.update({ status: 'NOTPAY', transactionId: null, paidAt: null, paidAttemptId: null }, { where: { outTradeNo } });
    await app.model.PaymentAttempt.update({ status: 'PREPAID', transactionId: null }, { where: { outTradeNo } });
    const [ reply ] = await testEnv.sim.sendNotification(outTradeNo, { copies: 1, mutate, resign });
    failReply(reply.reply!);
    const order = await app.model.Order.findOne({ where: { outTradeNo } });
    assert.equal(order!.status, 'NOTPAY');
    const last = await app.model.PaymentNotification.findOne({ order: [[ 'id', 'DESC' ]] });
    assert.equal(last!.outcome, 'REJECTED');
    assert.match(last!.reason!, reason);
  }

  it('refuses a tampered amount (old signature)', () =>
    expectRefused(f => ({ ...f, total_fee: '1' }), false, /signature does not verify/));

  it('refuses a correctly signed amount that differs from the order', () =>
    expectRefused(f => ({ ...f, total_fee: '1' }), true, /total_fee 1 differs/));

  it('refuses an added field that was not signed (coupon injected)', () =>
    expectRefused(f => ({ ...f, coupon_fee: '100' }), false, /signature does not verify/));

  it('refuses another merchant', () =>
    expectRefused(f => ({ ...f, mch_id: '1900000999' }), true, /mch_id is not ours/));

  it('refuses another app', () =>
    expectRefused(f => ({ ...f, appid: 'wx9999999999999999' }), true, /appid is not ours/));

  it('refuses an unknown order', () =>
    expectRefused(f => ({ ...f, out_trade_no: 'P000000000000000unknown' }), true, /unknown out_trade_no/));

  it('refuses a payment by another user', () =>
    expectRefused(f => ({ ...f, openid: 'oSomeoneElse0000000000000000' }), true, /openid/));

  it('refuses a sign_type that is not the order\'s', () =>
    expectRefused(f => ({ ...f, sign_type: 'HMAC-SHA256' }), false, /sign_type differs/));

  it('refuses a signature made with another key', async () => {
    await testEnv.sim.pay(outTradeNo);
    await testEnv.sim.waitForDelivery(outTradeNo, { acknowledged: true });
    const fields = testEnv.sim.buildNotification(outTradeNo);
    fields.sign = sign(fields, 'y'.repeat(32), 'HMAC-SHA256');
    const res = await postNotify(buildXml(fields)).expect(200);
    failReply(res.text);
  });

  it('refuses order A\'s notification replayed with order B\'s number', async () => {
    const other = await paidOrder(token);
    await testEnv.sim.pay(outTradeNo);
    await testEnv.sim.waitForDelivery(outTradeNo, { acknowledged: true });
    // The attacker copies A's signed fields, swaps in B's number and keeps A's signature.
    const fields = { ...testEnv.sim.buildNotification(outTradeNo), out_trade_no: other };
    const res = await postNotify(buildXml(fields)).expect(200);
    failReply(res.text);
    const b = await app.model.Order.findOne({ where: { outTradeNo: other } });
    assert.equal(b!.status, 'NOTPAY');
  });

  it('refuses a validly signed notification reusing another order\'s transaction_id', async () => {
    const other = await paidOrder(token);
    const a = await testEnv.sim.pay(outTradeNo);
    await testEnv.sim.waitForDelivery(outTradeNo, { acknowledged: true });
    await testEnv.sim.pay(other);
    await testEnv.sim.waitForDelivery(other, { acknowledged: true });
    await app.model.Order.update({ status: 'NOTPAY', transactionId: null, paidAt: null, paidAttemptId: null }, { where: { outTradeNo: other } });
    await app.model.PaymentAttempt.update({ status: 'PREPAID', transactionId: null }, { where: { outTradeNo: other } });
    const [ reply ] = await testEnv.sim.sendNotification(other, { copies: 1, mutate: f => ({ ...f, transaction_id: a.transactionId }), resign: true });
    failReply(reply.reply!);
    const b = await app.model.Order.findOne({ where: { outTradeNo: other } });
    assert.equal(b!.status, 'NOTPAY');
  });

  for (const [ label, body ] of [
    [ 'an XXE payload', '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><xml><out_trade_no>&xxe;</out_trade_no></xml>' ],
    [ 'a billion-laughs payload', '<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]><xml><a>&lol2;</a></xml>' ],
    [ 'malformed XML', '<xml><return_code>SUCCESS</return_code>' ],
    [ 'an empty body', '' ],
    [ 'JSON', '{"return_code":"SUCCESS"}' ],
    [ 'a notification with return_code FAIL', '<xml><return_code>FAIL</return_code><return_msg>x</return_msg></xml>' ],
  ]) {
    it(`refuses ${label} with FAIL XML, stores it, changes nothing`, async () => {
      const res = await postNotify(body);
      assert.equal(res.type, 'text/xml');
      failReply(res.text);
      const note = await app.model.PaymentNotification.findOne({ order: [[ 'id', 'DESC' ]] });
      assert.equal(note!.outcome, 'REJECTED');
      assert.equal(note!.rawBody, body);
      assert.equal(await app.model.Order.count({ where: { status: 'SUCCESS' } }), 0);
    });
  }

  it('refuses an oversized body with FAIL XML and 413', async () => {
    const res = await postNotify(`<xml><a>${'x'.repeat(20_000)}</a></xml>`).expect(413);
    failReply(res.text);
  });

  it('refuses invalid UTF-8 with FAIL XML', async () => {
    const res = await postNotify(Buffer.concat([ Buffer.from('<xml><a>'), Buffer.from([ 0xff, 0xfe ]), Buffer.from('</a></xml>') ]));
    failReply(res.text);
  });

  it('refuses a body sent as application/json without parsing it as JSON', async () => {
    const res = await postNotify('{"return_code":"SUCCESS"}', 'application/json');
    failReply(res.text);
  });
});
