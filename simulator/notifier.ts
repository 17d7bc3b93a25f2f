import { EventEmitter } from 'node:events';
import * as http from 'node:http';
import * as https from 'node:https';
import { buildXml, encryptRefundInfo, httpRequest, nonceStr, parseXml, sign } from '../lib/wechatpay';
import { Credentials } from './credentials';
import { FaultRegistry } from './faults';
import { Timers } from './timers';
import {
  couponFields, DeliveryAttempt, DeliveryEnd, paymentAmounts, SendNotificationOptions, SimOrder, SimRefund, WaitForDeliveryOptions,
} from './types';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

/** WeChat's resend delays after a failed payment notification (about 24 hours in all). */
export const NOTIFY_RETRY_DELAYS_MS: readonly number[] = [
  15 * SECOND, 15 * SECOND, 30 * SECOND, 3 * MINUTE, 10 * MINUTE, 20 * MINUTE, 30 * MINUTE, 30 * MINUTE, 30 * MINUTE,
  60 * MINUTE, 3 * HOUR, 3 * HOUR, 3 * HOUR, 6 * HOUR, 6 * HOUR,
];

const MAX_REPLY_BYTES = 64 * 1024;

/** Where a refund to a balance payment goes, and which merchant funds pay it. */
const REFUND_RECEIVER = '支付用户零钱';
const REFUND_ACCOUNT = 'REFUND_SOURCE_UNSETTLED_FUNDS';

type Outcome = Pick<DeliveryAttempt, 'status' | 'reply' | 'error' | 'acknowledged'>;

export interface NotifierOptions {
  credentials: Credentials;
  faults: FaultRegistry;
  now: () => Date;
  retryScale: number;
  timeoutMs: number;
}

type AttemptMeta = Pick<DeliveryAttempt, 'attempt' | 'source' | 'copy' | 'delayMs'>;

/** One notification to deliver: what it is about, where it goes, the XML sent every time. */
interface Delivery {
  kind: DeliveryAttempt['kind'];
  outTradeNo: string;
  outRefundNo?: string;
  url: string;
  body: string;
}

/**
 * Payment result notifications: builds and signs them, delivers them on WeChat's retry schedule
 * until the merchant acknowledges, records every attempt and emits 'delivery' for each.
 */
export class Notifier extends EventEmitter {
  private attempts: DeliveryAttempt[] = [];
  private readonly timers = new Timers();
  /** Bumped by cancel(): deliveries started before it stop and their late results are dropped. */
  private generation = 0;
  private agents = newAgents();

  constructor(private readonly options: NotifierOptions) {
    super();
    this.setMaxListeners(100);
  }

  /** The signed fields of the order's notification (a fresh nonce_str each time). */
  fields(order: SimOrder): Record<string, string> {
    if (!order.timeEnd) throw new Error(`order ${order.outTradeNo} has not been paid`);
    const failed = order.payError;
    const all: Record<string, string | number | undefined> = {
      return_code: 'SUCCESS',
      appid: order.appId,
      mch_id: order.mchId,
      device_info: order.params.device_info,
      nonce_str: nonceStr(),
      result_code: failed ? 'FAIL' : 'SUCCESS',
      err_code: failed?.errCode,
      err_code_des: failed?.errCodeDes,
      openid: order.openid,
      is_subscribe: 'N',
      trade_type: order.tradeType,
      bank_type: order.bankType,
      total_fee: order.totalFee,
      fee_type: 'CNY',
      cash_fee: failed ? order.totalFee : paymentAmounts(order).cashFee,
      ...(failed ? {} : couponFields(order)),
      transaction_id: order.transactionId,
      out_trade_no: order.outTradeNo,
      attach: order.attach,
      time_end: order.timeEnd,
    };
    const fields = nonEmptyFields(all);
    // Signed with the order's sign type but, like WeChat's, without a sign_type field.
    fields.sign = sign(fields, this.apiKey(order), order.signType);
    return fields;
  }

  /**
   * A refund result notification: no sign; the details travel in req_info, AES-256-ECB encrypted
   * with the MD5 of the merchant key, which is what proves they come from WeChat.
   */
  refundFields(order: SimOrder, refund: SimRefund): Record<string, string> {
    const details = nonEmptyFields({
      transaction_id: order.transactionId,
      out_trade_no: order.outTradeNo,
      refund_id: refund.refundId,
      out_refund_no: refund.outRefundNo,
      total_fee: refund.totalFee,
      refund_fee: refund.refundFee,
      settlement_refund_fee: refund.settlementRefundFee,
      refund_status: refund.status,
      success_time: refund.successTime,
      refund_recv_accout: REFUND_RECEIVER,
      refund_account: REFUND_ACCOUNT,
      refund_request_source: 'API',
    });
    return {
      return_code: 'SUCCESS',
      appid: order.appId,
      mch_id: order.mchId,
      nonce_str: nonceStr(),
      req_info: encryptRefundInfo(buildXml(details, 'root'), this.apiKey(order)),
    };
  }

  /** Starts WeChat's delivery of a just-paid order's notification, with retries; does not wait. */
  start(order: SimOrder): void {
    const body = buildXml(this.fields(order));
    void this.deliver({ kind: 'payment', outTradeNo: order.outTradeNo, url: order.notifyUrl, body }, this.generation);
  }

  /** Starts the delivery of a finished refund's notification, when the refund named a notify URL. */
  startRefund(order: SimOrder, refund: SimRefund): void {
    if (!refund.notifyUrl) return;
    const body = buildXml(this.refundFields(order, refund));
    void this.deliver({
      kind: 'refund', outTradeNo: order.outTradeNo, outRefundNo: refund.outRefundNo, url: refund.notifyUrl, body,
    }, this.generation);
  }

  /** Sends the notification again on demand: no retries, no faults. */
  async sendManual(order: SimOrder, options: SendNotificationOptions = {}): Promise<DeliveryAttempt[]> {
    const copies = options.copies ?? 1;
    if (!Number.isInteger(copies) || copies < 1) throw new Error('copies must be a positive integer');
    let fields = this.fields(order);
    if (options.mutate) {
      fields = nonEmptyFields(options.mutate({ ...fields }));
      if (options.resign ?? true) fields.sign = sign(fields, this.apiKey(order), order.signType);
    }
    const delivery: Delivery = { kind: 'payment', outTradeNo: order.outTradeNo, url: order.notifyUrl, body: buildXml(fields) };
    const generation = this.generation;
    const send = (copy: number) => this.post(delivery, { attempt: copy, source: 'manual', copy, delayMs: 0 }, generation);
    const results: Array<DeliveryAttempt | undefined> = [];
    if (options.concurrent) {
      results.push(...await Promise.all(Array.from({ length: copies }, (_, i) => send(i + 1))));
    } else {
      for (let copy = 1; copy <= copies; copy++) results.push(await send(copy));
    }
    return results.filter((a): a is DeliveryAttempt => a !== undefined);
  }

  list(outTradeNo?: string): DeliveryAttempt[] {
    return this.attempts.filter(a => outTradeNo === undefined || a.outTradeNo === outTradeNo);
  }

  /** Resolves with the matching attempts once there are `count` of them (already recorded ones count). */
  waitFor(outTradeNo: string, options: WaitForDeliveryOptions = {}): Promise<DeliveryAttempt[]> {
    const count = options.count ?? 1;
    const timeoutMs = options.timeoutMs ?? 10_000;
    const matching = () => this.attempts.filter(a => a.outTradeNo === outTradeNo &&
      (options.kind === undefined || a.kind === options.kind) &&
      (options.acknowledged === undefined || a.acknowledged === options.acknowledged));
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = matching();
        if (found.length < count) return;
        cleanup();
        resolve(found);
      };
      const onDelivery = (attempt: DeliveryAttempt) => {
        if (attempt.outTradeNo === outTradeNo) check();
      };
      const timer = setTimeout(() => {
        cleanup();
        const outcome = options.acknowledged === undefined ? '' : options.acknowledged ? ' acknowledged' : ' unacknowledged';
        const kind = options.kind ? ` ${options.kind}` : '';
        reject(new Error(`waited ${timeoutMs} ms for ${count}${outcome}${kind} deliveries of ${outTradeNo}, saw ${matching().length}`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.off('delivery', onDelivery);
      };
      this.on('delivery', onDelivery);
      check();
    });
  }

  /** Stops every delivery under way: pending retries, slow faults and requests in flight. */
  cancel(): void {
    this.generation++;
    this.timers.cancelAll();
    this.agents.http.destroy();
    this.agents.https.destroy();
    this.agents = newAgents();
  }

  reset(): void {
    this.cancel();
    this.attempts = [];
  }

  /** Runs WeChat's schedule; emits 'deliveryEnd' when acknowledged or given up (not when cancelled). */
  private async deliver(delivery: Delivery, generation: number): Promise<void> {
    const attempts = NOTIFY_RETRY_DELAYS_MS.length + 1;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      const delayMs = attempt === 1 ? 0 : NOTIFY_RETRY_DELAYS_MS[attempt - 2] * this.options.retryScale;
      if (delayMs > 0 && !(await this.timers.sleep(delayMs))) return;
      if (generation !== this.generation) return;
      const results = await this.scheduledAttempt(delivery, { attempt, source: 'schedule', copy: 1, delayMs }, generation);
      if (!results) return;
      const acknowledged = results.some(r => r.acknowledged);
      if (acknowledged || attempt === attempts) {
        const end: DeliveryEnd = {
          kind: delivery.kind,
          outTradeNo: delivery.outTradeNo,
          ...(delivery.outRefundNo ? { outRefundNo: delivery.outRefundNo } : {}),
          acknowledged,
          attempts: attempt,
        };
        this.emit('deliveryEnd', end);
        return;
      }
    }
  }

  /** One round of WeChat's schedule, with the notify fault (if any) applied. */
  private async scheduledAttempt(delivery: Delivery, meta: AttemptMeta, generation: number): Promise<DeliveryAttempt[] | undefined> {
    const fault = this.options.faults.take('notify');
    if (fault?.kind === 'slow' && !(await this.timers.sleep(fault.delayMs))) return undefined;
    if (fault?.kind === 'drop' && fault.beforeProcessing) {
      return [ this.record(delivery, meta, this.options.now(), { error: 'not sent: lost in transit (drop fault)', acknowledged: false }) ];
    }
    const copies = fault?.kind === 'duplicate' ? fault.copies : 1;
    const results = await Promise.all(Array.from({ length: copies }, (_, i) =>
      this.post(delivery, { ...meta, copy: i + 1 }, generation, fault?.kind === 'drop')));
    return results.every(r => r !== undefined) ? results as DeliveryAttempt[] : undefined;
  }

  private async post(delivery: Delivery, meta: AttemptMeta, generation: number, loseReply = false): Promise<DeliveryAttempt | undefined> {
    const at = this.options.now();
    const outcome: Outcome = { acknowledged: false };
    try {
      const res = await httpRequest({
        method: 'POST',
        url: delivery.url,
        body: delivery.body,
        headers: { 'Content-Type': 'text/xml' },
        timeoutMs: this.options.timeoutMs,
        maxBytes: MAX_REPLY_BYTES,
        agent: delivery.url.startsWith('https:') ? this.agents.https : this.agents.http,
      });
      outcome.status = res.status;
      outcome.reply = res.body.toString('utf8');
      if (loseReply) outcome.error = 'reply lost (drop fault)';
      else outcome.acknowledged = res.status === 200 && isSuccessReply(outcome.reply);
    } catch (err) {
      outcome.error = (err as Error).message;
    }
    if (generation !== this.generation) return undefined;
    return this.record(delivery, meta, at, outcome);
  }

  private record(delivery: Delivery, meta: AttemptMeta, at: Date, outcome: Outcome): DeliveryAttempt {
    const attempt: DeliveryAttempt = {
      kind: delivery.kind,
      outTradeNo: delivery.outTradeNo,
      ...(delivery.outRefundNo ? { outRefundNo: delivery.outRefundNo } : {}),
      ...meta,
      at,
      url: delivery.url,
      body: delivery.body,
      ...outcome,
    };
    Object.freeze(attempt);
    this.attempts.push(attempt);
    this.emit('delivery', attempt);
    return attempt;
  }

  private apiKey(order: SimOrder): string {
    const merchant = this.options.credentials.merchant(order.mchId);
    if (!merchant) throw new Error(`unknown merchant ${order.mchId}`);
    return merchant.apiKey;
  }
}

/** WeChat stops resending once the answer is XML with return_code SUCCESS. */
function isSuccessReply(text: string): boolean {
  try {
    return parseXml(text).return_code === 'SUCCESS';
  } catch {
    return false;
  }
}

/** String fields only; undefined and empty values are not sent (nor signed). */
function nonEmptyFields(values: Record<string, string | number | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [ name, value ] of Object.entries(values)) if (value !== undefined && value !== '') out[name] = String(value);
  return out;
}

function newAgents() {
  return { http: new http.Agent({ keepAlive: false }), https: new https.Agent({ keepAlive: false }) };
}
