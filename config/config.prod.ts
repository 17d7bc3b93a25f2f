import { EggAppConfig, PowerPartial } from 'egg';
import { DEV_WEBHOOK_SECRET, DEV_WECHAT, fromEnv } from './env';

/**
 * Production refuses to start with a missing credential or one still at its development value:
 * a merchant must never take money with the simulator's key or talk to the simulator by mistake.
 */
export function assertProductionSettings(env: NodeJS.ProcessEnv = process.env): void {
  const problems: string[] = [];
  const required: Array<[string, string | undefined]> = [
    [ 'WECHAT_APPID', DEV_WECHAT.appId ],
    [ 'WECHAT_APP_SECRET', DEV_WECHAT.appSecret ],
    [ 'WECHAT_MCH_ID', DEV_WECHAT.mchId ],
    [ 'WECHAT_API_KEY', DEV_WECHAT.apiKey ],
    [ 'WECHAT_NOTIFY_URL', undefined ],
    [ 'WECHAT_REFUND_NOTIFY_URL', undefined ],
    [ 'ADMIN_TOKEN', DEV_WECHAT.adminToken ],
    [ 'EGG_KEYS', DEV_WECHAT.keys ],
  ];
  const read = (name: string) => {
    const saved = process.env;
    process.env = env;
    try { return fromEnv(name); } finally { process.env = saved; }
  };
  for (const [ name, devValue ] of required) {
    const value = read(name);
    if (!value) problems.push(`${name} (or ${name}_FILE) is not set`);
    else if (devValue && value === devValue) problems.push(`${name} still has its development value`);
  }
  // An app is configured whole or not at all: an official account with an appid but no secret
  // would start and then fail every payer's login.
  const oaAppId = read('WECHAT_OA_APPID');
  const oaSecret = read('WECHAT_OA_APP_SECRET');
  if (!!oaAppId !== !!oaSecret) problems.push('WECHAT_OA_APPID and WECHAT_OA_APP_SECRET must be set together (or neither)');
  if (oaAppId && oaAppId === DEV_WECHAT.oaAppId) problems.push('WECHAT_OA_APPID still has its development value');
  if (oaSecret && oaSecret === DEV_WECHAT.oaAppSecret) problems.push('WECHAT_OA_APP_SECRET still has its development value');
  if (oaAppId && oaAppId === read('WECHAT_APPID')) problems.push('WECHAT_OA_APPID must differ from WECHAT_APPID (one appid per app)');
  if (oaAppId) {
    // The official account's login needs our callback and where it may send the browser back to.
    const callback = read('WECHAT_OAUTH_CALLBACK_URL');
    if (!callback) problems.push('WECHAT_OAUTH_CALLBACK_URL must be set with the official account');
    else if (!/^https:\/\//.test(callback)) problems.push('WECHAT_OAUTH_CALLBACK_URL must be an https URL');
    const allow = (read('OAUTH_REDIRECT_ALLOW_LIST') ?? '').split(',').map(s => s.trim()).filter(Boolean);
    if (!allow.length) problems.push('OAUTH_REDIRECT_ALLOW_LIST must be set with the official account');
    else if (allow.some(a => !/^https:\/\/[^/]+\//.test(a))) problems.push('OAUTH_REDIRECT_ALLOW_LIST entries must be https URLs with a path (e.g. https://shop.example.com/)');
  }
  // The Open Platform mobile app (APP channel): whole or not at all, like the official account.
  const mobileAppId = read('WECHAT_MOBILE_APPID');
  const mobileSecret = read('WECHAT_MOBILE_APP_SECRET');
  if (!!mobileAppId !== !!mobileSecret) problems.push('WECHAT_MOBILE_APPID and WECHAT_MOBILE_APP_SECRET must be set together (or neither)');
  if (mobileAppId && mobileAppId === DEV_WECHAT.mobileAppId) problems.push('WECHAT_MOBILE_APPID still has its development value');
  if (mobileSecret && mobileSecret === DEV_WECHAT.mobileAppSecret) problems.push('WECHAT_MOBILE_APP_SECRET still has its development value');
  if (mobileAppId && (mobileAppId === read('WECHAT_APPID') || mobileAppId === oaAppId)) problems.push('WECHAT_MOBILE_APPID must differ from the other apps\' appids');
  // H5 payment (MWEB) is on only when its site and return page are set, both https, both or neither.
  const h5 = [ 'WECHAT_H5_WAP_URL', 'WECHAT_H5_RETURN_URL' ].map(name => [ name, read(name) ] as const);
  if (h5.some(([ , url ]) => url) && h5.some(([ , url ]) => !url)) problems.push('WECHAT_H5_WAP_URL and WECHAT_H5_RETURN_URL must be set together (or neither)');
  for (const [ name, url ] of h5) if (url && !/^https:\/\/[^/]+/.test(url)) problems.push(`${name} must be an https URL`);
  const apiKey = read('WECHAT_API_KEY');
  if (apiKey && apiKey.length !== 32) problems.push('WECHAT_API_KEY must be the 32-character merchant API key');
  const signType = read('WECHAT_SIGN_TYPE');
  if (signType && signType !== 'MD5' && signType !== 'HMAC-SHA256') problems.push('WECHAT_SIGN_TYPE must be MD5 or HMAC-SHA256');
  for (const name of [ 'WECHAT_NOTIFY_URL', 'WECHAT_REFUND_NOTIFY_URL' ]) {
    const url = read(name);
    if (url && (!/^https?:\/\//.test(url) || url.includes('?'))) problems.push(`${name} must be an absolute URL without query parameters`);
  }
  if (read('ADMIN_TOKEN') && (read('ADMIN_TOKEN') as string).length < 24) problems.push('ADMIN_TOKEN must be at least 24 characters');
  // POS: a cashier token is optional, but a weak one, or the admin token itself, would give away charging.
  const cashier = read('CASHIER_TOKEN');
  if (cashier && cashier.length < 24) problems.push('CASHIER_TOKEN must be at least 24 characters');
  if (cashier && cashier === read('ADMIN_TOKEN')) problems.push('CASHIER_TOKEN must differ from ADMIN_TOKEN');
  // Issue 17: webhooks signed with the development secret could be forged by anyone who read the repository.
  if (read('OUTBOX_WEBHOOK_URL')) {
    const secret = read('OUTBOX_WEBHOOK_SECRET');
    if (!secret || secret === DEV_WEBHOOK_SECRET) problems.push('OUTBOX_WEBHOOK_SECRET must be set (not its development value) with OUTBOX_WEBHOOK_URL');
    else if (secret.length < 32) problems.push('OUTBOX_WEBHOOK_SECRET must be at least 32 characters');
  }
  // --- metrics (issue 18): an optional token, but a guessable one would publish the business figures.
  const metricsToken = read('METRICS_TOKEN');
  if (metricsToken && (metricsToken.length < 24 || metricsToken === DEV_WECHAT.adminToken)) {
    problems.push('METRICS_TOKEN must be at least 24 characters and not a development value');
  }
  // --- end metrics
  if (problems.length) {
    throw new Error(`Refusing to start in production:\n  - ${problems.join('\n  - ')}\nSee docs/operations.md "Configuration".`);
  }
}

export default () => {
  assertProductionSettings();
  const config: PowerPartial<EggAppConfig> = {};
  (config as any).wechat = {
    payBaseUrl: fromEnv('WECHAT_PAY_BASE_URL', 'https://api.mch.weixin.qq.com'),
    loginBaseUrl: fromEnv('WECHAT_LOGIN_BASE_URL', 'https://api.weixin.qq.com'),
    oauthAuthorizeBaseUrl: fromEnv('WECHAT_OAUTH_AUTHORIZE_BASE_URL', 'https://open.weixin.qq.com'),
    // No development H5 site in production: MWEB is off until both are set.
    web: { wapUrl: fromEnv('WECHAT_H5_WAP_URL', ''), wapName: fromEnv('WECHAT_H5_WAP_NAME', ''), h5ReturnUrl: fromEnv('WECHAT_H5_RETURN_URL', '') },
  };
  return config;
};
