import assert from 'node:assert/strict';
import { app, mock } from 'egg-mock/bootstrap';
import { ConsoleClient } from '../../support/console';
import { createOrder, login, resetWorld } from '../../support/fixtures';
import { adminHeader, paidOrder } from '../../support/refunds';

describe('operator console: GET /admin/, its files and its session (POST/GET/DELETE /admin/session)', () => {
  beforeEach(resetWorld);

  it('serves the page and its files, chart.js from node_modules; an unknown file is 404', async () => {
    const page = await app.httpRequest().get('/admin/').expect(200);
    assert.match(page.headers['content-type'], /^text\/html/);
    assert.match(page.text, /<script src="\/admin\/assets\/chart\.umd\.js"><\/script>/);
    assert.match(page.headers['content-security-policy'], /default-src 'none'; script-src 'self';/);
    assert.match(page.headers['content-security-policy'], /frame-ancestors 'none'/);
    // The CSRF token's cookie, readable by the page (not HttpOnly), only under /admin, SameSite=Strict.
    const csrfCookie = (page.headers['set-cookie'] as unknown as string[]).find(c => c.startsWith('csrfToken='))!;
    assert.match(csrfCookie, /path=\/admin;/);
    assert.match(csrfCookie, /samesite=strict/);
    assert.doesNotMatch(csrfCookie, /httponly/);
    const chart = await app.httpRequest().get('/admin/assets/chart.umd.js').expect(200);
    assert.match(chart.headers['content-type'], /^application\/javascript/);
    assert.match(chart.text, /Chart\.js v4/);
    await app.httpRequest().get('/admin/assets/console.js').expect(200)
      .expect('Content-Type', /javascript/);
    await app.httpRequest().get('/admin/assets/console.css').expect(200)
      .expect('Content-Type', /text\/css/);
    const missing = await app.httpRequest().get('/admin/assets/..%2Fpackage.json').expect(404);
    assert.equal(missing.body.code, 'NOT_FOUND');
    await app.httpRequest().get('/admin/assets/index.html').expect(404);
  });

  it('sign-in trades the admin token for an HttpOnly, SameSite=Strict cookie that opens the admin API', async () => {
    const client = new ConsoleClient();
    await client.open();
    const res = await client.request('post', '/admin/session').send({ token: app.config.adminToken })
      .expect(200);
    assert.equal(res.body.signedIn, true);
    const ttl = app.config.console.sessionTtlSeconds;
    const expiresIn = Date.parse(res.body.expiresAt) - Date.now();
    assert.ok(expiresIn > (ttl - 60) * 1000 && expiresIn <= ttl * 1000, `expires in ${expiresIn} ms`);
    const sessionCookie = (res.headers['set-cookie'] as unknown as string[]).find(c => c.startsWith('wxpay_console='))!;
    assert.match(sessionCookie, /httponly/);
    assert.match(sessionCookie, /samesite=strict/);
    assert.match(sessionCookie, /path=\/admin;/);
    assert.ok(!sessionCookie.includes(app.config.adminToken), 'the cookie is not the admin token');
    // The session is stored by hash only; the admin token is nowhere in Redis.
    const keys = await app.redis.keys('console:session:*');
    assert.equal(keys.length, 1);
    assert.ok(!(await app.redis.get(keys[0]))!.includes(app.config.adminToken));

    const me = await client.request('get', '/admin/session').expect(200);
    assert.equal(me.body.expiresAt, res.body.expiresAt);
    await client.request('get', '/admin/orders').expect(200);
  });

  it('a wrong token is 401 ADMIN_SIGN_IN_FAILED and sets no session cookie', async () => {
    const client = new ConsoleClient();
    await client.open();
    const res = await client.request('post', '/admin/session').send({ token: `${app.config.adminToken}x` })
      .expect(401);
    assert.deepEqual(res.body, { code: 'ADMIN_SIGN_IN_FAILED', message: 'wrong admin credential' });
    assert.ok(!client.cookies.has('wxpay_console'));
    await client.request('get', '/admin/orders').expect(401);
    assert.deepEqual(await app.redis.keys('console:session:*'), []);
    const missing = await client.request('post', '/admin/session').send({}).expect(422);
    assert.equal(missing.body.field, 'token');
  });

  it('sign-in without the CSRF token is 403 CSRF_REFUSED (a forged sign-in), even with the right admin token', async () => {
    const client = new ConsoleClient();
    await client.open();
    const res = await client.request('post', '/admin/session', { csrf: false }).send({ token: app.config.adminToken })
      .expect(403);
    assert.equal(res.body.code, 'CSRF_REFUSED');
    assert.ok(!client.cookies.has('wxpay_console'));
    // Nor with a token made up by the caller.
    await app.httpRequest().post('/admin/session').set('x-csrf-token', 'made-up')
      .send({ token: app.config.adminToken })
      .expect(403);
  });

  it('a state-changing call with the session cookie but no CSRF token, or a wrong one, is 403 and changes nothing', async () => {
    const { token } = await login();
    const { outTradeNo } = await paidOrder(token);
    const client = await new ConsoleClient().signIn();
    const refund = await client.request('post', `/admin/orders/${outTradeNo}/refunds`, { csrf: false }).send({ amount: 100, reason: 'forged' })
      .expect(403);
    assert.equal(refund.body.code, 'CSRF_REFUSED');
    await client.request('post', `/admin/orders/${outTradeNo}/refunds`, { csrf: false }).set('x-csrf-token', 'wrong')
      .send({ amount: 100, reason: 'forged' })
      .expect(403);
    const unpaid = (await createOrder(token).expect(200)).body.outTradeNo;
    await client.request('post', `/admin/orders/${unpaid}/close`, { csrf: false }).expect(403);
    assert.equal(await app.model.Refund.count(), 0);
    assert.equal((await app.model.Order.findOne({ where: { outTradeNo: unpaid } }))!.status, 'NOTPAY');
    // With the token the same call goes through.
    const ok = await client.request('post', `/admin/orders/${outTradeNo}/refunds`).set('Idempotency-Key', 'console-1')
      .send({ amount: 100, reason: 'ok' })
      .expect(201);
    assert.equal(ok.body.amount, 100);
  });

  it('the CSRF token from before sign-in is refused after it (sign-in rotates it)', async () => {
    const client = new ConsoleClient();
    await client.open();
    const before = client.csrf;
    await client.request('post', '/admin/session').send({ token: app.config.adminToken })
      .expect(200);
    assert.notEqual(client.csrf, before);
    const res = await client.request('delete', '/admin/session', { csrf: false }).set('x-csrf-token', before)
      .expect(403);
    assert.equal(res.body.code, 'CSRF_REFUSED');
  });

  it('bearer-token calls, the user API and WeChat\'s notifications are not asked for a CSRF token', async () => {
    const { token } = await login();
    const { outTradeNo } = await paidOrder(token);
    await app.httpRequest().post(`/admin/orders/${outTradeNo}/refunds`).set(adminHeader())
      .send({ amount: 100, reason: 'script' })
      .expect(201);
    // Even with the console's cookie along: the bearer header decides.
    const client = await new ConsoleClient().signIn();
    await app.httpRequest().post(`/admin/orders/${outTradeNo}/query`).set(adminHeader())
      .set('Cookie', client.cookieHeader)
      .expect(200);
    await createOrder(token).expect(200);
    // No credential at all: adminAuth's 401, not a CSRF refusal.
    const res = await app.httpRequest().post(`/admin/orders/${outTradeNo}/query`).expect(401);
    assert.equal(res.body.code, 'ADMIN_UNAUTHORIZED');
  });

  it('sign-out ends the session: the cookie is cleared and the old cookie no longer works', async () => {
    const client = await new ConsoleClient().signIn();
    const stale = client.cookieHeader;
    await client.request('delete', '/admin/session').expect(204);
    assert.ok(!client.cookies.has('wxpay_console'));
    assert.deepEqual(await app.redis.keys('console:session:*'), []);
    const res = await app.httpRequest().get('/admin/orders').set('Cookie', stale)
      .expect(401);
    assert.deepEqual(res.body, { code: 'ADMIN_UNAUTHORIZED', message: 'the console session has expired: sign in again' });
  });

  it('a session lives CONSOLE_SESSION_TTL_SECONDS in Redis; once gone, its cookie is refused', async () => {
    mock(app.config.console, 'sessionTtlSeconds', 1);
    const client = await new ConsoleClient().signIn();
    const [ key ] = await app.redis.keys('console:session:*');
    assert.equal(await app.redis.ttl(key), 1);
    // Expiry is Redis's EX; dropping the key is what its passing does.
    await app.redis.del(key);
    await client.request('get', '/admin/session').expect(401);
  });

  it('a forged or unsigned session cookie is refused', async () => {
    const client = await new ConsoleClient().signIn();
    const sid = client.cookies.get('wxpay_console')!;
    await app.httpRequest().get('/admin/session').set('Cookie', `wxpay_console=${sid}`)
      .expect(401);
    await app.httpRequest().get('/admin/session').set('Cookie', 'wxpay_console=made-up; wxpay_console.sig=made-up')
      .expect(401);
  });

  it('sign-in is rate limited per IP (429 past the limit), the right token included', async () => {
    mock(app.config.rateLimit.adminSignInPerIp, 'limit', 2);
    mock(app.config.rateLimit.adminSignInPerIp, 'windowSeconds', 1_000_000_000);
    const client = new ConsoleClient();
    await client.open();
    await client.request('post', '/admin/session').send({ token: 'guess-1' }).expect(401);
    await client.request('post', '/admin/session').send({ token: 'guess-2' }).expect(401);
    const res = await client.request('post', '/admin/session').send({ token: app.config.adminToken })
      .expect(429);
    assert.equal(res.body.code, 'RATE_LIMITED');
    assert.ok(Number(res.headers['retry-after']) >= 1);
  });

  it('Redis down: sign-in and console calls answer 503, bearer calls still work', async () => {
    const client = await new ConsoleClient().signIn();
    mock(app.redis, 'get', async () => { throw new Error('connection is closed'); });
    const res = await client.request('get', '/admin/orders').expect(503);
    assert.equal(res.body.code, 'SESSION_STORE_UNAVAILABLE');
    await app.httpRequest().get('/admin/orders').set(adminHeader())
      .expect(200);
  });
});
