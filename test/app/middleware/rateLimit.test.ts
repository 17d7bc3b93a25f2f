import assert from 'node:assert/strict';
import { app, mock } from 'egg-mock/bootstrap';
import { testEnv } from '../../support/env';
import { createOrder, login, resetWorld } from '../../support/fixtures';
import { rateLimitClock } from '../../../app/service/rateLimit';

const RATE_LIMITED = { code: 'RATE_LIMITED', message: 'too many requests, try again later' };

function postLogin(code: string, forwardedFor?: string) {
  const req = app.httpRequest().post('/api/login');
  if (forwardedFor) req.set('X-Forwarded-For', forwardedFor);
  return req.send({ code });
}

/** Makes every Redis MULTI fail, as when Redis is away; GET (session lookup) keeps working. */
function breakRedisMulti() {
  mock(app.redis, 'multi', () => {
    const chain: any = { incr: () => chain, expire: () => chain, set: () => chain, exec: async () => { throw new Error('Connection is closed.'); } };
    return chain;
  });
}

/**
 * The limiter's clock, fixed by each test: windows are cut from the epoch, so a test running
 * across a real window boundary would otherwise see its count restart and a 429 turn into a 200.
 */
const clock = {
  ms: 0,
  /** `seconds` into a window of every rule (they share RATE_LIMIT_WINDOW_SECONDS). */
  set(secondsIntoWindow: number) {
    const windowMs = app.config.rateLimit.loginPerIp.windowSeconds * 1000;
    clock.ms = Math.floor(Date.UTC(2026, 10, 30, 15, 59, 0) / windowMs) * windowMs + secondsIntoWindow * 1000;
  },
  advance(seconds: number) {
    clock.ms += seconds * 1000;
  },
};

function assertRetryAfter(res: { headers: Record<string, string> }, windowSeconds: number) {
  const retryAfter = Number(res.headers['retry-after']);
  assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= windowSeconds, `Retry-After ${res.headers['retry-after']}`);
  // With the clock fixed the wait is known: the rest of the window, in whole seconds.
  const intoWindow = (clock.ms / 1000) % windowSeconds;
  assert.equal(retryAfter, Math.max(1, Math.ceil(windowSeconds - intoWindow)));
}

describe('rate limits', () => {
  beforeEach(async () => {
    await resetWorld();
    for (const rule of Object.values(app.config.rateLimit)) assert.ok(rule.windowSeconds === app.config.rateLimit.loginPerIp.windowSeconds);
    clock.set(app.config.rateLimit.loginPerIp.windowSeconds / 2);
    mock(rateLimitClock, 'nowMs', () => clock.ms);
  });
  afterEach(() => { mock.restore(); testEnv.sim.clearFaults(); });

  describe('POST /api/login per client IP', () => {
    beforeEach(() => mock(app.config.rateLimit.loginPerIp, 'limit', 3));

    it('answers 429 RATE_LIMITED with Retry-After past the limit, without calling WeChat', async () => {
      for (let i = 0; i < 3; i++) await postLogin(testEnv.sim.issueLoginCode({})).expect(200);
      const code = testEnv.sim.issueLoginCode({});
      const res = await postLogin(code).expect(429);
      assert.deepEqual(res.body, RATE_LIMITED);
      assertRetryAfter(res, app.config.rateLimit.loginPerIp.windowSeconds);
      assert.equal(testEnv.sim.requests('jscode2session').length, 3);
      assert.equal(await app.model.User.count(), 3);

      // The refused code was not spent: once the window is over (here: its counter removed) it works.
      await app.redis.del(await app.redis.keys('ratelimit:loginPerIp:*'));
      await postLogin(code).expect(200);
    });

    it('counts per window: the limit holds to the window\'s last second, the next window counts afresh after Retry-After', async () => {
      const windowSeconds = app.config.rateLimit.loginPerIp.windowSeconds;
      clock.set(0);
      for (let i = 0; i < 3; i++) await postLogin(testEnv.sim.issueLoginCode({})).expect(200);
      clock.advance(windowSeconds - 0.5);
      const refused = await postLogin(testEnv.sim.issueLoginCode({})).expect(429);
      assertRetryAfter(refused, windowSeconds);
      assert.equal(refused.headers['retry-after'], '1');

      clock.advance(Number(refused.headers['retry-after']));
      for (let i = 0; i < 3; i++) await postLogin(testEnv.sim.issueLoginCode({})).expect(200);
      const again = await postLogin(testEnv.sim.issueLoginCode({})).expect(429);
      // Half a second into the new window: the whole window, rounded up, is left.
      assertRetryAfter(again, windowSeconds);
      assert.equal(again.headers['retry-after'], String(windowSeconds));
      assert.equal(testEnv.sim.requests('jscode2session').length, 6);
      assert.equal((await app.redis.keys('ratelimit:loginPerIp:*')).length, 2);
    });

    it('ignores X-Forwarded-For unless TRUST_PROXY is set, so a client cannot pick its own IP', async () => {
      for (let i = 0; i < 3; i++) await postLogin(testEnv.sim.issueLoginCode({}), `10.0.0.${i}`).expect(200);
      const res = await postLogin(testEnv.sim.issueLoginCode({}), '10.0.0.99').expect(429);
      assert.equal(res.body.code, 'RATE_LIMITED');
    });

    it('behind a trusted proxy counts each forwarded client separately', async () => {
      mock(app.config, 'proxy', true);
      for (let i = 0; i < 3; i++) await postLogin(testEnv.sim.issueLoginCode({}), '203.0.113.7').expect(200);
      await postLogin(testEnv.sim.issueLoginCode({}), '203.0.113.7').expect(429);
      // Only the entry the proxy appended counts: a forged leftmost one changes nothing.
      await postLogin(testEnv.sim.issueLoginCode({}), '198.51.100.1, 203.0.113.7').expect(429);
      await postLogin(testEnv.sim.issueLoginCode({}), '203.0.113.8').expect(200);
    });

    it('Redis down: 503 SESSION_STORE_UNAVAILABLE before WeChat is called, so the code stays usable', async () => {
      breakRedisMulti();
      const code = testEnv.sim.issueLoginCode({});
      const res = await postLogin(code).expect(503);
      assert.equal(res.body.code, 'SESSION_STORE_UNAVAILABLE');
      assert.equal(testEnv.sim.requests('jscode2session').length, 0);
      assert.equal(await app.model.User.count(), 0);
    });

    it('limit 0 turns the rule off and counts nothing', async () => {
      mock(app.config.rateLimit.loginPerIp, 'limit', 0);
      for (let i = 0; i < 5; i++) await postLogin(testEnv.sim.issueLoginCode({})).expect(200);
      assert.deepEqual(await app.redis.keys('ratelimit:loginPerIp:*'), []);
    });
  });

  describe('POST /api/login per WeChat user', () => {
    it('refuses a user logging in too often, creating no session; other users are unaffected', async () => {
      mock(app.config.rateLimit.loginPerUser, 'limit', 2);
      const openid = 'oBusy000000000000000000000001';
      await login(openid);
      await login(openid);
      const res = await postLogin(testEnv.sim.issueLoginCode({ openid })).expect(429);
      assert.deepEqual(res.body, RATE_LIMITED);
      assert.equal((await app.redis.keys('session:*')).length, 2);
      await login('oCalm000000000000000000000001');
    });
  });

  describe('order status per user', () => {
    let token: string;
    let outTradeNo: string;
    beforeEach(async () => {
      mock(app.config.rateLimit.statusPerUser, 'limit', 3);
      ({ token } = await login());
      outTradeNo = (await createOrder(token).expect(200)).body.outTradeNo;
    });
    const status = (no: string, bearer = token) => app.httpRequest().get(`/payment/orders/${no}`).set('Authorization', `Bearer ${bearer}`);

    it('answers 429 past the limit, before the order is looked up or WeChat asked; other users are unaffected', async () => {
      for (let i = 0; i < 3; i++) await status(outTradeNo).expect(200);
      const queries = testEnv.sim.requests('orderquery').length;
      const res = await status(outTradeNo).expect(429);
      assert.deepEqual(res.body, RATE_LIMITED);
      assertRetryAfter(res, app.config.rateLimit.statusPerUser.windowSeconds);
      // Missing orders count too: the limit is per user, not per order.
      assert.deepEqual((await status('P0000000000000000000000000000').expect(429)).body, RATE_LIMITED);
      assert.equal(testEnv.sim.requests('orderquery').length, queries);
      const other = await login();
      await status('P0000000000000000000000000000', other.token).expect(404);
    });

    it('has a default of 120 requests per window', () => {
      mock.restore();
      assert.deepEqual(app.config.rateLimit.statusPerUser, { limit: 120, windowSeconds: 60 });
    });

    it('Redis unable to count: the status is still answered (fails open) and a warning is logged', async () => {
      app.mockLog();
      breakRedisMulti();
      for (let i = 0; i < 4; i++) {
        const res = await status(outTradeNo).expect(200);
        assert.equal(res.body.outTradeNo, outTradeNo);
      }
      app.expectLog(/\[rate-limit\] statusPerUser not counted, request allowed: Connection is closed\./);
    });
  });

  describe('order creation per user', () => {
    let token: string;
    beforeEach(async () => {
      mock(app.config.rateLimit.orderPerUser, 'limit', 2);
      ({ token } = await login());
    });

    it('answers 429 past the limit, creating no order and calling no unified order', async () => {
      await createOrder(token).expect(200);
      await createOrder(token).expect(200);
      const res = await createOrder(token).expect(429);
      assert.deepEqual(res.body, RATE_LIMITED);
      assertRetryAfter(res, app.config.rateLimit.orderPerUser.windowSeconds);
      assert.equal(await app.model.Order.count(), 2);
      assert.equal(testEnv.sim.requests('unifiedorder').length, 2);
    });

    it('counts POST /payment/orders/:outTradeNo/pay too (it calls WeChat as well)', async () => {
      const { outTradeNo } = (await createOrder(token).expect(200)).body;
      await app.httpRequest().post(`/payment/orders/${outTradeNo}/pay`).set('Authorization', `Bearer ${token}`)
        .expect(200);
      const res = await app.httpRequest().post(`/payment/orders/${outTradeNo}/pay`).set('Authorization', `Bearer ${token}`)
        .expect(429);
      assert.equal(res.body.code, 'RATE_LIMITED');
    });

    it('each user has their own counter', async () => {
      await createOrder(token).expect(200);
      await createOrder(token).expect(200);
      await createOrder(token).expect(429);
      const other = await login();
      await createOrder(other.token).expect(200);
    });

    it('an unauthenticated request is refused 401 before it is counted', async () => {
      await app.httpRequest().post('/payment/order').send({ items: [{ productId: 1, quantity: 1 }] })
        .expect(401);
      assert.deepEqual(await app.redis.keys('ratelimit:orderPerUser:*'), []);
    });

    it('Redis unable to count: the order is still created (fails open) and a warning is logged', async () => {
      app.mockLog();
      breakRedisMulti();
      for (let i = 0; i < 3; i++) await createOrder(token).expect(200);
      assert.equal(await app.model.Order.count(), 3);
      app.expectLog(/\[rate-limit\] orderPerUser not counted, request allowed: Connection is closed\./);
    });
  });
});
