import assert from 'node:assert/strict';
import { WechatLoginError } from '../../lib/wechatpay';
import { WechatSimulator } from '../../simulator';
import { DEV, loginClient, rawGetJson, TestClock } from './helpers';

function query(params: Record<string, string | undefined>): string {
  const q = new URLSearchParams();
  for (const [ k, v ] of Object.entries(params)) if (v !== undefined) q.set(k, v);
  return `/sns/jscode2session?${q}`;
}

const GOOD = { appid: DEV.appId, secret: DEV.appSecret, grant_type: 'authorization_code' };

async function loginError(promise: Promise<unknown>): Promise<number> {
  const err = await promise.then(() => undefined, e => e);
  assert.ok(err instanceof WechatLoginError, `expected a WechatLoginError, got ${err}`);
  return err.errcode;
}

describe('simulator: jscode2session', () => {
  const clock = new TestClock();
  const sim = new WechatSimulator({
    now: clock.now,
    apps: [{ appId: DEV.appId, appSecret: DEV.appSecret }, { appId: 'wx0000000000000002', appSecret: 'second-app-secret' }],
  });
  before(() => sim.start());
  after(() => sim.stop());
  beforeEach(() => sim.reset());

  it('exchanges an issued code for its openid and a 16-byte base64 session_key', async () => {
    const code = sim.issueLoginCode({ openid: 'oAbc000000000000000000000001' });
    const result = await loginClient(sim).code2Session(code);
    assert.equal(result.openid, 'oAbc000000000000000000000001');
    assert.equal(Buffer.from(result.session_key, 'base64').length, 16);
    assert.equal(result.unionid, undefined);
  });

  it('gives a random openid-shaped value when none is asked for, different per code', async () => {
    const a = await loginClient(sim).code2Session(sim.issueLoginCode());
    const b = await loginClient(sim).code2Session(sim.issueLoginCode());
    assert.match(a.openid, /^o[A-Za-z0-9_-]{27}$/);
    assert.notEqual(a.openid, b.openid);
    assert.notEqual(a.session_key, b.session_key);
  });

  it('includes unionid only when the code was issued with one', async () => {
    const res = await rawGetJson(sim, query({ ...GOOD, js_code: sim.issueLoginCode({ unionid: 'uUnion0001' }) }));
    assert.equal(res.json.unionid, 'uUnion0001');
    const without = await rawGetJson(sim, query({ ...GOOD, js_code: sim.issueLoginCode() }));
    assert.ok(!('unionid' in without.json));
  });

  it('answers JSON labelled text/plain, as WeChat does', async () => {
    const res = await rawGetJson(sim, query({ ...GOOD, js_code: sim.issueLoginCode() }));
    assert.equal(res.status, 200);
    assert.match(String(res.headers['content-type']), /^text\/plain/);
  });

  it('a code is single-use: the second exchange gets 40163', async () => {
    const code = sim.issueLoginCode();
    await loginClient(sim).code2Session(code);
    assert.equal(await loginError(loginClient(sim).code2Session(code)), 40163);
  });

  it('a code expires after 5 minutes with 40029', async () => {
    const fresh = sim.issueLoginCode();
    const stale = sim.issueLoginCode();
    clock.advance(5 * 60 * 1000 - 1);
    await loginClient(sim).code2Session(fresh);
    clock.advance(1);
    assert.equal(await loginError(loginClient(sim).code2Session(stale)), 40029);
  });

  it('a code never issued gets 40029, with a request id in errmsg', async () => {
    const res = await rawGetJson(sim, query({ ...GOOD, js_code: 'never-issued' }));
    assert.equal(res.json.errcode, 40029);
    assert.match(res.json.errmsg, /^invalid code, rid: [0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}$/);
  });

  it('a code issued for another app gets 40029 and stays usable by its own app', async () => {
    const code = sim.issueLoginCode({ appId: 'wx0000000000000002', openid: 'oSecond00000000000000000001' });
    assert.equal(await loginError(loginClient(sim).code2Session(code)), 40029);
    const own = await loginClient(sim, { appId: 'wx0000000000000002', appSecret: 'second-app-secret' }).code2Session(code);
    assert.equal(own.openid, 'oSecond00000000000000000001');
  });

  it('an unknown appid gets 40013', async () => {
    const code = sim.issueLoginCode();
    assert.equal(await loginError(loginClient(sim, { appId: 'wx9999999999999999' }).code2Session(code)), 40013);
  });

  it('a wrong secret gets 40125 and does not use up the code', async () => {
    const code = sim.issueLoginCode({ openid: 'oKept000000000000000000000001' });
    assert.equal(await loginError(loginClient(sim, { appSecret: 'wrong' }).code2Session(code)), 40125);
    assert.equal((await loginClient(sim).code2Session(code)).openid, 'oKept000000000000000000000001');
  });

  for (const [ label, params, errcode ] of [
    [ 'missing js_code', { ...GOOD }, 41008 ],
    [ 'empty js_code', { ...GOOD, js_code: '' }, 41008 ],
    [ 'missing grant_type', { ...GOOD, grant_type: undefined, js_code: 'x' }, 40002 ],
    [ 'a wrong grant_type', { ...GOOD, grant_type: 'client_credential', js_code: 'x' }, 40002 ],
    [ 'missing appid', { ...GOOD, appid: undefined, js_code: 'x' }, 41002 ],
    [ 'missing secret', { ...GOOD, secret: undefined, js_code: 'x' }, 41004 ],
  ] as const) {
    it(`${label} gets ${errcode}`, async () => {
      const res = await rawGetJson(sim, query(params));
      assert.equal(res.status, 200);
      assert.equal(res.json.errcode, errcode);
      assert.equal(typeof res.json.errmsg, 'string');
      assert.ok(!('openid' in res.json));
    });
  }

  it('a bad grant_type does not use up the code', async () => {
    const code = sim.issueLoginCode();
    const res = await rawGetJson(sim, query({ ...GOOD, grant_type: 'nope', js_code: code }));
    assert.equal(res.json.errcode, 40002);
    await loginClient(sim).code2Session(code);
  });

  it('records each request with its query parameters', async () => {
    const code = sim.issueLoginCode();
    await loginClient(sim).code2Session(code);
    const [ recorded ] = sim.requests('jscode2session');
    assert.equal(recorded.method, 'GET');
    assert.equal(recorded.params.js_code, code);
    assert.equal(recorded.params.appid, DEV.appId);
    assert.deepEqual(sim.requests('unifiedorder'), []);
  });

  it('issueLoginCode refuses an unknown app or a malformed openid', () => {
    assert.throws(() => sim.issueLoginCode({ appId: 'wx9999999999999999' }), /unknown appId/);
    assert.throws(() => sim.issueLoginCode({ openid: 'has space' }), /openid/);
  });

  describe('test-<anything> codes', () => {
    it('map to a stable openid derived from the code, without issuing', async () => {
      const openid = sim.openidForTestCode('test-alice');
      assert.match(openid, /^o[A-Za-z0-9_-]{27}$/);
      assert.equal(sim.openidForTestCode('test-alice'), openid);
      assert.notEqual(sim.openidForTestCode('test-bob'), openid);
      const result = await loginClient(sim).code2Session('test-alice');
      assert.equal(result.openid, openid);
      assert.equal(result.unionid, undefined);
    });

    it('are single-use too (40163), until reset()', async () => {
      await loginClient(sim).code2Session('test-once');
      assert.equal(await loginError(loginClient(sim).code2Session('test-once')), 40163);
      sim.reset();
      await loginClient(sim).code2Session('test-once');
    });

    it('still need the right appid and secret', async () => {
      assert.equal(await loginError(loginClient(sim, { appSecret: 'wrong' }).code2Session('test-carol')), 40125);
      assert.equal(await loginError(loginClient(sim, { appId: 'wx9999999999999999' }).code2Session('test-carol')), 40013);
    });

    it('the bare prefix is not a test code', async () => {
      assert.throws(() => sim.openidForTestCode('test-'), /test codes/);
      assert.throws(() => sim.openidForTestCode('alice'), /test codes/);
      assert.equal(await loginError(loginClient(sim).code2Session('test-')), 40029);
    });
  });
});
