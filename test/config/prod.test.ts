import assert from 'node:assert/strict';
import { assertProductionSettings } from '../../config/config.prod';
import { DEV_WEBHOOK_SECRET, DEV_WECHAT } from '../../config/env';

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

describe('production settings check', () => {
  it('accepts a complete production environment', () => {
    assert.doesNotThrow(() => assertProductionSettings({ ...GOOD }));
  });

  it('refuses a missing credential, naming it', () => {
    const env: Record<string, string> = { ...GOOD };
    delete env.WECHAT_API_KEY;
    assert.throws(() => assertProductionSettings(env), /WECHAT_API_KEY \(or WECHAT_API_KEY_FILE\) is not set/);
  });

  it('refuses development values', () => {
    assert.throws(() => assertProductionSettings({ ...GOOD, WECHAT_API_KEY: DEV_WECHAT.apiKey }), /WECHAT_API_KEY still has its development value/);
    assert.throws(() => assertProductionSettings({ ...GOOD, WECHAT_APPID: DEV_WECHAT.appId }), /WECHAT_APPID still has its development value/);
    assert.throws(() => assertProductionSettings({ ...GOOD, ADMIN_TOKEN: DEV_WECHAT.adminToken }), /ADMIN_TOKEN still has its development value/);
  });

  it('refuses malformed values', () => {
    assert.throws(() => assertProductionSettings({ ...GOOD, WECHAT_API_KEY: 'short' }), /32-character/);
    assert.throws(() => assertProductionSettings({ ...GOOD, WECHAT_SIGN_TYPE: 'SHA1' }), /MD5 or HMAC-SHA256/);
    assert.throws(() => assertProductionSettings({ ...GOOD, WECHAT_NOTIFY_URL: 'https://x.example/n?a=1' }), /without query parameters/);
  });

  // POS: docs/pos.md.
  it('accepts a strong cashier token, refuses a short one or the admin token itself', () => {
    assert.doesNotThrow(() => assertProductionSettings({ ...GOOD, CASHIER_TOKEN: 'cashier-token-that-is-long-enough-01' }));
    assert.throws(() => assertProductionSettings({ ...GOOD, CASHIER_TOKEN: 'short' }), /CASHIER_TOKEN must be at least 24 characters/);
    assert.throws(() => assertProductionSettings({ ...GOOD, CASHIER_TOKEN: GOOD.ADMIN_TOKEN }), /CASHIER_TOKEN must differ from ADMIN_TOKEN/);
  });

  // Issue 17: the event outbox's webhook.
  it('with an event webhook, refuses a missing, development or short signing secret', () => {
    const hook = { ...GOOD, OUTBOX_WEBHOOK_URL: 'https://shop.example.com/hooks/wxpay' };
    assert.throws(() => assertProductionSettings(hook), /OUTBOX_WEBHOOK_SECRET must be set/);
    assert.throws(() => assertProductionSettings({ ...hook, OUTBOX_WEBHOOK_SECRET: DEV_WEBHOOK_SECRET }), /OUTBOX_WEBHOOK_SECRET must be set \(not its development value\)/);
    assert.throws(() => assertProductionSettings({ ...hook, OUTBOX_WEBHOOK_SECRET: 'short' }), /at least 32 characters/);
    assert.doesNotThrow(() => assertProductionSettings({ ...hook, OUTBOX_WEBHOOK_SECRET: 's'.repeat(32) }));
  });

  it('refuses a short or development METRICS_TOKEN; none at all is fine (GET /metrics then refuses every scrape)', () => {
    assert.throws(() => assertProductionSettings({ ...GOOD, METRICS_TOKEN: 'short' }), /METRICS_TOKEN must be at least 24 characters/);
    assert.throws(() => assertProductionSettings({ ...GOOD, METRICS_TOKEN: DEV_WECHAT.adminToken }), /METRICS_TOKEN must be at least 24 characters and not a development value/);
    assert.doesNotThrow(() => assertProductionSettings({ ...GOOD, METRICS_TOKEN: 'm'.repeat(24) }));
  });
});
