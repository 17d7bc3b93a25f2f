import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { app, mock } from 'egg-mock/bootstrap';
import { OAUTH_CODE_TTL_MS } from '../../../simulator';
import { testEnv } from '../../support/env';
import { createOrder, resetWorld } from '../../support/fixtures';

const TARGET = 'https://shop.example.com/pay/order.html?sku=1';
const OA = () => app.config.wechat.apps.officialAccount!.appId;

/** The cookies a reply sets, as a Cookie header value. */
function cookiesOf(res: { headers: Record<string, any> }): string {
  return (res.headers['set-cookie'] as string[] ?? []).map(c => c.split(';')[0]).join('; ');
}

/** Starts a login as the payer's browser: our 302 to WeChat, the state and the browser's cookie. */
async function start(redirect = TARGET) {
  const res = await app.httpRequest().get('/oauth/wechat/authorize').query({ redirect })
    .expect(302);
  const location = new URL(res.headers.location);
  return { location, state: location.searchParams.get('state')!, cookie: cookiesOf(res), setCookie: res.headers['set-cookie'] as unknown as string[] };
}

function callback(query: Record<string, string>, cookie?: string) {
  const req = app.httpRequest().get('/oauth/wechat/callback').query(query);
  if (cookie) req.set('Cookie', cookie);
  return req;
}

function tokenFrom(location: string): string {
  const hash = new URL(location).hash;
  return new URLSearchParams(hash.slice(1)).get('token')!;
}

describe('official-account login (OAuth, snsapi_base)', () => {
  beforeEach(async () => {
    await resetWorld();
    mock(app.config.oauth, 'callbackUrl', `${testEnv.appUrl}/oauth/wechat/callback`);
    mock(app.config.oauth, 'redirectAllowList', [ 'https://shop.example.com/pay/' ]);
  });
  afterEach(() => { mock.restore(); testEnv.sim.clearFaults(); });

  it('goes browser -> WeChat\'s page -> callback -> allowed target with the token in the fragment; the session orders for the official account', async () => {
    const { location, state, cookie, setCookie } = await start();
    assert.equal(`${location.origin}${location.pathname}`, `${testEnv.sim.url}/connect/oauth2/authorize`);
    assert.equal(location.searchParams.get('appid'), OA());
    assert.equal(location.searchParams.get('scope'), 'snsapi_base');
    assert.equal(location.searchParams.get('redirect_uri'), `${testEnv.appUrl}/oauth/wechat/callback`);
    assert.equal(location.hash, '#wechat_redirect');
    assert.match(state, /^[0-9a-f]{32}$/);
    const stateCookie = setCookie.find(c => c.startsWith('wx_oauth_state='))!;
    assert.match(stateCookie, /httponly/i);
    assert.match(stateCookie, /samesite=lax/i);

    // The payer confirms on WeChat's (the simulator's) page, which sends the browser back with a code.
    location.hash = '';
    location.searchParams.set('confirm', '1');
    location.searchParams.set('openid', 'oa-browser-payer');
    const wechat = await fetch(location.toString(), { redirect: 'manual' });
    assert.equal(wechat.status, 302);
    const back = new URL(wechat.headers.get('location')!);
    assert.equal(back.searchParams.get('state'), state);

    const res = await callback({ code: back.searchParams.get('code')!, state }, cookie).expect(302);
    assert.ok(res.headers.location.startsWith(`${TARGET}#token=`), res.headers.location);
    assert.equal(res.headers['cache-control'], 'no-store');
    assert.equal(res.text, '', 'the token is in the Location header only, not repeated in a body');
    const token = tokenFrom(res.headers.location);
    const user = await app.model.User.findOne({ where: { appid: OA(), openid: 'oa-browser-payer' } });
    assert.ok(user);

    const order = await createOrder(token).expect(200);
    assert.equal(order.body.appId, OA());
  });

  it('refuses a reused code (40163) with OAUTH_CODE_USED', async () => {
    const { code } = testEnv.sim.issueOAuthCode({ appId: OA(), openid: 'oa-reuse' });
    const first = await start();
    await callback({ code, state: first.state }, first.cookie).expect(302);
    const second = await start();
    const res = await callback({ code, state: second.state }, second.cookie).expect(401);
    assert.deepEqual(res.body, { code: 'OAUTH_CODE_USED', message: 'the authorisation code was already used: open the page again' });
  });

  it('refuses an expired code and an invalid one (40029) with INVALID_OAUTH_CODE', async () => {
    const { code } = testEnv.sim.issueOAuthCode({ appId: OA() });
    // The simulator's clock moves past the code's 5 minutes (the app's clock does not matter).
    const oauth = (testEnv.sim as any).oauth;
    const realNow = oauth.now;
    mock(oauth, 'now', () => new Date(realNow().getTime() + OAUTH_CODE_TTL_MS + 1000));
    const late = await start();
    assert.equal((await callback({ code, state: late.state }, late.cookie).expect(401)).body.code, 'INVALID_OAUTH_CODE');
    mock.restore();
    mock(app.config.oauth, 'redirectAllowList', [ 'https://shop.example.com/pay/' ]);
    const bogus = await start();
    assert.equal((await callback({ code: 'never-issued', state: bogus.state }, bogus.cookie).expect(401)).body.code, 'INVALID_OAUTH_CODE');
    // A mini-program's OAuth code is another app's: invalid for the official account.
    const mp = await start();
    const mpCode = testEnv.sim.issueOAuthCode({ appId: app.config.wechat.apps.miniProgram.appId }).code;
    assert.equal((await callback({ code: mpCode, state: mp.state }, mp.cookie).expect(401)).body.code, 'INVALID_OAUTH_CODE');
  });

  it('refuses a missing, wrong, other browser\'s or reused state before asking WeChat', async () => {
    const { code } = testEnv.sim.issueOAuthCode({ appId: OA() });
    const mine = await start();
    const other = await start();
    const exchangesBefore = testEnv.sim.requests('oauth2_access_token').length;
    const refused = async (query: Record<string, string>, cookie?: string) => {
      const res = await callback(query, cookie).expect(403);
      assert.equal(res.body.code, 'OAUTH_STATE_INVALID');
    };
    await refused({ code }, mine.cookie);
    await refused({ code, state: mine.state });
    await refused({ code, state: 'f'.repeat(32) }, mine.cookie);
    // Another browser's login (its own cookie) cannot finish this one: login CSRF.
    await refused({ code, state: mine.state }, other.cookie);
    // A forged cookie (not signed with our keys) is no cookie.
    await refused({ code, state: mine.state }, `wx_oauth_state=${mine.state}`);
    assert.equal(testEnv.sim.requests('oauth2_access_token').length, exchangesBefore, 'WeChat was not asked');

    await callback({ code, state: mine.state }, mine.cookie).expect(302);
    // The same state again (a refreshed callback page): gone.
    const code2 = testEnv.sim.issueOAuthCode({ appId: OA() }).code;
    await refused({ code: code2, state: mine.state }, mine.cookie);
  });

  it('keeps a started login for stateTtlSeconds only, and refuses it once expired', async () => {
    const { state, cookie } = await start();
    const key = `oauth:state:${createHash('sha256').update(state).digest('hex')}`;
    const ttl = await app.redis.ttl(key);
    assert.ok(ttl > 0 && ttl <= app.config.oauth.stateTtlSeconds, `ttl ${ttl}`);
    // What Redis does when the TTL runs out (no sleeping through it).
    await app.redis.del(key);
    const { code } = testEnv.sim.issueOAuthCode({ appId: OA() });
    assert.equal((await callback({ code, state }, cookie).expect(403)).body.code, 'OAUTH_STATE_INVALID');
  });

  it('refuses redirect targets off the allow-list (open redirect) with 422', async () => {
    for (const redirect of [
      'https://evil.example/pay/', 'https://shop.example.com.evil.example/pay/', 'https://shop.example.com@evil.example/pay/',
      'https://shop.example.com/other/', 'http://shop.example.com/pay/', '//evil.example/pay/', '/pay/', `${'java'}script:alert(1)`,
      'https://shop.example.com/pay/#token=planted', 'https://shop.example.com:8443/pay/',
    ]) {
      const res = await app.httpRequest().get('/oauth/wechat/authorize').query({ redirect })
        .expect(422);
      assert.equal(res.body.code, 'VALIDATION_FAILED', redirect);
      assert.equal(res.body.field, 'redirect');
      assert.equal(res.headers['set-cookie'], undefined);
    }
    await app.httpRequest().get('/oauth/wechat/authorize').expect(422);
  });

  it('answers 404 OFFICIAL_ACCOUNT_NOT_CONFIGURED when there is no official account', async () => {
    mock(app.config.wechat, 'apps', { miniProgram: app.config.wechat.apps.miniProgram });
    const res = await app.httpRequest().get('/oauth/wechat/authorize').query({ redirect: TARGET })
      .expect(404);
    assert.equal(res.body.code, 'OFFICIAL_ACCOUNT_NOT_CONFIGURED');
  });

  it('links the official-account user to the mini-program user by unionid, as two users', async () => {
    const mpCode = testEnv.sim.issueLoginCode({ openid: 'mp-openid-9', unionid: 'union-9' });
    const mp = await app.httpRequest().post('/api/login').send({ code: mpCode })
      .expect(200);
    const { code } = testEnv.sim.issueOAuthCode({ appId: OA(), openid: 'oa-openid-9', unionid: 'union-9' });
    const s = await start();
    await callback({ code, state: s.state }, s.cookie).expect(302);
    const users = await app.model.User.findAll({ where: { unionid: 'union-9' }, order: [[ 'id', 'ASC' ]] });
    assert.deepEqual(users.map(u => [ u.id === mp.body.user.id, u.appid, u.openid ]),
      [[ true, app.config.wechat.apps.miniProgram.appId, 'mp-openid-9' ], [ false, OA(), 'oa-openid-9' ]]);
  });
});
