import { EventEmitter } from 'node:events';
import { Credentials } from './credentials';
import { FaultRegistry } from './faults';
import { LoginService } from './login';
import { Notifier } from './notifier';
import { PayApi } from './pay';
import { Payer } from './payer';
import { payerRoutes, RouteDeps, wechatRoutes } from './routes';
import { SimServer } from './server';
import { OrderBook, RequestLog } from './state';
import {
  ApiName, DeliveryAttempt, DeliveryEnd, Fault, LoginCodeOptions, PaymentRecord, PayOptions, RecordedRequest,
  SendNotificationOptions, SimOrder, SimulatorOptions, WaitForDeliveryOptions,
} from './types';

export * from './types';
export { DEV_CREDENTIALS } from './credentials';
export { NOTIFY_RETRY_DELAYS_MS } from './notifier';
export { LOGIN_CODE_TTL_MS } from './login';
export { PREPAY_TTL_MS } from './pay';
export { PayerError } from './payer';

export interface WechatSimulator {
  on(event: 'delivery', listener: (attempt: DeliveryAttempt) => void): this;
  on(event: 'deliveryEnd', listener: (end: DeliveryEnd) => void): this;
  once(event: 'delivery', listener: (attempt: DeliveryAttempt) => void): this;
  once(event: 'deliveryEnd', listener: (end: DeliveryEnd) => void): this;
  off(event: 'delivery', listener: (attempt: DeliveryAttempt) => void): this;
  off(event: 'deliveryEnd', listener: (end: DeliveryEnd) => void): this;
  on(event: 'request', listener: (request: RecordedRequest) => void): this;
  once(event: 'request', listener: (request: RecordedRequest) => void): this;
  off(event: 'request', listener: (request: RecordedRequest) => void): this;
}

/**
 * WeChat's servers, as far as a mini-program payment backend sees them: code2Session, the
 * Pay v2 order APIs and payment notifications, over real HTTP, with a payer who can be told to
 * pay and faults that can be armed per API. Emits 'delivery' for every notification attempt and
 * 'deliveryEnd' when WeChat's own delivery of a notification stops (acknowledged or given up),
 * and 'request' for every request to one of WeChat's APIs.
 */
export class WechatSimulator extends EventEmitter {
  readonly retryScale: number;
  readonly notifyTimeoutMs: number;

  private readonly now: () => Date;
  private readonly credentials: Credentials;
  private readonly faults = new FaultRegistry();
  private readonly orders: OrderBook;
  private readonly requestLog = new RequestLog();
  private readonly login: LoginService;
  private readonly notifier: Notifier;
  private readonly payer: Payer;
  private readonly server: SimServer;
  private baseUrl?: string;

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
    const deps: RouteDeps = {
      credentials: this.credentials,
      login: this.login,
      payApi: new PayApi(this.credentials, this.orders, this.now),
      payer: this.payer,
      orders: this.orders,
      notifier: this.notifier,
      now: this.now,
    };
    this.server = new SimServer([ ...wechatRoutes(deps), ...payerRoutes(deps) ], {
      faults: this.faults,
      now: this.now,
      record: entry => {
        this.requestLog.record(entry);
        this.emit('request', entry);
      },
    });
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

  /** Closes the server (and so any slow reply) and cancels pending retries and notifications in flight. */
  async stop(): Promise<void> {
    this.notifier.cancel();
    await this.server.close();
    this.baseUrl = undefined;
  }

  /** Forgets orders, login codes, deliveries (stopping those under way), faults and recorded requests. */
  reset(): void {
    this.notifier.reset();
    this.orders.reset();
    this.login.reset();
    this.faults.clear();
    this.requestLog.reset();
  }

  /** A new single-use code, valid 5 minutes, for the given (or a random) openid. */
  issueLoginCode(options: LoginCodeOptions = {}): string {
    return this.login.issueCode(options).code;
  }

  /** The openid a `test-<anything>` code logs in as (such codes need no issuing, but are single-use). */
  openidForTestCode(code: string): string {
    return this.login.openidForTestCode(code);
  }

  /** Acts as the payer; resolves once the order is paid (or failed), while notification goes on. */
  async pay(outTradeNo: string, options: PayOptions = {}): Promise<PaymentRecord> {
    return this.payer.pay(outTradeNo, options);
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

  setFault(api: ApiName, fault: Fault, times = Infinity): void {
    this.faults.set(api, fault, times);
  }

  clearFaults(): void {
    this.faults.clear();
  }

  requests(api?: ApiName): RecordedRequest[] {
    return this.requestLog.list(api);
  }

  private paidOrder(outTradeNo: string): SimOrder {
    const order = this.orders.find(outTradeNo);
    if (!order) throw new Error(`no order ${outTradeNo}`);
    if (!order.timeEnd) throw new Error(`order ${outTradeNo} has not been paid: nothing to notify`);
    return order;
  }
}
