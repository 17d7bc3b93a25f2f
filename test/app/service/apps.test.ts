import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { app, mock } from 'egg-mock/bootstrap';
import { buildXml, encryptRefundInfo, nonceStr, sign } from '../../../lib/wechatpay';
import { testEnv } from '../../support/env';
import { createOrder, login, resetWorld } from '../../support/fixtures';
import { paidOrder, requestRefund } from '../../support/refunds';

const MP = () => app.config.wechat.apps.miniProgram.appId;
const OA = () => app.config.wechat.apps.officialAccount!.appId;

/**
 * A user of the official account with a session, as official-account OAuth makes them (the OAuth
 * route has its own tests): the same upsert and the same kind of session.
 */
async function officialAccountUser(openid: string, unionid?: string): Promise<{ token: string; userId: number }> {
  const ctx = app.mockContext();
  const user = await ctx.service.auth.upsertUser(OA(), openid, unionid);
  const { token } = await ctx.service.session.create({ userId: user.id, openid, appId: OA() });
  return { token, userId: user.id };
}

/** paySign recomputed here, not with the project's signer: MD5 over exactly the bridge's five fields, sorted, then &key=. */
function independentPaySign(p: { appId: string; timeStamp: string; nonceStr: string; package: string; signType: string }, key: string): string {
  const text = `appId=${p.appId}&nonceStr=${p.nonceStr}&package=${p.package}&signType=${p.signType}&timeStamp=${p.timeStamp}&key=${key}`;
  return createHash('md5').update(text, 'utf8').digest('hex')
    .toUpperCase();
}

function postNotify(xml: string) {
  return app.httpRequest().post('/payment/notify').set('Content-Type', 'text/xml')
    .send(xml);
}

describe('several apps under one merchant', () => {
  beforeEach(resetWorld);
  afterEach(() => { mock.restore(); testEnv.sim.clearFaults(); });

  it('configures the mini-program from WECHAT_APPID and a distinct official account', () => {
    assert.equal(MP(), app.config.wechat.appId);
    assert.ok(app.config.wechat.apps.officialAccount);
    assert.notEqual(OA(), MP());
  });

  it('orders and pays in the official account: bridge parameters signed for its appid, paid by notification', async () => {
    const { token } = await officialAccountUser('oa-payer-1');
    const res = await createOrder(token).expect(200);
    assert.deepEqual(Object.keys(res.body).sort(), [ 'appId', 'nonceStr', 'outTradeNo', 'package', 'paySign', 'signType', 'timeStamp' ]);
    assert.equal(res.body.appId, OA());
    assert.equal(res.body.signType, 'MD5');
    assert.equal(res.body.paySign, independentPaySign(res.body, app.config.wechat.apiKey));

    // The unified order named the official account, and the order and attempt keep it.
    assert.equal(testEnv.sim.requests('unifiedorder').at(-1)!.params.appid, OA());
    const order = await app.model.Order.findOne({ where: { outTradeNo: res.body.outTradeNo } });
    assert.equal(order!.appid, OA());
    assert.equal(order!.tradeType, 'JSAPI');
    const attempt = await app.model.PaymentAttempt.findByPk(order!.currentAttemptId!);
    assert.equal(attempt!.appid, OA());
    assert.equal(testEnv.sim.order(res.body.outTradeNo)!.appId, OA());

    // /pay again reuses the prepay, still signed for the official account.
    const again = await app.httpRequest().post(`/payment/orders/${res.body.outTradeNo}/pay`).set('Authorization', `Bearer ${token}`)
      .expect(200);
    assert.equal(again.body.appId, OA());
    assert.equal(again.body.package, res.body.package);
    assert.equal(again.body.paySign, independentPaySign(again.body, app.config.wechat.apiKey));

    await testEnv.sim.pay(res.body.outTradeNo);
    const deliveries = await testEnv.sim.waitForDelivery(res.body.outTradeNo, { acknowledged: true });
    assert.equal(deliveries.length, 1);
    await order!.reload();
    assert.equal(order!.status, 'SUCCESS');
  });

  it('the independent paySign rule used above gives the documented vector 0784A14C2CD35747364F62512E724FD8', () => {
    // The channels reference's bridge example (key, appId, timeStamp, nonceStr, package, MD5).
    assert.equal(independentPaySign({
      appId: 'wx2421b1c4370ec43b', timeStamp: '1395712654', nonceStr: 'e61463f8efa94090b1f366cccfbbb444',
      package: 'prepay_id=u802345jgfjsdfgsdg888', signType: 'MD5',
    }, '192006250b4c09247ec02edce69f6a2d'), '0784A14C2CD35747364F62512E724FD8');
  });

  it('makes a mini-program order for the mini-program appid', async () => {
    const { token } = await login();
    const res = await createOrder(token).expect(200);
    assert.equal(res.body.appId, MP());
    assert.equal(res.body.paySign, independentPaySign(res.body, app.config.wechat.apiKey));
    const order = await app.model.Order.findOne({ where: { outTradeNo: res.body.outTradeNo } });
    assert.equal(order!.appid, MP());
  });

  it('refuses a notification for the right order that names the merchant\'s other app, even correctly signed', async () => {
    const { token } = await officialAccountUser('oa-payer-2');
    const { outTradeNo } = (await createOrder(token).expect(200)).body;
    // WeChat's own notification is held back, so the forged one is the first to arrive.
    testEnv.sim.setFault('notify', { kind: 'drop', beforeProcessing: true });
    await testEnv.sim.pay(outTradeNo);
    const fields: Record<string, string> = { ...testEnv.sim.buildNotification(outTradeNo), appid: MP() };
    delete fields.sign;
    fields.sign = sign(fields, app.config.wechat.apiKey, 'MD5');
    const res = await postNotify(buildXml(fields)).expect(200);
    assert.match(res.text, /<return_code><!\[CDATA\[FAIL\]\]><\/return_code>/);
    const order = await app.model.Order.findOne({ where: { outTradeNo } });
    assert.equal(order!.status, 'NOTPAY');
    const [ note ] = await app.model.PaymentNotification.findAll();
    assert.equal(note.outcome, 'REJECTED');
    assert.equal(note.reason, 'appid is not the order\'s');

    // The genuine notification, with the order's appid, is applied.
    testEnv.sim.clearFaults();
    await testEnv.sim.sendNotification(outTradeNo);
    await order!.reload();
    assert.equal(order!.status, 'SUCCESS');
  });

  it('refuses before any database read a notification naming an app the merchant does not have', async () => {
    const { token } = await officialAccountUser('oa-payer-3');
    const { outTradeNo } = (await createOrder(token).expect(200)).body;
    testEnv.sim.setFault('notify', { kind: 'drop', beforeProcessing: true });
    await testEnv.sim.pay(outTradeNo);
    const fields: Record<string, string> = { ...testEnv.sim.buildNotification(outTradeNo), appid: 'wx00000000000000ff' };
    delete fields.sign;
    fields.sign = sign(fields, app.config.wechat.apiKey, 'MD5');
    await postNotify(buildXml(fields)).expect(200);
    const [ note ] = await app.model.PaymentNotification.findAll();
    assert.equal(note.reason, 'appid is not ours');
  });

  it('closes an official-account order with its appid', async () => {
    const { token } = await officialAccountUser('oa-payer-4');
    const { outTradeNo } = (await createOrder(token).expect(200)).body;
    await app.httpRequest().post(`/payment/orders/${outTradeNo}/close`).set('Authorization', `Bearer ${token}`)
      .expect(200);
    assert.equal(testEnv.sim.requests('closeorder').at(-1)!.params.appid, OA());
    assert.equal(testEnv.sim.order(outTradeNo)!.tradeState, 'CLOSED');
  });

  it('keeps one user per (appid, openid) and links one person\'s users by unionid, without merging them', async () => {
    const mini = await login('same-openid-in-both');
    // An openid is only unique within its app: the same string in the official account is another user.
    const oa = await officialAccountUser('same-openid-in-both', 'union-person-1');
    assert.notEqual(oa.userId, mini.userId);
    // The mini-program login later reports the same unionid: both rows carry it, still two users.
    const code = testEnv.sim.issueLoginCode({ openid: 'same-openid-in-both', unionid: 'union-person-1' });
    const again = await app.httpRequest().post('/api/login').send({ code })
      .expect(200);
    assert.equal(again.body.user.id, mini.userId);
    const linked = await app.model.User.findAll({ where: { unionid: 'union-person-1' }, order: [[ 'id', 'ASC' ]] });
    assert.deepEqual(linked.map(u => [ u.appid, u.openid ]), [[ MP(), 'same-openid-in-both' ], [ OA(), 'same-openid-in-both' ]]);
    // Orders stay with the user (and so the app) that made them.
    const { outTradeNo } = (await createOrder(oa.token).expect(200)).body;
    await app.httpRequest().get(`/payment/orders/${outTradeNo}`).set('Authorization', `Bearer ${mini.token}`)
      .expect(404);
    // A later login without unionid leaves the stored one alone.
    await officialAccountUser('same-openid-in-both');
    assert.equal((await app.model.User.findByPk(oa.userId))!.unionid, 'union-person-1');
  });

  it('polls, refunds and takes the refund notification of an official-account order with its appid', async () => {
    const { token } = await officialAccountUser('oa-payer-5');
    const unpaid = (await createOrder(token).expect(200)).body.outTradeNo;
    await app.httpRequest().get(`/payment/orders/${unpaid}`).set('Authorization', `Bearer ${token}`)
      .expect(200);
    assert.equal(testEnv.sim.requests('orderquery').at(-1)!.params.appid, OA());

    const { outTradeNo } = await paidOrder(token);
    await requestRefund(outTradeNo, { amount: 500, reason: 'cold coffee' }).expect(201);
    assert.equal(testEnv.sim.requests('refund').at(-1)!.params.appid, OA());
    await testEnv.sim.waitForDelivery(outTradeNo, { kind: 'refund', acknowledged: true });
    const refund = await app.model.Refund.findOne({ where: { outTradeNo } });
    assert.equal(refund!.status, 'SUCCESS');

    // The same refund reported for the merchant's other app (decrypting with the merchant key, as all its apps' do): refused.
    const info = {
      transaction_id: refund!.transactionId, out_trade_no: outTradeNo, refund_id: refund!.refundId!, out_refund_no: refund!.outRefundNo,
      total_fee: 1200, refund_fee: 500, settlement_refund_fee: 500, refund_status: 'SUCCESS', success_time: '2026-11-23 17:15:42',
    };
    const plain = buildXml(Object.fromEntries(Object.entries(info).map(([ k, v ]) => [ k, String(v) ])), 'root');
    const body = buildXml({
      return_code: 'SUCCESS', appid: MP(), mch_id: app.config.wechat.mchId, nonce_str: nonceStr(), req_info: encryptRefundInfo(plain, app.config.wechat.apiKey),
    });
    const res = await app.httpRequest().post('/payment/refund-notify').set('Content-Type', 'text/xml')
      .send(body)
      .expect(200);
    assert.match(res.text, /FAIL/);
    const [ note ] = await app.model.PaymentNotification.findAll({ where: { kind: 'refund' }, order: [[ 'id', 'DESC' ]], limit: 1 });
    assert.equal(note.outcome, 'REJECTED');
    assert.equal(note.reason, 'appid is not the refunded order\'s');
  });

  it('refuses to make an order for a session whose app is no longer configured', async () => {
    const { token } = await officialAccountUser('oa-payer-6');
    mock(app.config.wechat, 'apps', { miniProgram: app.config.wechat.apps.miniProgram });
    const res = await createOrder(token).expect(401);
    assert.equal(res.body.code, 'SESSION_APP_UNKNOWN');
    assert.equal(await app.model.Order.count(), 0);
  });
});
