import assert from 'node:assert/strict';
import { app, mock } from 'egg-mock/bootstrap';
import { WechatLoginClient, WechatLoginError } from '../../../lib/wechatpay';
import { testEnv } from '../../support/env';
import { resetWorld } from '../../support/fixtures';

describe('POST /api/login', () => {
  beforeEach(resetWorld);
  afterEach(() => { mock.restore(); testEnv.sim.clearFaults(); });

  it('creates the user, keeps session_key in Redis only and answers a token', async () => {
    const code = testEnv.sim.issueLoginCode({ openid: 'oUser000000000000000000000001', unionid: 'uUnion01' });
    const res = await app.httpRequest().post('/api/login').send({ code })
      .expect(200);
    assert.deepEqual(Object.keys(res.body).sort(), [ 'expiresIn', 'token', 'user' ]);
    assert.equal(res.body.expiresIn, app.config.session.ttlSeconds);
    assert.match(res.body.token, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(res.body.user.openid, 'oUser000000000000000000000001');
    assert.ok(!JSON.stringify(res.body).includes('session_key'));

    const user = await app.model.User.findOne({ where: { openid: 'oUser000000000000000000000001' } });
    assert.ok(user);
    assert.equal(user.unionid, 'uUnion01');
    assert.ok(user.lastLoginAt instanceof Date);
    assert.equal(res.body.user.id, user.id);
    const storedKey = await app.redis.get(`wx_session_key:${user.id}`);
    assert.ok(storedKey && storedKey.length > 0);
    assert.ok(!res.text.includes(storedKey));
  });

  it('a second login of the same user updates the row instead of adding one', async () => {
    const first = testEnv.sim.issueLoginCode({ openid: 'oSame00000000000000000000001' });
    await app.httpRequest().post('/api/login').send({ code: first })
      .expect(200);
    const second = testEnv.sim.issueLoginCode({ openid: 'oSame00000000000000000000001' });
    const res = await app.httpRequest().post('/api/login').send({ code: second })
      .expect(200);
    assert.equal(await app.model.User.count(), 1);
    assert.equal(res.body.user.openid, 'oSame00000000000000000000001');
  });

  it('the token opens protected routes, a wrong one gets 401', async () => {
    const code = testEnv.sim.issueLoginCode({});
    const { body } = await app.httpRequest().post('/api/login').send({ code })
      .expect(200);
    await app.httpRequest().get('/payment/orders/P00000000000000000000000000000').set('Authorization', `Bearer ${body.token}`)
      .expect(404);
    const res = await app.httpRequest().get('/payment/orders/P00000000000000000000000000000')
      .set('Authorization', `Bearer ${body.token.slice(0, -2)}xx`)
      .expect(401);
    assert.deepEqual(res.body, { code: 'SESSION_EXPIRED', message: 'session token is invalid or expired, log in again' });
  });

  it('protected routes without a token answer 401', async () => {
    const res = await app.httpRequest().post('/payment/order').send({ items: [{ productId: 1, quantity: 1 }] })
      .expect(401);
    assert.deepEqual(res.body, { code: 'UNAUTHORIZED', message: 'missing or malformed bearer token' });
  });

  it('an expired session gets 401', async () => {
    const code = testEnv.sim.issueLoginCode({});
    const { body } = await app.httpRequest().post('/api/login').send({ code })
      .expect(200);
    const keys = await app.redis.keys('session:*');
    assert.equal(keys.length, 1);
    await app.redis.del(keys[0]);
    const res = await app.httpRequest().get('/payment/orders/P1').set('Authorization', `Bearer ${body.token}`)
      .expect(401);
    assert.equal(res.body.code, 'SESSION_EXPIRED');
  });

  it('an invalid code gets 401 INVALID_LOGIN_CODE and writes no user', async () => {
    const res = await app.httpRequest().post('/api/login').send({ code: 'never-issued' })
      .expect(401);
    assert.deepEqual(res.body, { code: 'INVALID_LOGIN_CODE', message: 'login code is invalid, used or expired: call wx.login() again' });
    assert.equal(await app.model.User.count(), 0);
  });

  it('a code used twice gets 401 the second time', async () => {
    const code = testEnv.sim.issueLoginCode({});
    await app.httpRequest().post('/api/login').send({ code })
      .expect(200);
    const res = await app.httpRequest().post('/api/login').send({ code })
      .expect(401);
    assert.equal(res.body.code, 'INVALID_LOGIN_CODE');
    assert.equal(await app.model.User.count(), 1);
  });

  it('WeChat busy (errcode -1) gives 503 WECHAT_BUSY and no user row', async () => {
    testEnv.sim.setFault('jscode2session', { kind: 'systemerror' }, 1);
    const code = testEnv.sim.issueLoginCode({});
    const res = await app.httpRequest().post('/api/login').send({ code })
      .expect(503);
    assert.equal(res.body.code, 'WECHAT_BUSY');
    assert.equal(await app.model.User.count(), 0);
  });

  it('WeChat unreachable gives 503 WECHAT_UNAVAILABLE and no user row', async () => {
    testEnv.sim.setFault('jscode2session', { kind: 'drop' }, 1);
    const code = testEnv.sim.issueLoginCode({});
    const res = await app.httpRequest().post('/api/login').send({ code })
      .expect(503);
    assert.equal(res.body.code, 'WECHAT_UNAVAILABLE');
    assert.equal(await app.model.User.count(), 0);
  });

  it('a wrong app secret gives 502 WECHAT_LOGIN_REJECTED', async () => {
    mock(app.config.wechat, 'appSecret', 'not-the-secret');
    const code = testEnv.sim.issueLoginCode({});
    const res = await app.httpRequest().post('/api/login').send({ code })
      .expect(502);
    assert.deepEqual(res.body, { code: 'WECHAT_LOGIN_REJECTED', message: 'WeChat refused the login (errcode 40125)' });
    assert.equal(await app.model.User.count(), 0);
  });

  it('Redis failing the session write, after WeChat spent the code: 503 SESSION_STORE_UNAVAILABLE, no session, the code used up', async () => {
    // Only the session write fails (a MULTI that SETs): the rate limiter's MULTI (INCR, EXPIRE)
    // still counts, so the request gets past it and WeChat spends the code before the write fails.
    const realMulti = app.redis.multi.bind(app.redis);
    mock(app.redis, 'multi', (...args: any[]) => {
      const chain: any = (realMulti as any)(...args);
      const { set, exec } = chain;
      let writesSession = false;
      chain.set = (...setArgs: unknown[]) => { writesSession = true; return set.apply(chain, setArgs); };
      chain.exec = (...execArgs: unknown[]) => (writesSession
        ? Promise.reject(new Error('Connection is closed.'))
        : exec.apply(chain, execArgs));
      return chain;
    });
    const code = testEnv.sim.issueLoginCode({});
    const res = await app.httpRequest().post('/api/login').send({ code })
      .expect(503);
    assert.equal(res.body.code, 'SESSION_STORE_UNAVAILABLE');
    assert.deepEqual(res.body, { code: 'SESSION_STORE_UNAVAILABLE', message: 'session store is unavailable, try again shortly' });

    // The limiter counted the request (it was not what failed), and WeChat was asked once.
    assert.equal((await app.redis.keys('ratelimit:loginPerIp:*')).length, 1);
    assert.equal((await app.redis.keys('ratelimit:loginPerUser:*')).length, 1);
    assert.equal(testEnv.sim.requests('jscode2session').length, 1);
    // No session, no session_key stored.
    assert.deepEqual(await app.redis.keys('session:*'), []);
    assert.deepEqual(await app.redis.keys('wx_session_key:*'), []);
    // WeChat counts the code as used: the client must call wx.login() again.
    const wechat = new WechatLoginClient({ appId: app.config.wechat.appId, appSecret: app.config.wechat.appSecret, baseUrl: testEnv.sim.url, timeoutMs: 2000 });
    await assert.rejects(wechat.code2Session(code), (err: unknown) => err instanceof WechatLoginError && err.errcode === 40163);
    mock.restore();
    const again = await app.httpRequest().post('/api/login').send({ code })
      .expect(401);
    assert.equal(again.body.code, 'INVALID_LOGIN_CODE');
  });

  for (const [ label, body ] of [
    [ 'missing code', {}],
    [ 'numeric code', { code: 42 }],
    [ 'empty code', { code: '' }],
    [ 'overlong code', { code: 'x'.repeat(129) }],
    [ 'array body', [ 'code' ]],
  ] as const) {
    it(`refuses ${label} with 422 naming the field`, async () => {
      const res = await app.httpRequest().post('/api/login').send(body as any)
        .expect(422);
      assert.equal(res.body.code, 'VALIDATION_FAILED');
      assert.ok([ 'code', 'body' ].includes(res.body.field));
    });
  }

  it('refuses malformed JSON with 400', async () => {
    const res = await app.httpRequest().post('/api/login').set('Content-Type', 'application/json')
      .send('{"code":')
      .expect(400);
    assert.equal(res.body.code, 'BAD_REQUEST');
  });
});
