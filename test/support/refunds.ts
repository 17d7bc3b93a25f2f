import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { app, mock } from 'egg-mock/bootstrap';
import { WechatSimulator } from '../../simulator';
import { testEnv } from './env';
import { createOrder, login, resetWorld } from './fixtures';

export const adminHeader = () => ({ Authorization: `Bearer ${app.config.adminToken}` });

/** POST /admin/orders/:outTradeNo/refunds with the admin token. */
export function requestRefund(outTradeNo: string, body: Record<string, unknown>, idempotencyKey?: string) {
  const req = app.httpRequest().post(`/admin/orders/${outTradeNo}/refunds`).set(adminHeader());
  if (idempotencyKey) req.set('Idempotency-Key', idempotencyKey);
  return req.send(body);
}

export function listRefunds(outTradeNo: string) {
  return app.httpRequest().get(`/admin/orders/${outTradeNo}/refunds`).set(adminHeader());
}

/** An order of `token`'s user, paid at `sim` and its payment notification applied. */
export async function paidOrder(token: string, sim: WechatSimulator = testEnv.sim, quantity = 1): Promise<{ outTradeNo: string; transactionId: string; totalFee: number }> {
  const created = await createOrder(token, [{ productId: 1, quantity }]).expect(200);
  const outTradeNo: string = created.body.outTradeNo;
  const payment = await sim.pay(outTradeNo);
  await sim.waitForDelivery(outTradeNo, { kind: 'payment', acknowledged: true });
  const order = await app.model.Order.findOne({ where: { outTradeNo } });
  if (order?.status !== 'SUCCESS') throw new Error(`order ${outTradeNo} is ${order?.status} after payment`);
  return { outTradeNo, transactionId: payment.transactionId!, totalFee: order.totalFee };
}

/**
 * A second simulator whose refunds stay PROCESSING until the test finishes them
 * (completeRefund), for the notification and query paths. Logins still go to testEnv.sim.
 */
export class ManualRefundSimulator {
  readonly sim = new WechatSimulator({ retryScale: 0.001, notifyTimeoutMs: 3000, autoCompleteRefunds: false });
  private certDir = '';

  async start(): Promise<void> {
    await this.sim.start(0);
    await this.sim.startHttps(0);
    this.certDir = mkdtempSync(path.join(tmpdir(), 'wxpay-refund-certs-'));
    const tls = this.sim.merchantTls();
    writeFileSync(path.join(this.certDir, 'ca.pem'), tls.ca);
    writeFileSync(path.join(this.certDir, 'cert.pem'), tls.cert);
    writeFileSync(path.join(this.certDir, 'key.pem'), tls.key, { mode: 0o600 });
  }

  /** Points the app's pay and refund calls at this simulator until mock.restore(). */
  use(): void {
    mock(app.config.wechat, 'payBaseUrl', this.sim.url);
    mock(app.config.wechat, 'secapiBaseUrl', this.sim.httpsUrl);
    mock(app.config.wechat, 'clientCert', {
      certPath: path.join(this.certDir, 'cert.pem'), keyPath: path.join(this.certDir, 'key.pem'), caPath: path.join(this.certDir, 'ca.pem'),
    });
  }

  async stop(): Promise<void> {
    await this.sim.stop();
    if (this.certDir) rmSync(this.certDir, { recursive: true, force: true });
  }
}

/**
 * For a describe block against a ManualRefundSimulator: starts it for the block, and before each
 * test empties the world and the simulator, points the app at it and logs a user in (`user.token`).
 */
export function useManualRefunds(): { manual: ManualRefundSimulator; user: { token: string } } {
  const manual = new ManualRefundSimulator();
  const user = { token: '' };
  before(() => manual.start());
  after(() => manual.stop());
  beforeEach(async () => {
    await resetWorld();
    manual.sim.reset();
    manual.use();
    user.token = (await login()).token;
  });
  return { manual, user };
}

export async function storedRefund(outRefundNo: string) {
  const refund = await app.model.Refund.findOne({ where: { outRefundNo } });
  if (!refund) throw new Error(`no refund ${outRefundNo}`);
  return refund;
}

export async function storedOrder(outTradeNo: string) {
  const order = await app.model.Order.findOne({ where: { outTradeNo } });
  if (!order) throw new Error(`no order ${outTradeNo}`);
  return order;
}

export async function orderEvents(outTradeNo: string): Promise<Array<[string, string]>> {
  const order = await storedOrder(outTradeNo);
  const events = await app.model.OrderEvent.findAll({ where: { orderId: order.id }, order: [[ 'id', 'ASC' ]] });
  return events.map(e => [ e.type, e.source ]);
}
