import { WechatLoginClient, WechatOAuthClient, WechatPayClient } from '../../lib/wechatpay';
import { MerchantTls, readMerchantTls } from '../infra/merchantCert';
import { ClusterMetrics, ServiceMetrics } from '../infra/metrics';

const PAY_CLIENT = Symbol('wechatPayClient');
const LOGIN_CLIENT = Symbol('wechatLoginClient');
const OAUTH_CLIENT = Symbol('wechatOAuthClient');
const APP_OAUTH_CLIENT = Symbol('wechatAppOAuthClient');
const METRICS = Symbol('metrics');
const CLUSTER_METRICS = Symbol('clusterMetrics');

/**
 * Returns the client cached in `slot` while the settings it was built from are unchanged, else
 * builds a new one. The key is derived from exactly those settings, so none can be left out.
 */
function cachedClient<T>(app: any, slot: symbol, settings: Record<string, unknown>, build: () => T): T {
  const key = JSON.stringify(settings);
  const entry: { key: string; client: T } | undefined = app[slot];
  if (entry && entry.key === key) return entry.client;
  const client = build();
  app[slot] = { key, client };
  return client;
}

/**
 * The WeChat clients, built from config once and rebuilt only when the settings they use change
 * (tests point them at a simulator started on a free port after the app is loaded).
 */
export default {
  get wechatPay(): WechatPayClient {
    const app = this as any;
    const c = app.config.wechat;
    const settings = {
      appId: c.appId, mchId: c.mchId, apiKey: c.apiKey, signType: c.signType,
      baseUrl: c.payBaseUrl, secapiBaseUrl: c.secapiBaseUrl, timeoutMs: c.timeoutMs, sandbox: c.sandbox === true,
    };
    return cachedClient(app, PAY_CLIENT, { ...settings, clientCert: c.clientCert ?? {} }, () => {
      // The certificate was checked at start-up (app.ts); if it cannot be read now, the pay APIs
      // still work and refunds are refused (RefundService checks config.tls).
      let tls: MerchantTls | undefined;
      try {
        tls = readMerchantTls(c.clientCert ?? {}, c.mchId);
      } catch (err) {
        app.logger.error('[wechat] merchant certificate unusable, refunds are off: %s', (err as Error).message);
      }
      return new WechatPayClient({ ...settings, tls, observer: app.metrics.wechatObserver });
    });
  },

  get wechatLogin(): WechatLoginClient {
    const app = this as any;
    const c = app.config.wechat;
    const settings = { appId: c.appId, appSecret: c.appSecret, baseUrl: c.loginBaseUrl, timeoutMs: c.timeoutMs };
    return cachedClient(app, LOGIN_CLIENT, settings, () => new WechatLoginClient({ ...settings, observer: app.metrics.wechatObserver }));
  },

  /** The official account's OAuth client; undefined when no official account is configured. */
  get wechatOAuth(): WechatOAuthClient | undefined {
    return oauthClientOf(this as any, 'officialAccount', OAUTH_CLIENT);
  },

  /** This worker's metrics (counters, histograms): docs/operations.md "Metrics". */
  get metrics(): ServiceMetrics {
    const app = this as any;
    if (!app[METRICS]) app[METRICS] = new ServiceMetrics();
    return app[METRICS];
  },

  /** Every worker's metrics for a scrape; created at start (app.ts), so each worker answers the others. */
  get clusterMetrics(): ClusterMetrics {
    const app = this as any;
    if (!app[CLUSTER_METRICS]) app[CLUSTER_METRICS] = new ClusterMetrics(app.messenger, app.metrics, app.config.metrics.collectTimeoutMs);
    return app[CLUSTER_METRICS];
  },

  /**
   * The Open Platform mobile app's OAuth code exchange (the app's WeChat login, same endpoint as
   * the official account's); undefined when no mobile app is configured.
   */
  get wechatAppOAuth(): WechatOAuthClient | undefined {
    return oauthClientOf(this as any, 'app', APP_OAUTH_CLIENT);
  },
};

/**
 * The OAuth code exchange of one configured app (the official account's web login, the mobile
 * app's login: the same WeChat endpoint), counted in the metrics like every WeChat call.
 */
function oauthClientOf(app: any, role: 'officialAccount' | 'app', key: symbol): WechatOAuthClient | undefined {
  const c = app.config.wechat;
  const configured = c.apps?.[role];
  if (!configured) return undefined;
  const settings = {
    appId: configured.appId, appSecret: configured.appSecret, apiBaseUrl: c.loginBaseUrl, authorizeBaseUrl: c.oauthAuthorizeBaseUrl, timeoutMs: c.timeoutMs,
  };
  return cachedClient(app, key, settings, () => new WechatOAuthClient({ ...settings, observer: app.metrics.wechatObserver }));
}
