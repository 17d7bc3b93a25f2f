import { EventEmitter } from 'node:events';
import { BillApi } from './bill';
import { Credentials } from './credentials';
import { FaultRegistry } from './faults';
import { LoginService } from './login';
import { MicropayApi, PaymentCodeOptions } from './micropay';
import { OAuthCodeOptions, OAuthService } from './oauth';
import { Notifier } from './notifier';
import { PayApi } from './pay';
import { Payer } from './payer';
import { RefundApi } from './refund';
import { SandboxCredentials } from './sandbox';
import { payerRoutes, RouteDeps, wechatRoutes } from './routes';
import { Route, SimServer } from './server';
import { OrderBook, RequestLog } from './state';
import { ScanStaticCodeOptions, StaticCodeScanner } from './staticCode';
import { createTlsMaterial, TlsMaterial } from './tls';
import {
  AddPaidOrdersOptions, ApiName, DeliveryAttempt, DeliveryEnd, Fault, LoginCodeOptions, PaymentRecord, PayOptions, RecordedRequest, RefundStatus,
  SendNotificationOptions, SimOrder, SimRefund, SimulatorOptions, WaitForDeliveryOptions,
} from './types';

export * from './types';
export { DEV_CREDENTIALS } from './credentials';
export { NOTIFY_RETRY_DELAYS_MS } from './notifier';
export { LOGIN_CODE_TTL_MS } from './login';
export { OAUTH_CODE_TTL_MS, OAuthCodeOptions } from './oauth';
export { PREPAY_TTL_MS, MWEB_URL_TTL_MS } from './pay';
export { PayerError } from './payer';
export { ScanStaticCodeOptions } from './staticCode';
export { MICROPAY_FAILURES, MicropayFailure, PAYMENT_CODE_TTL_MS, PaymentCodeOptions } from './micropay';
export { sandboxKeyFor, SANDBOX_PREFIX } from './sandbox';

// The typed overloads of EventEmitter's methods for the events the simulator emits.
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export interface WechatSimulator {
  on(event: 'delivery', listener: (attempt: DeliveryAttempt) => void): this;
  on(event: 'deliveryEnd', listener: (end: DeliveryEnd) => void): this;
  on(event: 'request', listener: (request: RecordedRequest) => void): this;
  once(event: 'delivery', listener: (attempt: DeliveryAttempt) => void): this;
  once(event: 'deliveryEnd', listener: (end: DeliveryEnd) => void): this;
  once(event: 'request', listener: (request: RecordedRequest) => void): this;
  off(event: 'delivery', listener: (attempt: DeliveryAttempt) => void): this;
  off(event: 'deliveryEnd', listener: (end: DeliveryEnd) => void): this;
  off(event: 'request', listener: (request: RecordedRequest) => void): this;
}

/**
 * WeChat's servers, as far as a mini-program payment backend sees them: code2Session, the Pay v2
 * order APIs, payment notifications, refunds (mutual TLS), refund notifications, refund query and
 * bills, over real HTTP(S), with a payer who can be told to pay and faults armed per API. Emits 'delivery' for every notification attempt and
 * 'deliveryEnd' when WeChat's own delivery of a notification stops (acknowledged or given up),
 * and 'request' for every request to one of WeChat's APIs.
 */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export class WechatSimulator extends EventEmitter {
  readonly retryScale: number;
  readonly notifyTimeoutMs: number;

  private readonly now: () => Date;
  private readonly credentials: Credentials;
  private readonly faults = new FaultRegistry();
  private readonly orders: OrderBook;
  private readonly requestLog = new RequestLog();
  private readonly login: LoginService;
  private readonly oauth: OAuthService;
  private readonly notifier: Notifier;
  private readonly payer: Payer;
  private readonly refundApi: RefundApi;
  private readonly micropay: MicropayApi;
  private readonly staticCodes: StaticCodeScanner;
  private readonly routes: Route[];
  private readonly server: SimServer;
  private baseUrl?: string;
  /** The HTTPS side (refunds need the merchant's client certificate), made on first startHttps(). */
  private tlsMaterial?: TlsMaterial;
  private httpsServer?: SimServer;
  private httpsBaseUrl?: string;

  constructor(options: SimulatorOptions = {}) {
    super();
    this.retryScale = options.retryScale ?? 1;
    this.notifyTimeoutMs = options.notifyTimeoutMs ?? 5000;
    if (!(this.retryScale >= 0)) throw new Error('retryScale must be >= 0');
    if (!(this.notifyTimeoutMs > 0)) throw new Error('notifyTimeoutMs must be > 0');
    this.now = options.now ?? (() => new Date());
    this.credentials = new Credentials(options.apps, options.merchants);
    this.orders = new OrderBook(this.now);
    this.login = new LoginService(this.credentials, this.now);
    this.oauth = new OAuthService(this.credentials, this.now);
    this.notifier = new Notifier({
      credentials: this.credentials,
      faults: this.faults,
      now: this.now,
      retryScale: this.retryScale,
      timeoutMs: this.notifyTimeoutMs,
    });
    this.notifier.on('delivery', (attempt: DeliveryAttempt) => this.emit('delivery', attempt));
    this.notifier.on('deliveryEnd', (end: DeliveryEnd) => this.emit('deliveryEnd', end));
    this.payer = new Payer(this.orders, this.notifier, this.now);
    this.refundApi = new RefundApi({
      credentials: this.credentials, orders: this.orders, notifier: this.notifier, now: this.now,
      autoComplete: options.autoCompleteRefunds ?? true,
    });
    this.micropay = new MicropayApi(this.credentials, this.orders, this.now);
    this.staticCodes = new StaticCodeScanner({ credentials: this.credentials, orders: this.orders, payer: this.payer, timeoutMs: this.notifyTimeoutMs });
    const sandboxCredentials = new SandboxCredentials(this.credentials);
    const deps: RouteDeps = {
      credentials: this.credentials,
      login: this.login,
      oauth: this.oauth,
      payApi: new PayApi(this.credentials, this.orders, this.now),
      refundApi: this.refundApi,
      billApi: new BillApi(this.credentials, this.orders, this.now),
      payer: this.payer,
      staticCodes: this.staticCodes,
      orders: this.orders,
      notifier: this.notifier,
      now: this.now,
      micropay: this.micropay,
      sandbox: {
        credentials: sandboxCredentials,
        payApi: new PayApi(sandboxCredentials, this.orders, this.now),
        billApi: new BillApi(sandboxCredentials, this.orders, this.now),
      },
    };
    this.routes = [ ...wechatRoutes(deps), ...payerRoutes(deps) ];
    this.server = new SimServer(this.routes, this.serverDeps());
  }

  /** http://host:port, once started. */
  get url(): string {
    if (!this.baseUrl) throw new Error('the simulator is not started');
    return this.baseUrl;
  }

  /** Listens (port 0: any free port); resolves with the base URL. */
  async start(port = 0, host = '127.0.0.1'): Promise<string> {
    const address = await this.server.listen(port, host);
    const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    this.baseUrl = `http://${shownHost}:${address.port}`;
    return this.baseUrl;
  }

  /**
   * Also serves every route over HTTPS, as api.mch.weixin.qq.com does; /secapi/pay/refund answers
   * only there, and only to a merchant presenting its client certificate (see merchantTls()).
   */
  async startHttps(port = 0, host = '127.0.0.1'): Promise<string> {
    const tls = this.tls();
    this.httpsServer ??= new SimServer(this.routes, this.serverDeps(), {
      key: tls.serverKey, cert: tls.serverCert, ca: [ tls.caCert ], requestCert: true, rejectUnauthorized: false,
    });
    const address = await this.httpsServer.listen(port, host);
    const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    this.httpsBaseUrl = `https://${shownHost}:${address.port}`;
    return this.httpsBaseUrl;
  }

  /** https://host:port, once startHttps() resolved. */
  get httpsUrl(): string {
    if (!this.httpsBaseUrl) throw new Error('the simulator\'s HTTPS side is not started');
    return this.httpsBaseUrl;
  }

  /** PEM material for a merchant's client (WechatPayClient's `tls`): its certificate and key, and the CA to trust. */
  merchantTls(mchId?: string): { ca: Buffer; cert: Buffer; key: Buffer } {
    const tls = this.tls();
    const client = tls.clients.get(mchId ?? [ ...tls.clients.keys() ][0]);
    if (!client) throw new Error(`unknown merchant ${mchId}`);
    return { ca: Buffer.from(tls.caCert), cert: Buffer.from(client.cert), key: Buffer.from(client.key) };
  }

  /** Closes the servers (and so any slow reply) and cancels pending retries, refunds and notifications in flight. */
  async stop(): Promise<void> {
    this.notifier.cancel();
    this.refundApi.cancel();
    await Promise.all([ this.server.close(), this.httpsServer?.close() ]);
    this.baseUrl = undefined;
    this.httpsBaseUrl = undefined;
  }

  /** Forgets orders, refunds, login codes, deliveries (stopping those under way), faults and recorded requests. */
  reset(): void {
    this.refundApi.cancel();
    this.notifier.reset();
    this.orders.reset();
    this.micropay.reset();
    this.login.reset();
    this.oauth.reset();
    this.faults.clear();
    this.requestLog.reset();
  }

  /** A new single-use code, valid 5 minutes, for the given (or a random) openid. */
  issueLoginCode(options: LoginCodeOptions = {}): string {
    return this.login.issueCode(options).code;
  }

  /** A payment code (18 digits) for a test payer, behaving as the options say when the cashier scans it. */
  issuePaymentCode(options: PaymentCodeOptions = {}): { authCode: string; openid: string } {
    const { authCode, openid } = this.micropay.issueCode(options);
    return { authCode, openid };
  }

  /** The payer of a payment-code order waiting in USERPAYING enters the password (SUCCESS) or gives up (FAIL). */
  confirmPassword(outTradeNo: string, result: 'SUCCESS' | 'FAIL' = 'SUCCESS'): SimOrder {
    return structuredClone(this.micropay.confirmPassword(outTradeNo, result));
  }

  /** A single-use official-account OAuth code (5 minutes), as the authorize page would give; the official account is the app to name. */
  issueOAuthCode(options: OAuthCodeOptions = {}): { code: string; openid: string } {
    const { code, openid } = this.oauth.issueCode(options);
    return { code, openid };
  }

  /** The openid a `test-<anything>` code logs in as (such codes need no issuing, but are single-use). */
  openidForTestCode(code: string): string {
    return this.login.openidForTestCode(code);
  }

  /** Acts as the payer; resolves once the order is paid (or failed), while notification goes on. */
  async pay(outTradeNo: string, options: PayOptions = {}): Promise<PaymentRecord> {
    return this.payer.pay(outTradeNo, options);
  }

  /** The payer scans a NATIVE order's code_url and pays (or fails); an unknown or expired code is a PayerError. */
  async scan(codeUrl: string, options: PayOptions = {}): Promise<PaymentRecord> {
    return this.payer.scan(codeUrl, options);
  }

  /**
   * NATIVE mode 1: the payer scans a merchant's static code; the merchant's scan callback
   * (`options.callbackUrl`, else the merchant's scanCallbackUrl) is asked for the order, whose
   * prepay_id the payer then pays (or fails). A code or reply WeChat would refuse is a PayerError.
   */
  async scanStaticCode(codeUrl: string, options: ScanStaticCodeOptions = {}): Promise<PaymentRecord> {
    return this.staticCodes.scan(codeUrl, options);
  }

  /**
   * Tests only: `count` orders already paid (at `paidAt`, default now; `totalFee` fen, default 1200)
   * for a merchant (default the first) and one of its apps, added without requests or
   * notifications, so a bill can be as large as a big merchant's day. Their out_trade_no, in order.
   */
  addPaidOrders(count: number, options: AddPaidOrdersOptions = {}): string[] {
    const mchId = options.mchId ?? this.credentials.mchIds()[0];
    const merchant = this.credentials.merchant(mchId);
    if (!merchant) throw new Error(`unknown merchant ${mchId}`);
    const appId = options.appId ?? merchant.appIds[0];
    if (!merchant.appIds.includes(appId)) throw new Error(`app ${appId} is not merchant ${mchId}'s`);
    return this.payer.addPaidOrders(count, { mchId, appId, paidAt: options.paidAt ?? this.now(), totalFee: options.totalFee ?? 1200 });
  }

  /** Every notification attempt, oldest first. */
  deliveries(outTradeNo?: string): DeliveryAttempt[] {
    return this.notifier.list(outTradeNo);
  }

  /** Resolves once `count` (default 1) matching attempts are recorded; rejects after timeoutMs (default 10000). */
  waitForDelivery(outTradeNo: string, options: WaitForDeliveryOptions = {}): Promise<DeliveryAttempt[]> {
    return this.notifier.waitFor(outTradeNo, options);
  }

  /** Delivers a paid (or failed) order's notification again, once per copy, without retries or faults. */
  async sendNotification(outTradeNo: string, options: SendNotificationOptions = {}): Promise<DeliveryAttempt[]> {
    return this.notifier.sendManual(this.paidOrder(outTradeNo), options);
  }

  /** The signed fields a notification of this order carries (fresh nonce_str each call). */
  buildNotification(outTradeNo: string): Record<string, string> {
    return this.notifier.fields(this.paidOrder(outTradeNo));
  }

  /** A snapshot of the order's state. */
  order(outTradeNo: string): SimOrder | undefined {
    const order = this.orders.find(outTradeNo);
    return order && structuredClone(order);
  }

  /**
   * Ends a PROCESSING refund (with autoCompleteRefunds: false) and starts its notification when
   * the refund has a notify URL. CHANGE and REFUNDCLOSE are WeChat's failed outcomes.
   */
  completeRefund(outRefundNo: string, status: Exclude<RefundStatus, 'PROCESSING'> = 'SUCCESS'): SimRefund {
    return structuredClone(this.refundApi.complete(outRefundNo, status));
  }

  setFault(api: ApiName, fault: Fault, times = Infinity): void {
    this.faults.set(api, fault, times);
  }

  clearFaults(): void {
    this.faults.clear();
  }

  requests(api?: ApiName): RecordedRequest[] {
    return this.requestLog.list(api);
  }

  private serverDeps() {
    return {
      faults: this.faults,
      now: this.now,
      record: (entry: RecordedRequest) => {
        this.requestLog.record(entry);
        this.emit('request', entry);
      },
    };
  }

  private tls(): TlsMaterial {
    // Real time, not the injected clock: TLS checks validity against the real one.
    this.tlsMaterial ??= createTlsMaterial(this.credentials.mchIds());
    return this.tlsMaterial;
  }

  private paidOrder(outTradeNo: string): SimOrder {
    const order = this.orders.find(outTradeNo);
    if (!order) throw new Error(`no order ${outTradeNo}`);
    if (!order.timeEnd) throw new Error(`order ${outTradeNo} has not been paid: nothing to notify`);
    return order;
  }
}
