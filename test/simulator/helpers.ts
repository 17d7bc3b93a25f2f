import { EventEmitter } from 'node:events';
import * as http from 'node:http';
import { AddressInfo } from 'node:net';
import {
  buildXml, httpRequest, merchantNumber, nonceStr, parseXml, sign, SignType, WechatLoginClient, WechatPayClient,
} from '../../lib/wechatpay';
import { DEV_CREDENTIALS, DeliveryEnd, WechatSimulator } from '../../simulator';

export const DEV = DEV_CREDENTIALS;
export const OPENID = 'oTestUser000000000000000001';

/** A clock the test moves by hand. */
export class TestClock {
  private t = Date.UTC(2026, 0, 15, 2, 0, 0);
  readonly now = () => new Date(this.t);
  advance(ms: number): void {
    this.t += ms;
  }
}

export function payClient(sim: WechatSimulator, overrides: Partial<WechatPayClient['config']> = {}): WechatPayClient {
  return new WechatPayClient({
    appId: DEV.appId, mchId: DEV.mchId, apiKey: DEV.apiKey, signType: 'HMAC-SHA256', baseUrl: sim.url, timeoutMs: 2000,
    ...overrides,
  });
}

export function loginClient(sim: WechatSimulator, overrides: Partial<WechatLoginClient['config']> = {}): WechatLoginClient {
  return new WechatLoginClient({ appId: DEV.appId, appSecret: DEV.appSecret, baseUrl: sim.url, timeoutMs: 2000, ...overrides });
}

export function newOutTradeNo(): string {
  return merchantNumber('T');
}

/** A unified order's business fields, as WechatPayClient.unifiedOrder takes them. */
export function orderRequest(notifyUrl: string, overrides: Record<string, unknown> = {}) {
  return {
    body: 'Coffee x1',
    out_trade_no: newOutTradeNo(),
    total_fee: 1200,
    spbill_create_ip: '127.0.0.1',
    notify_url: notifyUrl,
    openid: OPENID,
    ...overrides,
  } as { body: string; out_trade_no: string; total_fee: number; spbill_create_ip: string; notify_url: string; openid: string;
    time_start?: string; time_expire?: string; attach?: string };
}

/** Full unified order parameters for hand-made (raw) requests. */
export function rawOrderParams(overrides: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return {
    appid: DEV.appId,
    mch_id: DEV.mchId,
    nonce_str: nonceStr(),
    body: 'Coffee x1',
    out_trade_no: newOutTradeNo(),
    total_fee: '1200',
    spbill_create_ip: '127.0.0.1',
    notify_url: 'http://127.0.0.1:9/notify',
    trade_type: 'JSAPI',
    openid: OPENID,
    ...overrides,
  };
}

/** Signs as a merchant would; `signType: undefined` leaves sign_type out (WeChat then assumes MD5). */
export function signedXml(
  params: Record<string, string | undefined>,
  options: { key?: string; signType?: SignType; signAs?: SignType } = { signType: 'MD5' },
): string {
  const out: Record<string, string> = {};
  for (const [ k, v ] of Object.entries(params)) if (v !== undefined) out[k] = v;
  if (options.signType) out.sign_type = options.signType;
  out.sign = sign(out, options.key ?? DEV.apiKey, options.signAs ?? options.signType ?? 'MD5');
  return buildXml(out);
}

/** Posts a body as-is and parses the XML reply. */
export async function rawCall(sim: WechatSimulator, path: string, body?: string, method: 'GET' | 'POST' = 'POST') {
  const res = await httpRequest({ method, url: sim.url + path, body, timeoutMs: 2000 });
  const text = res.body.toString('utf8');
  return { status: res.status, headers: res.headers, text, fields: parseXml(text) };
}

export async function rawGetJson(sim: WechatSimulator, pathAndQuery: string) {
  const res = await httpRequest({ method: 'GET', url: sim.url + pathAndQuery, timeoutMs: 2000 });
  return { status: res.status, headers: res.headers, json: JSON.parse(res.body.toString('utf8')) };
}

export async function jsonCall(sim: WechatSimulator, method: 'GET' | 'POST', path: string, body?: unknown) {
  const res = await httpRequest({
    method, url: sim.url + path, timeoutMs: 2000,
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    headers: { 'Content-Type': 'application/json' },
  });
  const text = res.body.toString('utf8');
  let json: any;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, headers: res.headers, text, json };
}

/** The reply a merchant's notify handler gives; 'hang' never answers. */
export type MerchantReply = { status?: number; body: string } | 'hang';

export const ACK = '<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>';
export const NACK = '<xml><return_code><![CDATA[FAIL]]></return_code><return_msg><![CDATA[busy]]></return_msg></xml>';

/** A tiny merchant notify endpoint: records what arrives, answers from a script, then with ACK. */
export class MerchantServer extends EventEmitter {
  readonly received: Array<{ body: string; headers: http.IncomingHttpHeaders; method: string; path: string }> = [];
  private script: MerchantReply[] = [];
  private held: Array<() => void> | undefined;
  private readonly server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', c => chunks.push(c));
    req.on('end', () => {
      this.received.push({ body: Buffer.concat(chunks).toString('utf8'), headers: req.headers, method: req.method ?? '', path: req.url ?? '' });
      const answer = () => {
        const reply = this.script.shift() ?? { body: ACK };
        if (reply === 'hang') return;
        res.writeHead(reply.status ?? 200, { 'Content-Type': 'text/xml' });
        res.end(reply.body);
      };
      if (this.held) this.held.push(answer); else answer();
      this.emit('request', req);
    });
  });
  url = '';

  static async start(): Promise<MerchantServer> {
    const m = new MerchantServer();
    await new Promise<void>(resolve => m.server.listen(0, '127.0.0.1', resolve));
    m.url = `http://127.0.0.1:${(m.server.address() as AddressInfo).port}/payment/notify`;
    return m;
  }

  /** The next replies, in order; after them every notification gets ACK. */
  replyWith(...replies: MerchantReply[]): void {
    this.script.push(...replies);
  }

  /** Forgets what arrived and any scripted replies left. */
  clear(): void {
    this.received.length = 0;
    this.script = [];
    this.held = undefined;
  }

  /** Holds answers until release(): shows requests that are in flight together. */
  hold(): void {
    this.held = [];
  }

  release(): void {
    const held = this.held ?? [];
    this.held = undefined;
    for (const answer of held) answer();
  }

  /** Resolves once `count` requests have arrived in all. */
  waitForRequests(count: number): Promise<void> {
    return new Promise(resolve => {
      const check = () => {
        if (this.received.length < count) return;
        this.off('request', check);
        resolve();
      };
      this.on('request', check);
      check();
    });
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>(resolve => this.server.close(() => resolve()));
  }
}

/** The next 'deliveryEnd' of this order's payment (or refund) notification. */
export function deliveryEnd(sim: WechatSimulator, outTradeNo: string, kind: DeliveryEnd['kind'] = 'payment'): Promise<DeliveryEnd> {
  return new Promise(resolve => {
    const listener = (end: DeliveryEnd) => {
      if (end.outTradeNo !== outTradeNo || end.kind !== kind) return;
      sim.off('deliveryEnd', listener);
      resolve(end);
    };
    sim.on('deliveryEnd', listener);
  });
}

/**
 * For a describe block: starts `sim` (and its HTTPS side with `https`) and a MerchantServer, stops
 * both after the block, and empties both before each test. `world.merchant` is set once started.
 */
export function useSimulatorWithMerchant(sim: WechatSimulator, options: { https?: boolean } = {}): { merchant: MerchantServer } {
  const world = {} as { merchant: MerchantServer };
  before(async () => {
    await sim.start();
    if (options.https) await sim.startHttps();
    world.merchant = await MerchantServer.start();
  });
  after(async () => {
    await sim.stop();
    await world.merchant?.stop();
  });
  beforeEach(() => {
    sim.reset();
    world.merchant.clear();
  });
  return world;
}
