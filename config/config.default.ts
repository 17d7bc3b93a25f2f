import { EggAppConfig, EggAppInfo, PowerPartial } from 'egg';
import { DEV_WEBHOOK_SECRET, DEV_WECHAT, fromEnv, intFromEnv } from './env';

export type SignType = 'MD5' | 'HMAC-SHA256';

/** The WeChat apps that sell under the merchant, by role (docs/decisions/0006-apps-and-users.md). */
export type AppRole = 'miniProgram' | 'officialAccount' | 'app';
export const APP_ROLES: readonly AppRole[] = [ 'miniProgram', 'officialAccount', 'app' ];

/** One WeChat app (mini-program, official account): its appid and the secret its login/OAuth uses. */
export interface WechatAppConfig {
  appId: string;
  appSecret: string;
}

export interface WechatConfig {
  /**
   * The mini-program's appid and secret, the same values as apps.miniProgram (WECHAT_APPID,
   * WECHAT_APP_SECRET); kept because the mini-program was the only app before and code that needs
   * "the default app" reads them.
   */
  appId: string;
  appSecret: string;
  /**
   * The merchant's apps by role. The mini-program is always there; the official account only when
   * WECHAT_OA_APPID and WECHAT_OA_APP_SECRET are both set. Every order keeps the appid it was made
   * for, and every later WeChat call for it uses that appid.
   */
  apps: { miniProgram: WechatAppConfig; officialAccount?: WechatAppConfig; app?: WechatAppConfig };
  /** Channels (issue 16): the web shop (NATIVE, MWEB) and its H5 site. docs/channels.md. */
  web: WebChannelConfig;
  mchId: string;
  apiKey: string;
  signType: SignType;
  /** https://api.mch.weixin.qq.com in production, the simulator locally and in tests. */
  payBaseUrl: string;
  /** https://api.weixin.qq.com in production: code2Session and the official account's OAuth code exchange. */
  loginBaseUrl: string;
  /** Where a payer's browser is sent to authorise the official account: https://open.weixin.qq.com in production. */
  oauthAuthorizeBaseUrl: string;
  notifyUrl: string;
  refundNotifyUrl: string;
  timeoutMs: number;
  /**
   * Base URL for the /secapi/ routes (refunds), called over mutual TLS with the merchant's client
   * certificate; unset: payBaseUrl. Tests: the simulator's HTTPS side.
   */
  secapiBaseUrl?: string;
  /** The merchant's API client certificate (apiclient_cert) for /secapi/. */
  clientCert: WechatClientCertConfig;
  /** WECHAT_SANDBOX=true: every pay API through WeChat's sandbox, signed with its key (docs/pos.md#sandbox-mode). */
  sandbox: boolean;
}

/**
 * The web shop's channels: NATIVE (a QR code on a PC page) and MWEB (H5, a mobile browser outside
 * WeChat). Their orders name the official account's appid (WeChat needs an appid bound to the
 * merchant; payers have no openid in it), so without an official account they are off.
 */
export interface WebChannelConfig {
  /** MWEB's scene_info h5_info: the site's URL and name, as registered for H5 payment. */
  wapUrl: string;
  wapName: string;
  /**
   * The page WeChat's cashier sends the payer back to (redirect_url), `?outTradeNo=` appended; its
   * domain must be the H5 payment domain registered at WeChat. Coming back there proves nothing.
   */
  h5ReturnUrl: string;
}

/**
 * Either a PKCS#12 file (apiclient_cert.p12) or a PEM certificate and key (apiclient_cert.pem,
 * apiclient_key.pem); checked at start-up (app.ts). Nothing set: refunds answer 503.
 */
export interface WechatClientCertConfig {
  p12Path?: string;
  /** The p12's password; WeChat issues it with the mch_id as password, the default. */
  p12Password?: string;
  certPath?: string;
  keyPath?: string;
  /** The CA to trust for the /secapi/ host instead of the system ones (tests: the simulator's CA). */
  caPath?: string;
}

export interface PaymentConfig {
  /** How long an order may be paid; sent to WeChat as time_expire. */
  orderTtlSeconds: number;
  /** A prepay_id is valid 2 hours at WeChat; reuse it only with this much margin left. */
  prepayReuseMarginSeconds: number;
  /** Ask WeChat (orderquery) when a NOTPAY order's prepay is older than this and the client polls. */
  queryAfterSeconds: number;
  /**
   * Polling asks WeChat about one order at most once per this many seconds, across workers and
   * hosts (a claim in Redis): the merchant's orderquery allowance is shared with the jobs.
   */
  statusQueryIntervalSeconds: number;
  /** Most items in one order and largest quantity of one item. */
  maxItems: number;
  maxQuantity: number;
  /** Upper bound on one order's amount in fen, a guard against pricing mistakes. */
  maxTotalFee: number;
  /** Largest notification body accepted. */
  maxNotifyBytes: number;
  /** Scheduled jobs (app/schedule): closing expired orders, querying orders whose notification is overdue. */
  jobs: PaymentJobsConfig;
}

export interface PaymentJobsConfig {
  /** false: the jobs never fire by themselves (tests trigger them with app.runSchedule). */
  enabled: boolean;
  closeExpiredIntervalMs: number;
  queryOverdueIntervalMs: number;
  /** Query WeChat for an unpaid order once its prepay is this old (the notification is overdue). */
  queryOverdueAfterSeconds: number;
  /** How often queryOverdueRefunds runs. */
  queryOverdueRefundsIntervalMs: number;
  /** A PROCESSING refund not heard of for this long is asked about (refundquery), or sent again if WeChat never got it. */
  refundQueryAfterSeconds: number;
  /** Orders read per database page. */
  batchSize: number;
  /**
   * The cluster-wide job lock expires after this long even if its holder died; a run stops taking
   * new orders after half of it, so it never outlives its lock.
   */
  lockTtlMs: number;
}

export interface SessionConfig {
  ttlSeconds: number;
  /** Redis commands must not hang a request when Redis is away. */
  commandTimeoutMs: number;
}

export interface ShutdownConfig {
  /**
   * On stop, how long a worker waits for requests in flight (a notification being committed) before
   * it exits anyway. Keep it below EGG_APP_CLOSE_TIMEOUT (5000 ms), after which Egg kills the worker.
   */
  drainTimeoutMs: number;
}

/** At most `limit` requests per `windowSeconds` (fixed window, counted in Redis); limit 0 turns the rule off. */
export interface RateLimitRule {
  limit: number;
  windowSeconds: number;
}

export interface RateLimitConfig {
  /** POST /api/login per client IP, checked before WeChat is called. */
  loginPerIp: RateLimitRule;
  /** POST /api/login per WeChat user (openid), checked before a session is created. */
  loginPerUser: RateLimitRule;
  /** POST /payment/order and POST /payment/orders/:outTradeNo/pay per logged-in user. */
  orderPerUser: RateLimitRule;
  /** GET /payment/orders/:outTradeNo per logged-in user (each poll may cost an order query). */
  statusPerUser: RateLimitRule;
  /** POST /admin/session (the console's sign-in) per client IP: guessing the admin token stays slow. */
  adminSignInPerIp: RateLimitRule;
}

/** Official-account login (GET /oauth/wechat/authorize, /oauth/wechat/callback): docs/official-account.md. */
export interface OAuthConfig {
  /** Our callback, as WeChat will redirect to it; its host must be the account's web-authorisation domain. */
  callbackUrl: string;
  /**
   * Where a login may send the browser back to, with the session token in the fragment: absolute
   * URL prefixes (scheme, host, port and a path prefix). Anything else is refused (422), so the
   * login cannot be used to hand a token to someone else's page.
   */
  redirectAllowList: string[];
  /** How long a started login (its state) waits for the callback. */
  stateTtlSeconds: number;
}

// --- POS (payment code) settings: docs/pos.md ---
export interface PosConfig {
  /** The appid payment-code charges are made under (POS_APPID): a configured app of the merchant; default the official account, else the mini-program. */
  appId: string;
  /** CASHIER_TOKEN: may create and read charges, nothing else (no refunds). Empty: only the admin token charges. */
  cashierToken: string;
  /** Order query while the payer enters the password (USERPAYING) or the result is unknown: every this many ms ... */
  queryIntervalMs: number;
  /** ... for at most this long after the micropay call; then the charge is reversed. WeChat's staff advise 5 s and 30 s. */
  queryLimitMs: number;
  /** Reverse calls at most (recall=Y, no reply, an error), this far apart. */
  reverseMaxCalls: number;
  reverseIntervalMs: number;
  /** A POS order's expiry: a charge that never finished (the process died) is reversed by the expiry job after this. */
  orderTtlSeconds: number;
  /** WeChat's body for a charge of an amount without items. */
  defaultBody: string;
}
// --- end POS ---
// --- metrics (issue 18): GET /metrics, docs/operations.md "Metrics" ---
export interface MetricsConfig {
  /**
   * `Authorization: Bearer <token>` opens GET /metrics (METRICS_TOKEN; in local and unittest the
   * admin token when unset). Empty: /metrics refuses everyone (unless `port` is set).
   */
  token: string;
  /** METRICS_PORT: serve GET /metrics on this port only, without a token (a port only the monitoring network reaches). */
  port?: number;
  /** How long a scrape waits for the other workers' metrics before answering without them. */
  collectTimeoutMs: number;
}
// --- end metrics ---

export interface BizConfig {
  wechat: WechatConfig;
  pos: PosConfig;
  outbox: OutboxConfig;
  oauth: OAuthConfig;
  payment: PaymentConfig;
  session: SessionConfig;
  shutdown: ShutdownConfig;
  rateLimit: RateLimitConfig;
  adminToken: string;
  reconciliation: ReconciliationConfig;
  metrics: MetricsConfig;
  console: ConsoleConfig;
}

/** The operator's console at /admin/ (docs/console.md): its cookie session. */
export interface ConsoleConfig {
  /** A console session ends this long after sign-in, whatever is done meanwhile. */
  sessionTtlSeconds: number;
}

/** The console's session cookie; the CSRF check applies to requests that could carry it (docs/console.md). */
export const CONSOLE_COOKIE = 'wxpay_console';
export const CONSOLE_PATH = '/admin';

/**
 * Requests egg-security's CSRF check covers: those under /admin without an Authorization header
 * that carry the console's cookie, or sign in (a forged sign-in is refused too), or only read
 * (they get the token cookie). A bearer-token call cannot be forged by another site (a browser
 * never adds that header by itself), and a call with neither credential is refused by adminAuth
 * anyway, so the admin API's scripts, the user API and WeChat's notifications are left alone.
 */
export function isConsoleRequest(ctx: { path: string; method: string; get(name: string): string }): boolean {
  if (!(ctx.path === CONSOLE_PATH || ctx.path.startsWith(`${CONSOLE_PATH}/`)) || ctx.get('authorization')) return false;
  return SAFE_METHODS.includes(ctx.method) || ctx.path === `${CONSOLE_PATH}/session` || CONSOLE_COOKIE_SENT.test(ctx.get('cookie'));
}
const SAFE_METHODS = [ 'GET', 'HEAD', 'OPTIONS' ];
const CONSOLE_COOKIE_SENT = new RegExp(`(?:^|;\\s*)${CONSOLE_COOKIE}=`);

/** The daily comparison of our payments and refunds with WeChat's bill (app/schedule/reconcileDaily.ts). */
export interface ReconciliationConfig {
  /** false: the daily job never fires by itself on this host (the command still works). */
  jobEnabled: boolean;
  /** egg-schedule cron (seconds first), read in Beijing time: WeChat's bills are ready from about 10:00. */
  cron: string;
  /** The job also reconciles this many days before yesterday when they have no result yet or ended in ERROR. */
  catchUpDays: number;
}

// --- outbox (issue 17): events to the merchant's systems, docs/events.md ---
export interface OutboxConfig {
  relay: {
    /** false: this process never delivers (another instance does); events are still written. */
    enabled: boolean;
    /** How often the relay looks for due events written by other processes, or due for a retry. */
    pollMs: number;
    batchSize: number;
    /** How long a claimed event is the claiming relay's; past it (that relay died) another takes it. */
    leaseMs: number;
    /** Attempts before an event is parked DEAD; wait base * 2^(n-1) after the n-th failure, at most max. */
    maxAttempts: number;
    backoffBaseMs: number;
    backoffMaxMs: number;
  };
  /** url unset: no webhook. secret: the HMAC-SHA256 key of the signature header. */
  webhook: { url?: string; secret: string; timeoutMs: number };
  /** url unset (AMQP_URL): no RabbitMQ. */
  amqp: { url?: string; exchange: string; timeoutMs: number };
  /**
   * The purgeDeliveredEvents job (app/schedule): DELIVERED events older than deliveredDays are
   * deleted, except each order's latest, whose seq the next event of that order continues from.
   */
  retention: {
    deliveredDays: number;
    intervalMs: number;
    /** Events deleted per statement. */
    batchSize: number;
  };
}

export function outboxFromEnv(): OutboxConfig {
  return {
    relay: {
      enabled: ![ 'false', '0' ].includes(fromEnv('OUTBOX_RELAY_ENABLED', 'true') as string),
      pollMs: positive('OUTBOX_POLL_MS', 1000),
      batchSize: positive('OUTBOX_BATCH_SIZE', 50),
      leaseMs: positive('OUTBOX_LEASE_SECONDS', 60) * 1000,
      maxAttempts: positive('OUTBOX_MAX_ATTEMPTS', 20),
      backoffBaseMs: positive('OUTBOX_BACKOFF_BASE_SECONDS', 30) * 1000,
      backoffMaxMs: positive('OUTBOX_BACKOFF_MAX_SECONDS', 6 * 3600) * 1000,
    },
    webhook: {
      url: fromEnv('OUTBOX_WEBHOOK_URL'),
      secret: fromEnv('OUTBOX_WEBHOOK_SECRET', DEV_WEBHOOK_SECRET) as string,
      timeoutMs: positive('OUTBOX_WEBHOOK_TIMEOUT_MS', 5000),
    },
    amqp: {
      url: fromEnv('AMQP_URL'),
      exchange: fromEnv('AMQP_EXCHANGE', 'wxpay.events') as string,
      timeoutMs: positive('AMQP_TIMEOUT_MS', 5000),
    },
    retention: {
      deliveredDays: positive('OUTBOX_RETENTION_DAYS', 30),
      intervalMs: positive('OUTBOX_PURGE_INTERVAL_MS', 3600_000),
      batchSize: positive('OUTBOX_PURGE_BATCH_SIZE', 500),
    },
  };
}
// --- end outbox ---

function positive(name: string, fallback: number): number {
  const value = intFromEnv(name, fallback);
  if (value < 1) throw new Error(`${name} must be a positive integer, got ${value}`);
  return value;
}

/**
 * The official account, when configured: both WECHAT_OA_APPID and WECHAT_OA_APP_SECRET, or neither
 * (then development gets the simulator's second app, production none). Half of it is refused at
 * once rather than failing at the first payer's login.
 */
export function officialAccountFromEnv(env: string): WechatAppConfig | undefined {
  const appId = fromEnv('WECHAT_OA_APPID');
  const appSecret = fromEnv('WECHAT_OA_APP_SECRET');
  if (appId && appSecret) return { appId, appSecret };
  if (appId || appSecret) throw new Error('WECHAT_OA_APPID and WECHAT_OA_APP_SECRET must be set together');
  return env === 'prod' ? undefined : { appId: DEV_WECHAT.oaAppId, appSecret: DEV_WECHAT.oaAppSecret };
}

/**
 * The Open Platform mobile app (APP channel), when configured: WECHAT_MOBILE_APPID and
 * WECHAT_MOBILE_APP_SECRET together or neither, as for the official account.
 */
export function mobileAppFromEnv(env: string): WechatAppConfig | undefined {
  const appId = fromEnv('WECHAT_MOBILE_APPID');
  const appSecret = fromEnv('WECHAT_MOBILE_APP_SECRET');
  if (appId && appSecret) return { appId, appSecret };
  if (appId || appSecret) throw new Error('WECHAT_MOBILE_APPID and WECHAT_MOBILE_APP_SECRET must be set together');
  return env === 'prod' ? undefined : { appId: DEV_WECHAT.mobileAppId, appSecret: DEV_WECHAT.mobileAppSecret };
}

/** The merchant's configured apps, by role, skipping roles not configured. */
export function configuredApps(wechat: Pick<WechatConfig, 'apps'>): Array<{ role: AppRole } & WechatAppConfig> {
  return APP_ROLES.flatMap(role => {
    const app = wechat.apps[role];
    return app ? [{ role, ...app }] : [];
  });
}

// The return type is declared (not inferred) so EggAppConfig does not depend on itself.
export default (appInfo: EggAppInfo): BizConfig => {
  const config = {} as PowerPartial<EggAppConfig>;
  const rateLimitWindow = positive('RATE_LIMIT_WINDOW_SECONDS', 60);

  config.keys = fromEnv('EGG_KEYS', DEV_WECHAT.keys) as string;
  // errorHandler is placed first in app.ts, ahead of the body parser, so its errors are JSON too.
  config.middleware = [];

  // Clients authenticate with bearer tokens, never cookies, so CSRF tokens protect nothing there,
  // and WeChat's servers could not send them anyway. The operator's console is the exception: its
  // cookie session is checked (token cookie + x-csrf-token header), and only it (isConsoleRequest).
  config.security = {
    csrf: {
      enable: true, type: 'ctoken', match: isConsoleRequest,
      cookieOptions: { sameSite: 'strict', path: CONSOLE_PATH },
    },
  } as any;

  // Behind a load balancer, trust the X-Forwarded-For it sets (keeping its last TRUST_PROXY_HOPS
  // entries), so ctx.ip is the client's: login rate limit, spbill_create_ip, notification audit.
  // Never enable it without a proxy in front: clients could then choose their own IP.
  config.proxy = fromEnv('TRUST_PROXY', 'false') === 'true';
  config.maxIpsCount = intFromEnv('TRUST_PROXY_HOPS', 1);

  // WeChat's notifications are XML read raw by their controller; keep the JSON parser off them.
  config.bodyParser = {
    jsonLimit: '64kb',
    formLimit: '64kb',
    ignore: [ '/payment/notify', '/payment/refund-notify', '/payment/native-scan' ],
  } as any;

  config.logger = {
    dir: fromEnv('EGG_LOG_DIR', `${appInfo.root}/logs/${appInfo.name}`) as string,
  } as any;

  // At every start Egg writes the whole config to run/*_config.json (mode 0644), masking the
  // values of matching keys only. This set replaces Egg's, so its defaults come first; ours add
  // the WeChat Pay API key, the admin token and the p12 password, and any later key of the kind.
  config.dump = {
    ignore: new Set<string | RegExp>([
      'pass', 'pwd', 'passd', 'passwd', 'password', 'keys', 'masterKey', 'accessKey', /secret/i,
      /password/i, /passphrase/i, /token/i, /apiKey/i,
    ]),
  } as any;

  config.sequelize = {
    dialect: 'mysql',
    host: fromEnv('MYSQL_HOST', '127.0.0.1'),
    port: intFromEnv('MYSQL_PORT', 3306),
    username: fromEnv('MYSQL_USER', 'root'),
    password: fromEnv('MYSQL_PASSWORD', ''),
    database: fromEnv('MYSQL_DATABASE', 'wxpay_dev'),
    timezone: '+00:00',
    logging: false,
    pool: { max: intFromEnv('MYSQL_POOL_MAX', 10), min: 0, acquire: 5000, idle: 10000 },
    // multipleStatements: hot paths send several statements in one round trip, every value a
    // replacement Sequelize escapes (docs/decisions/0017-multi-statement-round-trips.md).
    // typeCast: mysql2 converts columns itself (DATETIME to a Date in the connection's UTC, DATE
    // kept a string), as Sequelize's own per-field callback did, without a callback per field:
    // docs/decisions/0020-column-conversion-in-mysql2.md.
    dialectOptions: { connectTimeout: 3000, multipleStatements: true, typeCast: true, dateStrings: [ 'DATE' ] },
    define: { underscored: true, freezeTableName: false },
    hooks: {
      // Every transaction runs READ COMMITTED: locking reads take record locks only, no gap locks,
      // so only the rows named are held (docs/decisions/0002-lock-order.md). Strict mode (MariaDB's
      // default, made sure of): a NOT NULL column refuses NULL with an error, which settlement's
      // guarded updates rely on (decision 0019). Set once per connection.
      afterConnect: (connection: any) => new Promise<void>((resolve, reject) => {
        connection.query('SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED; ' +
          'SET SESSION sql_mode = CONCAT_WS(\',\', NULLIF(@@SESSION.sql_mode, \'\'), \'STRICT_TRANS_TABLES\')',
        (err: Error | null) => (err ? reject(err) : resolve()));
      }),
    },
  } as any;

  config.redis = {
    client: {
      host: fromEnv('REDIS_HOST', '127.0.0.1') as string,
      port: intFromEnv('REDIS_PORT', 6379),
      password: fromEnv('REDIS_PASSWORD', '') as string,
      db: intFromEnv('REDIS_DB', 0),
      // Fail fast instead of queueing commands while Redis is away: login answers 503 at once.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      connectTimeout: 2000,
      retryStrategy: (times: number) => Math.min(times * 200, 2000),
    },
    // Start even when Redis is down: payments do not depend on it.
    agent: false,
  } as any;

  const miniProgram = {
    appId: fromEnv('WECHAT_APPID', DEV_WECHAT.appId) as string,
    appSecret: fromEnv('WECHAT_APP_SECRET', DEV_WECHAT.appSecret) as string,
  };
  const bizConfig: BizConfig = {
    wechat: {
      ...miniProgram,
      apps: { miniProgram, officialAccount: officialAccountFromEnv(appInfo.env), app: mobileAppFromEnv(appInfo.env) },
      // Channels (issue 16): the web shop's H5 site and return page.
      web: {
        wapUrl: fromEnv('WECHAT_H5_WAP_URL', 'http://127.0.0.1:7001') as string,
        wapName: fromEnv('WECHAT_H5_WAP_NAME', 'Demo shop') as string,
        h5ReturnUrl: fromEnv('WECHAT_H5_RETURN_URL', 'http://127.0.0.1:7001/demo/h5-return') as string,
      },
      mchId: fromEnv('WECHAT_MCH_ID', DEV_WECHAT.mchId) as string,
      apiKey: fromEnv('WECHAT_API_KEY', DEV_WECHAT.apiKey) as string,
      // MD5 by default, as WeChat's v2 APIs default; HMAC-SHA256 is one setting away and recommended
      // (docs/operations.md). Each order keeps the sign type it was created with for every later call.
      signType: (fromEnv('WECHAT_SIGN_TYPE', 'MD5') as SignType),
      payBaseUrl: fromEnv('WECHAT_PAY_BASE_URL', 'http://127.0.0.1:9999') as string,
      loginBaseUrl: fromEnv('WECHAT_LOGIN_BASE_URL', 'http://127.0.0.1:9999') as string,
      oauthAuthorizeBaseUrl: fromEnv('WECHAT_OAUTH_AUTHORIZE_BASE_URL', 'http://127.0.0.1:9999') as string,
      notifyUrl: fromEnv('WECHAT_NOTIFY_URL', 'http://127.0.0.1:7001/payment/notify') as string,
      refundNotifyUrl: fromEnv('WECHAT_REFUND_NOTIFY_URL', 'http://127.0.0.1:7001/payment/refund-notify') as string,
      timeoutMs: intFromEnv('WECHAT_TIMEOUT_MS', 5000),
      secapiBaseUrl: fromEnv('WECHAT_SECAPI_BASE_URL'),
      clientCert: {
        p12Path: fromEnv('WECHAT_CERT_P12_PATH'),
        p12Password: fromEnv('WECHAT_CERT_P12_PASSWORD'),
        certPath: fromEnv('WECHAT_CERT_PEM_PATH'),
        keyPath: fromEnv('WECHAT_KEY_PEM_PATH'),
        caPath: fromEnv('WECHAT_CA_PATH'),
      },
      sandbox: fromEnv('WECHAT_SANDBOX', 'false') === 'true',
    },
    // POS (payment code): docs/pos.md.
    pos: {
      appId: fromEnv('POS_APPID', officialAccountFromEnv(appInfo.env)?.appId ?? miniProgram.appId) as string,
      cashierToken: fromEnv('CASHIER_TOKEN', '') as string,
      queryIntervalMs: positive('POS_QUERY_INTERVAL_MS', 5000),
      queryLimitMs: positive('POS_QUERY_LIMIT_MS', 30_000),
      reverseMaxCalls: positive('POS_REVERSE_MAX_CALLS', 5),
      reverseIntervalMs: positive('POS_REVERSE_INTERVAL_MS', 1000),
      orderTtlSeconds: positive('POS_ORDER_TTL_SECONDS', 120),
      defaultBody: fromEnv('POS_DEFAULT_BODY', 'In-store purchase') as string,
    },
    oauth: {
      callbackUrl: fromEnv('WECHAT_OAUTH_CALLBACK_URL', 'http://127.0.0.1:7001/oauth/wechat/callback') as string,
      redirectAllowList: (fromEnv('OAUTH_REDIRECT_ALLOW_LIST', 'http://127.0.0.1:7001/') as string).split(',').map(s => s.trim()).filter(Boolean),
      stateTtlSeconds: positive('OAUTH_STATE_TTL_SECONDS', 300),
    },
    payment: {
      orderTtlSeconds: intFromEnv('ORDER_TTL_SECONDS', 30 * 60),
      prepayReuseMarginSeconds: 5 * 60,
      queryAfterSeconds: intFromEnv('ORDER_QUERY_AFTER_SECONDS', 10),
      statusQueryIntervalSeconds: positive('ORDER_STATUS_QUERY_INTERVAL_SECONDS', 10),
      maxItems: 20,
      maxQuantity: 99,
      maxTotalFee: intFromEnv('ORDER_MAX_TOTAL_FEE', 10_000_000),
      maxNotifyBytes: 16 * 1024,
      jobs: {
        enabled: ![ 'false', '0' ].includes(fromEnv('ORDER_JOBS_ENABLED', 'true') as string),
        closeExpiredIntervalMs: positive('ORDER_CLOSE_EXPIRED_INTERVAL_SECONDS', 60) * 1000,
        queryOverdueIntervalMs: positive('ORDER_QUERY_OVERDUE_INTERVAL_SECONDS', 60) * 1000,
        queryOverdueAfterSeconds: positive('ORDER_QUERY_OVERDUE_AFTER_SECONDS', 60),
        queryOverdueRefundsIntervalMs: positive('REFUND_QUERY_INTERVAL_SECONDS', 300) * 1000,
        refundQueryAfterSeconds: positive('REFUND_QUERY_AFTER_SECONDS', 300),
        batchSize: positive('ORDER_JOB_BATCH_SIZE', 100),
        lockTtlMs: positive('ORDER_JOB_LOCK_TTL_SECONDS', 120) * 1000,
      },
    },
    session: {
      ttlSeconds: intFromEnv('SESSION_TTL_SECONDS', 7 * 24 * 3600),
      commandTimeoutMs: 1500,
    },
    adminToken: fromEnv('ADMIN_TOKEN', DEV_WECHAT.adminToken) as string,
    outbox: outboxFromEnv(), // issue 17: the event outbox
    shutdown: {
      drainTimeoutMs: intFromEnv('SHUTDOWN_DRAIN_TIMEOUT_MS', 4000),
    },
    rateLimit: {
      loginPerIp: { limit: intFromEnv('RATE_LIMIT_LOGIN_PER_IP', 60), windowSeconds: rateLimitWindow },
      loginPerUser: { limit: intFromEnv('RATE_LIMIT_LOGIN_PER_USER', 10), windowSeconds: rateLimitWindow },
      orderPerUser: { limit: intFromEnv('RATE_LIMIT_ORDER_PER_USER', 30), windowSeconds: rateLimitWindow },
      statusPerUser: { limit: intFromEnv('RATE_LIMIT_STATUS_PER_USER', 120), windowSeconds: rateLimitWindow },
      adminSignInPerIp: { limit: intFromEnv('RATE_LIMIT_ADMIN_SIGN_IN_PER_IP', 10), windowSeconds: rateLimitWindow },
    },
    reconciliation: {
      jobEnabled: ![ 'false', '0' ].includes(fromEnv('RECONCILE_JOB_ENABLED', 'true') as string),
      cron: fromEnv('RECONCILE_CRON', '0 30 10 * * *') as string,
      catchUpDays: intFromEnv('RECONCILE_CATCH_UP_DAYS', 3),
    },
    // --- metrics (issue 18) ---
    metrics: {
      token: fromEnv('METRICS_TOKEN', [ 'local', 'unittest' ].includes(appInfo.env) ? fromEnv('ADMIN_TOKEN', DEV_WECHAT.adminToken) : '') as string,
      port: fromEnv('METRICS_PORT') === undefined ? undefined : positive('METRICS_PORT', 9464),
      collectTimeoutMs: positive('METRICS_COLLECT_TIMEOUT_MS', 2000),
    },
    // --- end metrics ---
    console: {
      sessionTtlSeconds: positive('CONSOLE_SESSION_TTL_SECONDS', 8 * 3600),
    },
  };

  // POS charges are made under one of the merchant's configured apps, or WeChat's reports about them would be refused.
  if (!configuredApps(bizConfig.wechat).some(a => a.appId === bizConfig.pos.appId)) {
    throw new Error(`POS_APPID ${bizConfig.pos.appId} is not one of the configured apps (WECHAT_APPID, WECHAT_OA_APPID)`);
  }
  return { ...config, ...bizConfig } as BizConfig;
};
