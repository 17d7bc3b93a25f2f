import assert from 'node:assert/strict';
import { app, mock } from 'egg-mock/bootstrap';
import { closedUrl } from '../support/closedPort';
import { testEnv } from '../support/env';
import { PRODUCTS, resetWorld } from '../support/fixtures';
import { createWxStub } from './wxStub';

// The example is plain JavaScript for WeChat DevTools; these are the shapes the tests rely on.
interface ApiRequest { method?: string; path: string; data?: unknown; header?: Record<string, string>; auth?: boolean }
interface Api { login(): Promise<{ id: number; openid: string }>; request(req: ApiRequest): Promise<any>; readonly token: string | null }
interface ApiErrorShape extends Error { status: number; code: string; field?: string; retryable: boolean }
interface Outcome { result: string; outTradeNo: string; order?: any; errMsg?: string }
interface Checkout {
  pay(input: { items: Array<{ productId: number; quantity: number }>; idempotencyKey?: string; onStep?: (step: string, detail?: any) => void }): Promise<Outcome>;
  pollOrder(outTradeNo: string, onPoll?: (order: any, poll: number) => void): Promise<any>;
}
const { createApi, ApiError } = require('../../examples/miniprogram/lib/api') as {
  createApi(options: { wx: unknown; baseUrl: string; getLoginCode?: () => Promise<string> }): Api;
  ApiError: new (...args: any[]) => ApiErrorShape;
};
const { createCheckout, describeOutcome, resultOf, outcomeOfRefusal, NEW_ORDER_CODES } = require('../../examples/miniprogram/lib/checkout') as {
  createCheckout(options: { wx: unknown; api: Api; maxPolls?: number; pollIntervalMs?: number; sleep?: (ms: number) => Promise<void> }): Checkout;
  describeOutcome(outcome: Outcome): string;
  resultOf(order: { status: string }): string;
  outcomeOfRefusal(err: unknown): { result: string } | null;
  NEW_ORDER_CODES: string[];
};

/** Resolves the ApiError a promise rejects with (and fails when it resolves). */
async function apiError(promise: Promise<unknown>): Promise<ApiErrorShape> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof ApiError, `expected an ApiError, got ${err}`);
    return err;
  }
  assert.fail('expected the call to fail');
}

const pathOf = (url: string) => new URL(url).pathname;

describe('examples/miniprogram lib/api.js against the running service', () => {
  beforeEach(resetWorld);
  afterEach(() => mock.restore());

  it('logs in with wx.login() on the first authenticated call, then sends the token as a bearer header', async () => {
    const { wx, calls, storage } = createWxStub();
    const api = createApi({ wx, baseUrl: testEnv.appUrl });
    const params = await api.request({ method: 'POST', path: '/payment/order', data: { items: [{ productId: PRODUCTS.coffee.id, quantity: 1 }] } });
    const order = await api.request({ method: 'GET', path: `/payment/orders/${params.outTradeNo}` });

    assert.equal(order.status, 'NOTPAY');
    assert.equal(calls.login, 1);
    assert.deepEqual(calls.requests.map(r => `${r.method} ${pathOf(r.url)} ${r.statusCode}`), [
      'POST /api/login 200', 'POST /payment/order 200', `GET /payment/orders/${params.outTradeNo} 200`,
    ]);
    assert.ok(api.token);
    assert.equal(calls.requests[1].header.authorization, `Bearer ${api.token}`);
    assert.equal(calls.requests[2].header.authorization, `Bearer ${api.token}`);
    assert.equal(storage.get('wxpay.token'), api.token, 'the token survives an app restart');
  });

  it('on 401 SESSION_EXPIRED logs in again once and retries the call once', async () => {
    const { wx, calls } = createWxStub();
    const api = createApi({ wx, baseUrl: testEnv.appUrl });
    await api.login();
    const oldToken = api.token;
    await app.redis.flushdb(); // every session is gone, as after its TTL

    const reply = await api.request({ method: 'POST', path: '/payment/order', data: { items: [{ productId: 1, quantity: 1 }] } });

    assert.match(reply.outTradeNo, /^P/);
    assert.equal(calls.login, 2);
    assert.notEqual(api.token, oldToken);
    assert.deepEqual(calls.requests.map(r => `${r.method} ${pathOf(r.url)} ${r.statusCode}`), [
      'POST /api/login 200', 'POST /payment/order 401', 'POST /api/login 200', 'POST /payment/order 200',
    ]);
    assert.equal(await app.model.Order.count(), 1);
  });

  it('on 401 UNAUTHORIZED (a stored token the service cannot read) logs in again once', async () => {
    const { wx, calls, storage } = createWxStub();
    storage.set('wxpay.token', 'not a token');
    const api = createApi({ wx, baseUrl: testEnv.appUrl });

    const reply = await api.request({ method: 'GET', path: '/payment/orders/P0000000000000000000000000000' }).catch(e => e);

    // The retried call reached the service with a valid session: its own 404 comes back.
    assert.equal(reply.code, 'ORDER_NOT_FOUND');
    assert.equal(calls.login, 1);
    assert.deepEqual(calls.requests.map(r => r.statusCode), [ 401, 200, 404 ]);
  });

  it('gives up after one fresh login when the service still refuses the session', async () => {
    app.mockService('session', 'resolve', async () => null);
    const { wx, calls } = createWxStub();
    const api = createApi({ wx, baseUrl: testEnv.appUrl });

    const err = await apiError(api.request({ method: 'GET', path: '/payment/orders/P0000000000000000000000000000' }));

    assert.equal(err.status, 401);
    assert.equal(err.code, 'SESSION_EXPIRED');
    assert.equal(err.message, 'session token is invalid or expired, log in again');
    assert.equal(calls.login, 2);
    assert.deepEqual(calls.requests.map(r => `${r.method} ${pathOf(r.url)} ${r.statusCode}`), [
      'POST /api/login 200', 'GET /payment/orders/P0000000000000000000000000000 401',
      'POST /api/login 200', 'GET /payment/orders/P0000000000000000000000000000 401',
    ]);
  });

  it('concurrent first calls share one login', async () => {
    const { wx, calls } = createWxStub();
    const api = createApi({ wx, baseUrl: testEnv.appUrl });
    const path = '/payment/orders/P0000000000000000000000000000';
    const errors = await Promise.all([ apiError(api.request({ path })), apiError(api.request({ path })) ]);
    assert.deepEqual(errors.map(e => e.code), [ 'ORDER_NOT_FOUND', 'ORDER_NOT_FOUND' ]);
    assert.equal(calls.login, 1);
  });

  it("surfaces the service's { code, message, field } on a refused request", async () => {
    const { wx } = createWxStub();
    const api = createApi({ wx, baseUrl: testEnv.appUrl });
    const err = await apiError(api.request({ method: 'POST', path: '/payment/order', data: { items: [{ productId: PRODUCTS.retired.id, quantity: 1 }] } }));
    assert.equal(err.status, 422);
    assert.equal(err.code, 'VALIDATION_FAILED');
    assert.equal(err.message, `product ${PRODUCTS.retired.id} does not exist or is not for sale`);
    assert.equal(err.field, 'items[0].productId');
    assert.equal(err.retryable, false);
  });

  it('surfaces a refused login code (INVALID_LOGIN_CODE) without trying again', async () => {
    const { wx, calls } = createWxStub({ loginCode: () => 'a-code-wechat-never-issued' });
    const api = createApi({ wx, baseUrl: testEnv.appUrl });
    const err = await apiError(api.request({ path: '/payment/orders/P0000000000000000000000000000' }));
    assert.equal(err.status, 401);
    assert.equal(err.code, 'INVALID_LOGIN_CODE');
    assert.ok(err.message.length > 0);
    assert.equal(calls.login, 1);
    assert.deepEqual(calls.requests.map(r => pathOf(r.url)), [ '/api/login' ]);
  });

  it('a 503 from the service is marked retryable, with its message', async () => {
    testEnv.sim.setFault('unifiedorder', { kind: 'systemerror' });
    try {
      const { wx } = createWxStub();
      const api = createApi({ wx, baseUrl: testEnv.appUrl });
      const err = await apiError(api.request({ method: 'POST', path: '/payment/order', data: { items: [{ productId: 1, quantity: 1 }] } }));
      assert.equal(err.status, 503);
      assert.equal(err.code, 'WECHAT_BUSY');
      assert.equal(err.retryable, true);
    } finally {
      testEnv.sim.clearFaults();
    }
  });

  it('an unreachable service is a retryable NETWORK_ERROR', async () => {
    const { wx } = createWxStub();
    const api = createApi({ wx, baseUrl: await closedUrl() });
    const err = await apiError(api.request({ path: '/api/products', auth: false }));
    assert.equal(err.status, 0);
    assert.equal(err.code, 'NETWORK_ERROR');
    assert.equal(err.retryable, true);
    assert.match(err.message, /^network error, try again/);
  });
});

describe('examples/miniprogram lib/checkout.js against the running service and the simulator', () => {
  beforeEach(resetWorld);
  afterEach(() => mock.restore());

  /** A checkout whose polls do not wait: each poll is a real request, the pause between is skipped. */
  function setup(payment: Parameters<typeof createWxStub>[0] = {}, maxPolls = 5) {
    const stub = createWxStub(payment);
    const api = createApi({ wx: stub.wx, baseUrl: testEnv.appUrl });
    const pauses: number[] = [];
    const checkout = createCheckout({ wx: stub.wx, api, maxPolls, pollIntervalMs: 1000, sleep: async ms => { pauses.push(ms); } });
    return { ...stub, api, checkout, pauses };
  }
  const statusPolls = (requests: Array<{ method: string; url: string }>) =>
    requests.filter(r => r.method === 'GET' && pathOf(r.url).startsWith('/payment/orders/'));

  it('orders with an Idempotency-Key, pays with the five fields, polls until the order is SUCCESS', async () => {
    const { wx, calls, checkout } = setup({ payment: 'pay' });
    const steps: string[] = [];
    const outcome = await checkout.pay({
      items: [{ productId: PRODUCTS.coffee.id, quantity: 2 }],
      idempotencyKey: 'checkout-test-1',
      onStep: step => steps.push(step),
    });

    assert.equal(outcome.result, 'PAID');
    assert.equal(outcome.order.status, 'SUCCESS');
    assert.equal(describeOutcome(outcome), 'Payment successful.');
    assert.equal(steps[0], 'ordering');
    assert.equal(steps[1], 'paying');
    assert.equal(steps[2], 'confirming');
    assert.equal(steps[steps.length - 1], 'done');

    // wx.requestPayment got exactly what it takes, with a paySign WeChat's client accepted.
    assert.equal(calls.requestPayment.length, 1);
    assert.deepEqual(Object.keys(calls.requestPayment[0]).sort(), [ 'nonceStr', 'package', 'paySign', 'signType', 'timeStamp' ]);
    const orderRequest = calls.requests.find(r => pathOf(r.url) === '/payment/order')!;
    assert.equal(orderRequest.header['Idempotency-Key'], 'checkout-test-1');
    assert.equal(wx.payment, 'pay');

    const order = await app.model.Order.findOne({ where: { outTradeNo: outcome.outTradeNo } });
    assert.ok(order);
    assert.equal(order.status, 'SUCCESS');
    assert.equal(order.totalFee, 2 * PRODUCTS.coffee.priceFen);
    assert.equal(order.idempotencyKey, 'checkout-test-1');
    assert.match(order.transactionId!, /^4200\d{24}$/);
  });

  it('user cancels the payment sheet: CANCELLED, the order stays NOTPAY and is not polled', async () => {
    const { calls, checkout } = setup({ payment: 'cancel' });
    const outcome = await checkout.pay({ items: [{ productId: 1, quantity: 1 }] });

    assert.equal(outcome.result, 'CANCELLED');
    assert.equal(outcome.errMsg, 'requestPayment:fail cancel');
    assert.equal(describeOutcome(outcome), 'Payment cancelled. You can pay again.');
    assert.equal(statusPolls(calls.requests).length, 0);
    const order = await app.model.Order.findOne({ where: { outTradeNo: outcome.outTradeNo } });
    assert.equal(order!.status, 'NOTPAY');
    assert.equal(testEnv.sim.order(outcome.outTradeNo)!.tradeState, 'NOTPAY');
  });

  it('WeChat refuses the payment: FAILED with the sheet\'s message after one status check', async () => {
    const { calls, checkout } = setup({ payment: 'fail' });
    const outcome = await checkout.pay({ items: [{ productId: 1, quantity: 1 }] });

    assert.equal(outcome.result, 'FAILED');
    assert.equal(outcome.errMsg, 'requestPayment:fail 余额不足');
    assert.equal(outcome.order.status, 'NOTPAY');
    assert.equal(statusPolls(calls.requests).length, 1);
    assert.equal((await app.model.Order.findOne({ where: { outTradeNo: outcome.outTradeNo } }))!.status, 'NOTPAY');
    assert.equal(testEnv.sim.order(outcome.outTradeNo)!.tradeState, 'PAYERROR');
  });

  it('paying again after a cancel with the same key pays the same order, once', async () => {
    const { wx, checkout } = setup({ payment: 'cancel' });
    const first = await checkout.pay({ items: [{ productId: 2, quantity: 1 }], idempotencyKey: 'retry-after-cancel' });
    wx.payment = 'pay';
    const second = await checkout.pay({ items: [{ productId: 2, quantity: 1 }], idempotencyKey: 'retry-after-cancel' });

    assert.equal(first.result, 'CANCELLED');
    assert.equal(second.result, 'PAID');
    assert.equal(second.outTradeNo, first.outTradeNo);
    assert.equal(await app.model.Order.count(), 1);
    assert.equal((await app.model.Order.findOne())!.status, 'SUCCESS');
  });

  it('polls a bounded number of times: a payment WeChat never saw ends PENDING after maxPolls', async () => {
    const { calls, checkout, pauses } = setup({ payment: 'success-unpaid' }, 3);
    const outcome = await checkout.pay({ items: [{ productId: 1, quantity: 1 }] });

    assert.equal(outcome.result, 'PENDING');
    assert.equal(outcome.order.status, 'NOTPAY');
    assert.equal(statusPolls(calls.requests).length, 3);
    assert.deepEqual(pauses, [ 1000, 1000 ]);
    assert.equal(describeOutcome(outcome), 'Payment is being confirmed. Check the order again in a moment.');
  });

  it("a refused order rejects with the service's error before any payment sheet opens", async () => {
    const { calls, checkout } = setup({ payment: 'pay' });
    const err = await apiError(checkout.pay({ items: [{ productId: PRODUCTS.retired.id, quantity: 1 }] }));
    assert.equal(err.code, 'VALIDATION_FAILED');
    assert.equal(err.field, 'items[0].productId');
    assert.equal(calls.requestPayment.length, 0);
    assert.equal(await app.model.Order.count(), 0);
  });

  it('checking out again with the key of a paid order rejects with ORDER_ALREADY_PAID', async () => {
    const { checkout } = setup({ payment: 'pay' });
    await checkout.pay({ items: [{ productId: 1, quantity: 1 }], idempotencyKey: 'paid-twice' });
    const err = await apiError(checkout.pay({ items: [{ productId: 1, quantity: 1 }], idempotencyKey: 'paid-twice' }));
    assert.equal(err.status, 409);
    assert.equal(err.code, 'ORDER_ALREADY_PAID');
    assert.equal(err.message, 'this order is already paid');
    // What both order pages (mini-program and browser demo) make of it: the checkout is paid.
    assert.deepEqual(outcomeOfRefusal(err), { result: 'PAID' });
    assert.equal(NEW_ORDER_CODES.includes(err.code), false, 'a paid order needs no new order');
  });

  it('resultOf, which both order pages use to show a polled order: a refunded (REFUND) order is still paid', async () => {
    const { checkout } = setup({ payment: 'pay' });
    const paid = await checkout.pay({ items: [{ productId: 1, quantity: 1 }] });
    assert.equal(paid.result, 'PAID');
    await app.model.Order.update({ status: 'REFUND' }, { where: { outTradeNo: paid.outTradeNo } });

    const order = await checkout.pollOrder(paid.outTradeNo);
    assert.equal(order.status, 'REFUND');
    assert.equal(resultOf(order), 'PAID');
    assert.equal(describeOutcome({ result: resultOf(order), outTradeNo: paid.outTradeNo, order }), 'Payment successful.');
    assert.equal(resultOf({ status: 'SUCCESS' }), 'PAID');
    assert.equal(resultOf({ status: 'CLOSED' }), 'CLOSED');
    assert.equal(resultOf({ status: 'NOTPAY' }), 'PENDING');
  });

  it('a refusal that is just an error has no outcome of its own', async () => {
    const { checkout } = setup({ payment: 'pay' });
    const err = await apiError(checkout.pay({ items: [{ productId: PRODUCTS.retired.id, quantity: 1 }] }));
    assert.equal(outcomeOfRefusal(err), null);
    assert.deepEqual(NEW_ORDER_CODES, [ 'ORDER_EXPIRED', 'ORDER_CLOSED', 'IDEMPOTENCY_KEY_REUSED' ]);
  });

  it('a session that expired before checkout: one fresh login, then the payment goes through', async () => {
    const { calls, api, checkout } = setup({ payment: 'pay' });
    await api.login();
    await app.redis.flushdb();
    const outcome = await checkout.pay({ items: [{ productId: 1, quantity: 1 }] });
    assert.equal(outcome.result, 'PAID');
    assert.equal(calls.login, 2);
    assert.equal((await app.model.Order.findOne({ where: { outTradeNo: outcome.outTradeNo } }))!.status, 'SUCCESS');
  });
});
