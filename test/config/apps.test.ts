import assert from 'node:assert/strict';
import { configuredApps, mobileAppFromEnv, officialAccountFromEnv } from '../../config/config.default';
import { assertProductionSettings } from '../../config/config.prod';
import { DEV_WECHAT } from '../../config/env';

const OA_LOGIN = {
  WECHAT_OAUTH_CALLBACK_URL: 'https://pay.example.com/oauth/wechat/callback',
  OAUTH_REDIRECT_ALLOW_LIST: 'https://shop.example.com/pay/,https://shop.example.com/account/',
};

const GOOD = {
  WECHAT_APPID: 'wxabcdef0123456789',
  WECHAT_APP_SECRET: 'a-real-looking-app-secret',
  WECHAT_MCH_ID: '1234567890',
  WECHAT_API_KEY: 'k'.repeat(32),
  WECHAT_NOTIFY_URL: 'https://pay.example.com/payment/notify',
  WECHAT_REFUND_NOTIFY_URL: 'https://pay.example.com/payment/refund-notify',
  ADMIN_TOKEN: 'admin-token-that-is-long-enough-0001',
  EGG_KEYS: 'production-cookie-keys',
};

/** Runs fn with these WECHAT_OA_* variables, restoring the environment after. */
function withOaEnv<T>(vars: { WECHAT_OA_APPID?: string; WECHAT_OA_APP_SECRET?: string }, fn: () => T): T {
  const saved = { ...process.env };
  delete process.env.WECHAT_OA_APPID;
  delete process.env.WECHAT_OA_APP_SECRET;
  Object.assign(process.env, vars);
  try { return fn(); } finally { process.env = saved; }
}

describe('apps by role', () => {
  it('production accepts the mini-program alone, or with a whole official account', () => {
    assert.doesNotThrow(() => assertProductionSettings({ ...GOOD }));
    assert.doesNotThrow(() => assertProductionSettings({ ...GOOD, ...OA_LOGIN, WECHAT_OA_APPID: 'wxfedcba9876543210', WECHAT_OA_APP_SECRET: 'an-oa-secret' }));
  });

  it('production needs the official account\'s login settings, over HTTPS', () => {
    const oa = { ...GOOD, WECHAT_OA_APPID: 'wxfedcba9876543210', WECHAT_OA_APP_SECRET: 'an-oa-secret' };
    assert.throws(() => assertProductionSettings(oa), /WECHAT_OAUTH_CALLBACK_URL must be set[\s\S]*OAUTH_REDIRECT_ALLOW_LIST must be set/);
    assert.throws(() => assertProductionSettings({ ...oa, ...OA_LOGIN, WECHAT_OAUTH_CALLBACK_URL: 'http://pay.example.com/cb' }), /must be an https URL/);
    assert.throws(() => assertProductionSettings({ ...oa, ...OA_LOGIN, OAUTH_REDIRECT_ALLOW_LIST: 'https://shop.example.com' }), /entries must be https URLs with a path/);
    assert.throws(() => assertProductionSettings({ ...oa, ...OA_LOGIN, OAUTH_REDIRECT_ALLOW_LIST: 'http://shop.example.com/' }), /entries must be https URLs with a path/);
  });

  it('production refuses a half-configured official account, its development values, or the mini-program\'s appid', () => {
    assert.throws(() => assertProductionSettings({ ...GOOD, WECHAT_OA_APPID: 'wxfedcba9876543210' }), /WECHAT_OA_APPID and WECHAT_OA_APP_SECRET must be set together/);
    assert.throws(() => assertProductionSettings({ ...GOOD, WECHAT_OA_APP_SECRET: 'an-oa-secret' }), /must be set together/);
    assert.throws(() => assertProductionSettings({ ...GOOD, WECHAT_OA_APPID: DEV_WECHAT.oaAppId, WECHAT_OA_APP_SECRET: 'an-oa-secret' }),
      /WECHAT_OA_APPID still has its development value/);
    assert.throws(() => assertProductionSettings({ ...GOOD, WECHAT_OA_APPID: 'wxfedcba9876543210', WECHAT_OA_APP_SECRET: DEV_WECHAT.oaAppSecret }),
      /WECHAT_OA_APP_SECRET still has its development value/);
    assert.throws(() => assertProductionSettings({ ...GOOD, WECHAT_OA_APPID: GOOD.WECHAT_APPID, WECHAT_OA_APP_SECRET: 'an-oa-secret' }), /must differ from WECHAT_APPID/);
  });

  it('reads the official account whole, or not at all; development falls back to the simulator\'s second app', () => {
    assert.deepEqual(withOaEnv({ WECHAT_OA_APPID: 'wxoa', WECHAT_OA_APP_SECRET: 's' }, () => officialAccountFromEnv('prod')), { appId: 'wxoa', appSecret: 's' });
    assert.equal(withOaEnv({}, () => officialAccountFromEnv('prod')), undefined);
    assert.deepEqual(withOaEnv({}, () => officialAccountFromEnv('local')), { appId: DEV_WECHAT.oaAppId, appSecret: DEV_WECHAT.oaAppSecret });
    assert.throws(() => withOaEnv({ WECHAT_OA_APPID: 'wxoa' }, () => officialAccountFromEnv('local')), /must be set together/);
  });

  it('lists the configured apps by role, skipping an absent official account', () => {
    const miniProgram = { appId: 'wxmp', appSecret: 'a' };
    assert.deepEqual(configuredApps({ apps: { miniProgram } }), [{ role: 'miniProgram', ...miniProgram }]);
    assert.deepEqual(configuredApps({ apps: { miniProgram, officialAccount: { appId: 'wxoa', appSecret: 'b' } } }).map(a => a.role),
      [ 'miniProgram', 'officialAccount' ]);
  });

  // Channels (issue 16): the Open Platform mobile app (APP) and the H5 site (MWEB).
  describe('the mobile app and the H5 site', () => {
    const MOBILE = { WECHAT_MOBILE_APPID: 'wx1122334455667788', WECHAT_MOBILE_APP_SECRET: 'a-mobile-secret' };

    it('production accepts a whole mobile app and refuses half of one, its development values or another app\'s appid', () => {
      assert.doesNotThrow(() => assertProductionSettings({ ...GOOD, ...MOBILE }));
      assert.throws(() => assertProductionSettings({ ...GOOD, WECHAT_MOBILE_APPID: MOBILE.WECHAT_MOBILE_APPID }),
        /WECHAT_MOBILE_APPID and WECHAT_MOBILE_APP_SECRET must be set together/);
      assert.throws(() => assertProductionSettings({ ...GOOD, WECHAT_MOBILE_APP_SECRET: 's' }), /must be set together/);
      assert.throws(() => assertProductionSettings({ ...GOOD, ...MOBILE, WECHAT_MOBILE_APPID: DEV_WECHAT.mobileAppId }),
        /WECHAT_MOBILE_APPID still has its development value/);
      assert.throws(() => assertProductionSettings({ ...GOOD, ...MOBILE, WECHAT_MOBILE_APP_SECRET: DEV_WECHAT.mobileAppSecret }),
        /WECHAT_MOBILE_APP_SECRET still has its development value/);
      assert.throws(() => assertProductionSettings({ ...GOOD, ...MOBILE, WECHAT_MOBILE_APPID: GOOD.WECHAT_APPID }), /must differ from the other apps/);
    });

    it('production takes the H5 site and return page together, over HTTPS', () => {
      const h5 = { WECHAT_H5_WAP_URL: 'https://m.shop.example.com', WECHAT_H5_RETURN_URL: 'https://m.shop.example.com/paid' };
      assert.doesNotThrow(() => assertProductionSettings({ ...GOOD, ...h5 }));
      assert.throws(() => assertProductionSettings({ ...GOOD, WECHAT_H5_WAP_URL: h5.WECHAT_H5_WAP_URL }), /must be set together/);
      assert.throws(() => assertProductionSettings({ ...GOOD, ...h5, WECHAT_H5_RETURN_URL: 'http://m.shop.example.com/paid' }),
        /WECHAT_H5_RETURN_URL must be an https URL/);
    });

    it('reads the mobile app whole, or not at all; development falls back to the simulator\'s third app', () => {
      const withEnv = <T>(vars: Record<string, string>, fn: () => T): T => {
        const saved = { ...process.env };
        delete process.env.WECHAT_MOBILE_APPID;
        delete process.env.WECHAT_MOBILE_APP_SECRET;
        Object.assign(process.env, vars);
        try { return fn(); } finally { process.env = saved; }
      };
      assert.deepEqual(withEnv(MOBILE, () => mobileAppFromEnv('prod')), { appId: MOBILE.WECHAT_MOBILE_APPID, appSecret: MOBILE.WECHAT_MOBILE_APP_SECRET });
      assert.equal(withEnv({}, () => mobileAppFromEnv('prod')), undefined);
      assert.deepEqual(withEnv({}, () => mobileAppFromEnv('unittest')), { appId: DEV_WECHAT.mobileAppId, appSecret: DEV_WECHAT.mobileAppSecret });
      assert.throws(() => withEnv({ WECHAT_MOBILE_APPID: 'wx1' }, () => mobileAppFromEnv('local')), /must be set together/);
      assert.deepEqual(configuredApps({ apps: { miniProgram: { appId: 'a', appSecret: 'b' }, app: { appId: 'c', appSecret: 'd' } } }).map(a => a.role),
        [ 'miniProgram', 'app' ]);
    });
  });
});
