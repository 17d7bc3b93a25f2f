import { WechatLoginClient, WechatPayClient } from '../../lib/wechatpay';
import { MerchantTls, readMerchantTls } from '../lib/merchantCert';

const PAY_CLIENT = Symbol('wechatPayClient');
/** The certificate settings the cached pay client was built with. */
const PAY_CLIENT_CERT = Symbol('wechatPayClientCert');
const LOGIN_CLIENT = Symbol('wechatLoginClient');

/**
 * The WeChat clients, built from config once and rebuilt only when the settings they use change
 * (tests point them at a simulator started on a free port after the app is loaded).
 */
export default {
  get wechatPay(): WechatPayClient {
    const app = this as any;
    const c = app.config.wechat;
    const cached: WechatPayClient | undefined = app[PAY_CLIENT];
    const certKey = JSON.stringify(c.clientCert ?? {});
    if (cached && cached.config.baseUrl === c.payBaseUrl && cached.config.signType === c.signType &&
      cached.config.timeoutMs === c.timeoutMs && cached.config.apiKey === c.apiKey &&
      cached.config.appId === c.appId && cached.config.mchId === c.mchId &&
      cached.config.secapiBaseUrl === (c.secapiBaseUrl || c.payBaseUrl) && app[PAY_CLIENT_CERT] === certKey) return cached;
    // The certificate was checked at start-up (app.ts); if it cannot be read now, the pay APIs
    // still work and refunds are refused (RefundService checks config.tls).
    let tls: MerchantTls | undefined;
    try {
      tls = readMerchantTls(c.clientCert ?? {}, c.mchId);
    } catch (err) {
      app.logger.error('[wechat] merchant certificate unusable, refunds are off: %s', (err as Error).message);
    }
    app[PAY_CLIENT] = new WechatPayClient({
      appId: c.appId, mchId: c.mchId, apiKey: c.apiKey, signType: c.signType,
      baseUrl: c.payBaseUrl, secapiBaseUrl: c.secapiBaseUrl || c.payBaseUrl, timeoutMs: c.timeoutMs, tls,
    });
    app[PAY_CLIENT_CERT] = certKey;
    return app[PAY_CLIENT];
  },

  get wechatLogin(): WechatLoginClient {
    const app = this as any;
    const c = app.config.wechat;
    const cached: WechatLoginClient | undefined = app[LOGIN_CLIENT];
    if (cached && cached.config.baseUrl === c.loginBaseUrl && cached.config.timeoutMs === c.timeoutMs &&
      cached.config.appId === c.appId && cached.config.appSecret === c.appSecret) return cached;
    app[LOGIN_CLIENT] = new WechatLoginClient({
      appId: c.appId, appSecret: c.appSecret, baseUrl: c.loginBaseUrl, timeoutMs: c.timeoutMs,
    });
    return app[LOGIN_CLIENT];
  },
};
