import assert from 'node:assert/strict';
import { WechatLoginError, WechatOAuthClient } from '../../lib/wechatpay';
import { OAUTH_CODE_TTL_MS, WechatSimulator } from '../../simulator';
import { DEV, TestClock } from './helpers';

const OA = { appId: DEV.oaAppId, appSecret: DEV.oaAppSecret };

function client(sim: WechatSimulator, app: { appId: string; appSecret: string } = OA): WechatOAuthClient {
  return new WechatOAuthClient({ ...app, apiBaseUrl: sim.url, authorizeBaseUrl: sim.url, timeoutMs: 2000 });
}

async function errcode(promise: Promise<unknown>): Promise<number> {
  const err = await promise.then(() => undefined, e => e);
  assert.ok(err instanceof WechatLoginError, `expected a WechatLoginError, got ${err}`);
  return err.errcode;
}

describe('simulator: official-account OAuth', () => {
  const clock = new TestClock();
  const sim = new WechatSimulator({ now: clock.now });
  before(() => sim.start());
  after(() => sim.stop());
  beforeEach(() => sim.reset());

  it('builds WeChat\'s authorize URL with #wechat_redirect last, and refuses a state WeChat would not echo', () => {
    const url = client(sim).authorizeUrl('https://pay.example.com/oauth/wechat/callback', 'abc123');
    assert.equal(url, `${sim.url}/connect/oauth2/authorize?appid=${OA.appId}&redirect_uri=https%3A%2F%2Fpay.example.com%2Foauth%2Fwechat%2Fcallback` +
      '&response_type=code&scope=snsapi_base&state=abc123#wechat_redirect');
    assert.throws(() => client(sim).authorizeUrl('https://x/', 'not-alnum!'), RangeError);
    assert.throws(() => client(sim).authorizeUrl('https://x/', 'a'.repeat(129)), RangeError);
  });

  it('shows a confirm page, then redirects to redirect_uri with a code and the state; the code gives the payer\'s openid once', async () => {
    const authorize = client(sim).authorizeUrl('https://pay.example.com/cb?x=1', 'st4te').replace(/#wechat_redirect$/, '');
    const page = await fetch(authorize, { redirect: 'manual' });
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<button type="submit">Allow<\/button>/);
    const confirmed = await fetch(`${authorize}&confirm=1`, { redirect: 'manual' });
    assert.equal(confirmed.status, 302);
    const back = new URL(confirmed.headers.get('location')!);
    assert.equal(`${back.origin}${back.pathname}`, 'https://pay.example.com/cb');
    assert.equal(back.searchParams.get('x'), '1');
    assert.equal(back.searchParams.get('state'), 'st4te');
    const result = await client(sim).exchangeCode(back.searchParams.get('code')!);
    assert.match(result.openid, /^o[\w-]{27}$/);
    assert.equal(result.scope, 'snsapi_base');
    assert.equal(result.unionid, undefined);
    assert.equal(await errcode(client(sim).exchangeCode(back.searchParams.get('code')!)), 40163);
    // The same browser's payer confirming again is the same openid in that app.
    const again = new URL((await fetch(`${authorize}&confirm=1`, { redirect: 'manual' })).headers.get('location')!);
    assert.equal((await client(sim).exchangeCode(again.searchParams.get('code')!)).openid, result.openid);
  });

  it('refuses a bad authorize request the way WeChat does', async () => {
    const base = `${sim.url}/connect/oauth2/authorize`;
    const good = { appid: OA.appId, redirect_uri: 'https://x.example/cb', response_type: 'code', scope: 'snsapi_base', state: 's' };
    for (const bad of [{ appid: 'wx00000000000000ff' }, { scope: 'snsapi_login' }, { response_type: 'token' }, { redirect_uri: `${'java'}script:alert(1)` }, { state: 'a-b' }]) {
      const res = await fetch(`${base}?${new URLSearchParams({ ...good, ...bad })}`, { redirect: 'manual' });
      assert.equal(res.status, 400, JSON.stringify(bad));
    }
  });

  it('answers 40029 for an unknown code, a code of another app, and an expired one (5 minutes, simulator clock)', async () => {
    assert.equal(await errcode(client(sim).exchangeCode('never-issued')), 40029);
    const mpCode = sim.issueOAuthCode({ appId: DEV.appId }).code;
    assert.equal(await errcode(client(sim).exchangeCode(mpCode)), 40029);
    const late = sim.issueOAuthCode({ appId: OA.appId }).code;
    clock.advance(OAUTH_CODE_TTL_MS);
    assert.equal(await errcode(client(sim).exchangeCode(late)), 40029);
    const inTime = sim.issueOAuthCode({ appId: OA.appId, openid: 'oa-openid-1', unionid: 'union-1' }).code;
    clock.advance(OAUTH_CODE_TTL_MS - 1);
    assert.deepEqual(await client(sim).exchangeCode(inTime), { openid: 'oa-openid-1', scope: 'snsapi_base', unionid: 'union-1' });
  });

  it('refuses a wrong secret (40125) and an unknown appid (40013)', async () => {
    const code = sim.issueOAuthCode({ appId: OA.appId }).code;
    assert.equal(await errcode(client(sim, { ...OA, appSecret: 'wrong' }).exchangeCode(code)), 40125);
    assert.equal(await errcode(client(sim, { appId: 'wx00000000000000ff', appSecret: 'x' }).exchangeCode(code)), 40013);
  });

  it('issues codes through the JSON test hook', async () => {
    const res = await fetch(`${sim.url}/simulator/oauth-code`, { method: 'POST', body: JSON.stringify({ appId: OA.appId, openid: 'oa-hook' }) });
    const body = await res.json() as { code: string; openid: string };
    assert.equal(body.openid, 'oa-hook');
    assert.equal((await client(sim).exchangeCode(body.code)).openid, 'oa-hook');
    const refused = await fetch(`${sim.url}/simulator/oauth-code`, { method: 'POST', body: JSON.stringify({ appId: 'wx00000000000000ff' }) });
    assert.equal(refused.status, 400);
  });
});
