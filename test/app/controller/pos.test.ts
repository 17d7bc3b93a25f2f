import assert from 'node:assert/strict';
import * as http from 'node:http';
import { app, mock } from 'egg-mock/bootstrap';
import { buildXml } from '../../../lib/wechatpay';
import { PaymentCodeOptions } from '../../../simulator';
import { testEnv } from '../../support/env';
import { createOrder, login, resetWorld } from '../../support/fixtures';
import { postXml } from '../../support/postXml';
import { adminHeader, requestRefund } from '../../support/refunds';

const cashierHeader = () => ({ Authorization: `Bearer ${app.config.pos.cashierToken}` });
let keySeq = 0;
const newKey = () => `pos-${Date.now()}-${++keySeq}`;

/** POST /admin/pos/charges with the admin token (or the headers given). */
function charge(body: Record<string, unknown>, key: string | null = newKey(), headers: Record<string, string> = adminHeader()) {
  const req = app.httpRequest().post('/admin/pos/charges').set(headers);
  if (key) req.set('Idempotency-Key', key);
  return req.send(body);
}

/** A payment code of the simulator's test payer, behaving as `options` say. */
function code(options: PaymentCodeOptions = {}) {
  return testEnv.sim.issuePaymentCode(options);
}

async function stored(outTradeNo: string) {
  const order = (await app.model.Order.findOne({ where: { outTradeNo } }))!;
  const attempts = await app.model.PaymentAttempt.findAll({ where: { orderId: order.id } });
  const events = await app.model.OrderEvent.findAll({ where: { orderId: order.id }, order: [[ 'id', 'ASC' ]] });
  const charge = (await app.model.PosCharge.findOne({ where: { orderId: order.id } }))!;
  return { order, attempts, events, charge };
}

const requests = (api: Parameters<typeof testEnv.sim.requests>[0]) => testEnv.sim.requests(api);

describe('POS charges: POST/GET /admin/pos/charges', () => {
  beforeEach(resetWorld);
  afterEach(() => testEnv.sim.clearFaults());

  describe('paid', () => {
    it('paid at once: 201 PAID, the order settled once (PAID event), the payer recorded', async () => {
      // The process's counters outlive each test: what this one adds is compared.
      const micropaysApplied = async () => (await app.metrics.paymentsApplied.get()).values
        .filter(v => v.labels.source === 'query' && v.labels.event === 'PAID' && v.labels.trade_type === 'MICROPAY')
        .reduce((sum, v) => sum + v.value, 0);
      const appliedBefore = await micropaysApplied();
      const { authCode, openid } = code();
      const res = await charge({ authCode, amount: 1234, description: 'Counter sale', storeInfo: { id: 'SZ001', name: 'Shenzhen 1', areaCode: '440305' } })
        .expect(201);
      assert.equal(res.body.status, 'PAID');
      assert.equal(res.body.totalFee, 1234);
      assert.equal(res.body.body, 'Counter sale');
      assert.equal(res.body.payerOpenid, openid);
      assert.equal(res.body.operator, 'admin');
      assert.deepEqual(res.body.storeInfo, { id: 'SZ001', name: 'Shenzhen 1', areaCode: '440305' });
      assert.equal(res.body.failure, null);
      assert.match(res.body.transactionId, /^4200\d{24}$/);

      const { order, attempts, events, charge: row } = await stored(res.body.outTradeNo);
      assert.equal(order.status, 'SUCCESS');
      assert.equal(order.tradeType, 'MICROPAY');
      assert.equal(order.userId, null);
      assert.equal(order.appid, app.config.pos.appId);
      assert.equal(order.transactionId, res.body.transactionId);
      assert.deepEqual(attempts.map(a => [ a.status, a.tradeType ]), [[ 'PAID', 'MICROPAY' ]]);
      assert.deepEqual(events.map(e => [ e.type, e.source ]), [[ 'PAID', 'query' ]]);
      assert.equal(row.status, 'PAID');
      // Counted by its trade type (the payment-code charge settled through the order query path).
      assert.equal(await micropaysApplied() - appliedBefore, 1);
      // The order has no owner: its event names the payer WeChat reported.
      const outbox = await app.model.OutboxEvent.findAll({ where: { orderId: order.id } });
      assert.deepEqual(outbox.map(e => [ e.type, JSON.parse(e.payload).order.openid ]), [[ 'order.paid', openid ]]);

      const [ micropay ] = requests('micropay');
      assert.equal(micropay.params.auth_code, authCode);
      assert.equal(micropay.params.total_fee, '1234');
      assert.equal(micropay.params.appid, app.config.pos.appId);
      assert.equal(micropay.params.notify_url, undefined);
      assert.deepEqual(JSON.parse(micropay.params.scene_info), { store_info: { id: 'SZ001', name: 'Shenzhen 1', area_code: '440305' } });
      assert.equal(requests('orderquery').length, 0);
      assert.equal(requests('reverse').length, 0);
      assert.equal(testEnv.sim.order(res.body.outTradeNo)!.tradeState, 'SUCCESS');

      const got = await app.httpRequest().get(`/admin/pos/charges/${res.body.outTradeNo}`).set(adminHeader())
        .expect(200);
      assert.deepEqual(got.body, res.body);
    });

    it('items are priced by the server, as orders are', async () => {
      const res = await charge({ authCode: code().authCode, items: [{ productId: 1, quantity: 2 }, { productId: 2 }] }).expect(201);
      assert.equal(res.body.status, 'PAID');
      assert.equal(res.body.totalFee, 2 * 1200 + 850);
      assert.equal(res.body.body, 'Coffee x2, Croissant');
      assert.equal(requests('micropay')[0].params.total_fee, String(2 * 1200 + 850));
    });

    it('USERPAYING, then the payer enters the password: PAID after polling, nothing reversed', async () => {
      const res = await charge({ authCode: code({ behaviour: 'password', passwordAfterQueries: 1 }).authCode, amount: 500 }).expect(201);
      assert.equal(res.body.status, 'PAID');
      assert.equal(requests('orderquery').length, 2);
      assert.equal(requests('reverse').length, 0);
      const { order, events } = await stored(res.body.outTradeNo);
      assert.equal(order.status, 'SUCCESS');
      assert.deepEqual(events.map(e => e.type), [ 'PAID' ]);
    });

    it('the reply is lost but the payment happened: found by query, paid once', async () => {
      testEnv.sim.setFault('micropay', { kind: 'drop' }, 1);
      const res = await charge({ authCode: code().authCode, amount: 700 }).expect(201);
      assert.equal(res.body.status, 'PAID');
      assert.equal(requests('micropay').length, 1, 'micropay is never sent twice');
      assert.ok(requests('orderquery').length >= 1);
      const { events } = await stored(res.body.outTradeNo);
      assert.deepEqual(events.map(e => e.type), [ 'PAID' ]);
    });

    for (const replyError of [ 'SYSTEMERROR', 'BANKERROR' ] as const) {
      it(`${replyError}, then the query says paid: PAID`, async () => {
        const res = await charge({ authCode: code({ replyError }).authCode, amount: 300 }).expect(201);
        assert.equal(res.body.status, 'PAID');
        assert.equal(requests('micropay').length, 1);
        assert.equal(requests('orderquery').length, 1);
        assert.equal((await stored(res.body.outTradeNo)).order.status, 'SUCCESS');
      });
    }

    it('a notification arriving as well never pays the order twice', async () => {
      const res = await charge({ authCode: code().authCode, amount: 900 }).expect(201);
      const fields = testEnv.sim.buildNotification(res.body.outTradeNo);
      const agent = new http.Agent({ keepAlive: false });
      const reply = await postXml(`${testEnv.appUrl}/payment/notify`, buildXml(fields), agent);
      assert.match(reply, /<return_code><!\[CDATA\[SUCCESS\]\]><\/return_code>/);
      const { order, events } = await stored(res.body.outTradeNo);
      assert.equal(order.status, 'SUCCESS');
      assert.equal(order.refundRequired, false);
      assert.deepEqual(events.map(e => e.type), [ 'PAID' ]);
      const audit = await app.model.PaymentNotification.findAll({ where: { outTradeNo: res.body.outTradeNo } });
      assert.deepEqual(audit.map(a => a.outcome), [ 'DUPLICATE' ]);
    });
  });

  describe('failed or reversed', () => {
    it('USERPAYING and the payer never confirms: polled up to the limit, then reversed', async () => {
      const res = await charge({ authCode: code({ behaviour: 'password' }).authCode, amount: 500 }).expect(201);
      assert.equal(res.body.status, 'REVERSED');
      assert.equal(res.body.failure.code, 'PAYER_TIMED_OUT');
      assert.equal(res.body.transactionId, null);
      const { queryIntervalMs, queryLimitMs } = app.config.pos;
      // Polls within the limit, plus the close path's one query before it reverses.
      const queries = requests('orderquery').length;
      assert.ok(queries >= 2 && queries <= Math.floor(queryLimitMs / queryIntervalMs) + 1, `${queries} queries`);
      assert.equal(requests('reverse').length, 1);
      assert.equal(testEnv.sim.order(res.body.outTradeNo)!.tradeState, 'REVOKED');
      const { order, attempts, events, charge: row } = await stored(res.body.outTradeNo);
      assert.equal(order.status, 'CLOSED');
      assert.deepEqual(attempts.map(a => a.status), [ 'CLOSED' ]);
      assert.deepEqual(events.map(e => [ e.type, e.source ]), [[ 'CLOSED', 'pos' ]]);
      assert.equal(row.status, 'REVERSED');
    });

    it('a reverse answered recall=Y is called again until WeChat says done', async () => {
      const res = await charge({ authCode: code({ behaviour: 'password', reverseRecalls: 2 }).authCode, amount: 500 }).expect(201);
      assert.equal(res.body.status, 'REVERSED');
      assert.equal(requests('reverse').length, 3);
      assert.equal(testEnv.sim.order(res.body.outTradeNo)!.tradeState, 'REVOKED');
    });

    it('recall=Y past the configured number of calls: 202 PROCESSING, the order left for the expiry job', async () => {
      mock(app.config.pos, 'reverseMaxCalls', 2);
      const res = await charge({ authCode: code({ behaviour: 'password', reverseRecalls: 5 }).authCode, amount: 500 }).expect(202);
      assert.equal(res.body.status, 'PROCESSING');
      assert.equal(requests('reverse').length, 2);
      assert.equal((await stored(res.body.outTradeNo)).order.status, 'NOTPAY');
    });

    it('SYSTEMERROR, then the query says the payment failed: FAILED with WeChat\'s words, nothing reversed', async () => {
      const res = await charge({ authCode: code({ behaviour: 'NOTENOUGH', replyError: 'SYSTEMERROR' }).authCode, amount: 300 }).expect(201);
      assert.equal(res.body.status, 'FAILED');
      assert.equal(res.body.failure.code, 'PAYMENT_FAILED');
      assert.equal(res.body.failure.wechatCode, 'PAYERROR');
      assert.match(res.body.failure.message, /WeChat: /);
      assert.equal(requests('reverse').length, 0);
      assert.equal((await stored(res.body.outTradeNo)).order.status, 'CLOSED');
    });

    it('SYSTEMERROR and the payment never reached WeChat: queried up to the limit, then reversed', async () => {
      testEnv.sim.setFault('micropay', { kind: 'systemerror' }, 1);
      const res = await charge({ authCode: code().authCode, amount: 300 }).expect(201);
      assert.equal(res.body.status, 'REVERSED');
      assert.equal(res.body.failure.code, 'RESULT_UNKNOWN');
      assert.equal(requests('micropay').length, 1);
      assert.equal(requests('reverse').length, 1);
      assert.equal((await stored(res.body.outTradeNo)).order.status, 'CLOSED');
    });

    const finals: Array<[NonNullable<PaymentCodeOptions['behaviour']>, string]> = [
      [ 'AUTHCODEEXPIRE', 'PAYMENT_CODE_EXPIRED' ],
      [ 'AUTH_CODE_INVALID', 'PAYMENT_CODE_INVALID' ],
      [ 'NOTENOUGH', 'PAYER_FUNDS_DECLINED' ],
      [ 'NOTSUPORTCARD', 'PAYER_FUNDS_DECLINED' ],
    ];
    for (const [ behaviour, ours ] of finals) {
      it(`${behaviour}: final, FAILED ${ours} with WeChat's message, no query, no reverse`, async () => {
        const res = await charge({ authCode: code({ behaviour }).authCode, amount: 300 }).expect(201);
        assert.equal(res.body.status, 'FAILED');
        assert.equal(res.body.failure.code, ours);
        assert.equal(res.body.failure.wechatCode, behaviour);
        assert.match(res.body.failure.message, /\(WeChat: .+\)$/);
        assert.equal(requests('orderquery').length, 0);
        assert.equal(requests('reverse').length, 0);
        const { order, attempts, events, charge: row } = await stored(res.body.outTradeNo);
        assert.equal(order.status, 'CLOSED');
        assert.deepEqual(attempts.map(a => [ a.status, a.errCode ]), [[ 'FAILED', behaviour ]]);
        assert.deepEqual(events.map(e => [ e.type, e.source ]), [[ 'CLOSED', 'pos' ]]);
        assert.equal(row.status, 'FAILED');
      });
    }

    it('a payment code used once is refused the second time (AUTH_CODE_INVALID)', async () => {
      const { authCode } = code();
      await charge({ authCode, amount: 100 }).expect(201);
      const again = await charge({ authCode, amount: 100 }).expect(201);
      assert.equal(again.body.status, 'FAILED');
      assert.equal(again.body.failure.wechatCode, 'AUTH_CODE_INVALID');
    });
  });

  describe('input', () => {
    it('refuses a malformed authCode with 422 before anything is stored or sent', async () => {
      for (const authCode of [ '12345', '161234567890123456', '091234567890123456', '13123456789012345', '1312345678901234567', 'abc', 131234567890123456 ]) {
        const res = await charge({ authCode, amount: 100 }).expect(422);
        assert.equal(res.body.code, 'VALIDATION_FAILED');
        assert.equal(res.body.field, 'authCode');
      }
      assert.equal(await app.model.Order.count(), 0);
      assert.equal(requests('micropay').length, 0);
    });

    it('refuses bad amounts, both amount and items, no Idempotency-Key, a store without id: 422', async () => {
      const authCode = code().authCode;
      const cases: Array<[Record<string, unknown>, string | null, string]> = [
        [{ authCode, amount: 0 }, newKey(), 'amount' ],
        [{ authCode, amount: 1.5 }, newKey(), 'amount' ],
        [{ authCode, amount: '100' }, newKey(), 'amount' ],
        [{ authCode }, newKey(), 'amount' ],
        [{ authCode, amount: 100, items: [{ productId: 1 }] }, newKey(), 'amount' ],
        [{ authCode, items: [] }, newKey(), 'items' ],
        [{ authCode, amount: 100 }, null, 'Idempotency-Key' ],
        [{ authCode, amount: 100, storeInfo: { name: 'x' } }, newKey(), 'storeInfo.id' ],
        [{ authCode, amount: 100, storeInfo: { id: 'S1', areaCode: '44' } }, newKey(), 'storeInfo.areaCode' ],
      ];
      for (const [ body, key, field ] of cases) {
        const res = await charge(body, key).expect(422);
        assert.equal(res.body.field, field, JSON.stringify(body));
      }
      const retired = await charge({ authCode, items: [{ productId: 9 }] }).expect(422);
      assert.equal(retired.body.field, 'items[0].productId');
      assert.equal(requests('micropay').length, 0);
    });

    it('GET of an unknown number, or of a mini-program order: 404 CHARGE_NOT_FOUND', async () => {
      const { token } = await login();
      const created = await createOrder(token).expect(200);
      for (const outTradeNo of [ 'M20261130000000abcdef', created.body.outTradeNo ]) {
        const res = await app.httpRequest().get(`/admin/pos/charges/${outTradeNo}`).set(adminHeader())
          .expect(404);
        assert.equal(res.body.code, 'CHARGE_NOT_FOUND');
      }
    });
  });

  describe('tokens', () => {
    it('no token or a wrong one: 401 POS_UNAUTHORIZED, nothing charged', async () => {
      const authCode = code().authCode;
      for (const headers of [ {} as Record<string, string>, { Authorization: 'Bearer wrong-token' }, { Authorization: `Basic ${app.config.adminToken}` }, { Authorization: `Bearer ${app.config.pos.cashierToken}x` }]) {
        const res = await charge({ authCode, amount: 100 }, newKey(), headers).expect(401);
        assert.equal(res.body.code, 'POS_UNAUTHORIZED');
      }
      await app.httpRequest().get('/admin/pos/charges/M1').expect(401);
      assert.equal(await app.model.Order.count(), 0);
      assert.equal(requests('micropay').length, 0);
    });

    it('the cashier token charges and reads, but cannot refund', async () => {
      const res = await charge({ authCode: code().authCode, amount: 100 }, newKey(), cashierHeader()).expect(201);
      assert.equal(res.body.operator, 'cashier');
      await app.httpRequest().get(`/admin/pos/charges/${res.body.outTradeNo}`).set(cashierHeader())
        .expect(200);
      const refund = await app.httpRequest().post(`/admin/orders/${res.body.outTradeNo}/refunds`).set(cashierHeader())
        .send({ amount: 100, reason: 'r' })
        .expect(401);
      assert.equal(refund.body.code, 'ADMIN_UNAUTHORIZED');
      assert.equal(await app.model.Refund.count(), 0);
    });

    it('no cashier token configured: the cashier\'s old token is refused, the admin token still charges', async () => {
      const old = app.config.pos.cashierToken;
      mock(app.config.pos, 'cashierToken', '');
      await charge({ authCode: code().authCode, amount: 100 }, newKey(), { Authorization: `Bearer ${old}` }).expect(401);
      await charge({ authCode: code().authCode, amount: 100 }).expect(201);
    });
  });

  describe('idempotency', () => {
    it('the same request with the same key answers the same charge (200) and never charges again', async () => {
      const key = newKey();
      const body = { authCode: code().authCode, amount: 450 };
      const first = await charge(body, key).expect(201);
      const again = await charge(body, key).expect(200);
      assert.deepEqual(again.body, first.body);
      assert.equal(requests('micropay').length, 1);
      assert.equal(await app.model.Order.count(), 1);
    });

    it('the same key with another request: 409 IDEMPOTENCY_KEY_REUSED', async () => {
      const key = newKey();
      const authCode = code().authCode;
      await charge({ authCode, amount: 450 }, key).expect(201);
      const res = await charge({ authCode, amount: 451 }, key).expect(409);
      assert.equal(res.body.code, 'IDEMPOTENCY_KEY_REUSED');
      assert.equal(requests('micropay').length, 1);
    });

    it('concurrent requests with one key make one charge', async () => {
      const key = newKey();
      const body = { authCode: code({ behaviour: 'password', passwordAfterQueries: 1 }).authCode, amount: 450 };
      const replies = await Promise.all([ charge(body, key), charge(body, key), charge(body, key) ]);
      const numbers = new Set(replies.map(r => r.body.outTradeNo));
      assert.equal(numbers.size, 1);
      assert.equal(requests('micropay').length, 1);
      assert.equal(await app.model.Order.count(), 1);
      // One request charged; the others answered its charge: in flight (202) or finished (200).
      assert.equal(replies.filter(r => r.status === 201).length, 1);
      assert.ok(replies.every(r => [ 200, 201, 202 ].includes(r.status)), replies.map(r => r.status).join());
      const final = await app.httpRequest().get(`/admin/pos/charges/${[ ...numbers ][0]}`).set(adminHeader())
        .expect(200);
      assert.equal(final.body.status, 'PAID');
    });
  });

  describe('after the charge', () => {
    it('a paid POS order is refunded through the admin refund API', async () => {
      const res = await charge({ authCode: code().authCode, amount: 1000 }).expect(201);
      const refund = await requestRefund(res.body.outTradeNo, { amount: 400, reason: 'returned item' }).expect(201);
      assert.equal(refund.body.amount, 400);
      const [ sent ] = requests('refund');
      assert.equal(sent.params.out_trade_no, res.body.outTradeNo);
      assert.equal(sent.params.appid, app.config.pos.appId);
      assert.equal(sent.params.total_fee, '1000');
      await testEnv.sim.waitForDelivery(res.body.outTradeNo, { kind: 'refund', acknowledged: true });
      const got = await app.httpRequest().get(`/admin/pos/charges/${res.body.outTradeNo}`).set(adminHeader())
        .expect(200);
      assert.equal(got.body.status, 'PAID');
      assert.equal(got.body.refundedFee, 400);
      // Every event of the order names the payer its charge recorded.
      const { order } = await stored(res.body.outTradeNo);
      const outbox = await app.model.OutboxEvent.findAll({ where: { orderId: order.id }, order: [[ 'seq', 'ASC' ]] });
      assert.deepEqual(outbox.map(e => [ e.type, JSON.parse(e.payload).order.openid ]),
        [[ 'order.paid', res.body.payerOpenid ], [ 'refund.succeeded', res.body.payerOpenid ]]);
    });

    it('a charge left PROCESSING (reverse not confirmed) is reversed and closed by the expiry job', async () => {
      testEnv.sim.setFault('reverse', { kind: 'systemerror' });
      const res = await charge({ authCode: code({ behaviour: 'password' }).authCode, amount: 500 }).expect(202);
      assert.equal(res.body.status, 'PROCESSING');
      testEnv.sim.clearFaults();
      await app.model.Order.update({ expiresAt: new Date(Date.now() - 1000) }, { where: { outTradeNo: res.body.outTradeNo } });
      await app.runSchedule('closeExpiredOrders');
      const got = await app.httpRequest().get(`/admin/pos/charges/${res.body.outTradeNo}`).set(adminHeader())
        .expect(200);
      assert.equal(got.body.status, 'REVERSED');
      assert.equal(testEnv.sim.order(res.body.outTradeNo)!.tradeState, 'REVOKED');
      const { order, events } = await stored(res.body.outTradeNo);
      assert.equal(order.status, 'CLOSED');
      assert.deepEqual(events.map(e => [ e.type, e.source ]), [[ 'CLOSED', 'job' ]]);
      assert.equal(requests('closeorder').length, 0, 'a payment-code order is reversed, never closed with closeorder');
    });

    it('the expiry job finds a payment that completed after all: settled, not reversed', async () => {
      testEnv.sim.setFault('reverse', { kind: 'systemerror' });
      const res = await charge({ authCode: code({ behaviour: 'password' }).authCode, amount: 500 }).expect(202);
      testEnv.sim.clearFaults();
      testEnv.sim.confirmPassword(res.body.outTradeNo);
      const reversesBefore = requests('reverse').length;
      await app.model.Order.update({ expiresAt: new Date(Date.now() - 1000) }, { where: { outTradeNo: res.body.outTradeNo } });
      await app.runSchedule('closeExpiredOrders');
      const got = await app.httpRequest().get(`/admin/pos/charges/${res.body.outTradeNo}`).set(adminHeader())
        .expect(200);
      assert.equal(got.body.status, 'PAID');
      assert.equal(requests('reverse').length, reversesBefore);
      const { events } = await stored(res.body.outTradeNo);
      assert.deepEqual(events.map(e => e.type), [ 'PAID' ]);
    });
  });

  describe('sandbox mode (WECHAT_SANDBOX=true)', () => {
    it('a charge paid through the sandbox: key fetched, /sandboxnew paths, signed with the sandbox key', async () => {
      mock(app.config.wechat, 'sandbox', true);
      const res = await charge({ authCode: code({ behaviour: 'password', passwordAfterQueries: 0 }).authCode, amount: 101 }).expect(201);
      assert.equal(res.body.status, 'PAID');
      const paths = testEnv.sim.requests().map(r => r.path);
      assert.deepEqual(paths, [ '/sandboxnew/pay/getsignkey', '/sandboxnew/pay/micropay', '/sandboxnew/pay/orderquery' ]);
      assert.equal((await stored(res.body.outTradeNo)).order.status, 'SUCCESS');
    });

    it('a wrong API key: the sandbox refuses the key exchange, the charge is refused and nothing is paid', async () => {
      mock(app.config.wechat, 'sandbox', true);
      mock(app.config.wechat, 'apiKey', 'x'.repeat(32));
      const res = await charge({ authCode: code().authCode, amount: 101 }).expect(201);
      assert.equal(res.body.status, 'FAILED');
      assert.equal(res.body.failure.wechatCode, 'FAIL');
      assert.match(res.body.failure.message, /签名错误/);
      assert.deepEqual(testEnv.sim.requests().map(r => r.path), [ '/sandboxnew/pay/getsignkey' ]);
    });
  });
});
