import { Application, Service } from 'egg';
import { PoolConnection } from 'mysql2/promise';
import { fromBeijing, isSignType, verifySign } from '../../lib/wechatpay';
import { MicroBatcher } from '../lib/microBatcher';
import { auditKeys } from '../model/paymentNotification';
import { emptyWrites, LockedAttempt, LockedRows, SettlementStore, SettlementWrites } from '../lib/settlementStore';

/** What WeChat told us about a successful payment, from a notification or an order query. */
export interface PaidFacts {
  outTradeNo: string;
  transactionId: string;
  totalFee: number;
  timeEnd?: string;
  bankType?: string;
  openid?: string;
}

export type SettlementOutcome =
  | { result: 'APPLIED'; orderId: number }
  | { result: 'DUPLICATE'; orderId: number }
  /** Money arrived for an order that was already paid through another attempt, or closed: recorded, flagged for refund. */
  | { result: 'REFUND_REQUIRED'; orderId: number }
  | { result: 'REJECTED'; reason: string; orderId?: number };

/** A notification's outcome: a settlement outcome, or WeChat reporting a payment that failed (recorded on the attempt). */
export type NotificationSettlementOutcome = SettlementOutcome | { result: 'PAYMENT_FAILED'; errCode: string };

export type PaymentSource = 'notify' | 'query';

/** A payment notification that passed the checks needing no database (XML, return_code, appid, mch_id). */
export interface ReceivedNotification {
  outTradeNo: string;
  fields: Record<string, string>;
  rawBody: string;
  remoteIp: string;
}

/** Where a payment's log lines go: the logger of the request or job that brought it. */
export interface CallbackLogger {
  info(message: string, ...args: unknown[]): void;
  warn(message: string, ...args: unknown[]): void;
  error(message: string, ...args: unknown[]): void;
}

type SettlementItem =
  | { kind: 'notify'; outTradeNo: string; notification: ReceivedNotification; logger: CallbackLogger }
  | { kind: 'query'; outTradeNo: string; facts: PaidFacts; logger: CallbackLogger };

const TRANSACTION_ID = /^[0-9A-Za-z]{1,32}$/;

export const settlementStore = new SettlementStore();
const BATCHER = Symbol('settlementBatcher');

/**
 * The one path by which an order becomes paid, whether WeChat's notification or our order query
 * told us. Payments are settled in transactions with the attempt and order rows locked, so any
 * number of concurrent callers, in any number of processes, move an order to paid once and its
 * side effects (the PAID event) happen once; a notification's audit row is written in the same
 * transaction as the change it describes.
 *
 * Payments arriving together in one worker share a transaction (MicroBatcher): two round trips
 * (lock and read; write and commit) and one commit per batch instead of per payment. If a batch
 * fails, each of its payments is tried again alone, so one that cannot be settled never holds
 * back the others; unless the connection itself failed (MySQL away), when they all fail at once.
 */
export default class PaymentSettlementService extends Service {
  /** Applies a payment learned from WeChat's order query. */
  async applyPaid(facts: PaidFacts): Promise<SettlementOutcome> {
    return await batcher(this.app).submit({ kind: 'query', outTradeNo: facts.outTradeNo, facts, logger: this.ctx.logger }) as SettlementOutcome;
  }
}

/**
 * Verifies a notification against its order (signature with the order's sign type, amount,
 * owner, transaction_id), applies it and records it in the audit, in one transaction. Throws if
 * that transaction could not be committed: nothing was recorded. Needs no request context: WeChat's
 * callbacks come through the lane (app/lib/wechatCallbacks.ts); `logger` is the request's.
 */
export function settleNotification(app: Application, notification: ReceivedNotification, logger: CallbackLogger): Promise<NotificationSettlementOutcome> {
  return batcher(app).submit({ kind: 'notify', outTradeNo: notification.outTradeNo, notification, logger });
}

function batcher(app: Application): MicroBatcher<SettlementItem, NotificationSettlementOutcome> {
  const holder = app as unknown as Record<symbol, MicroBatcher<SettlementItem, NotificationSettlementOutcome> | undefined>;
  return holder[BATCHER] ??= new MicroBatcher(items => settleIsolated(app, items), app.config.payment.settlementBatchMax,
    start => app.ctxStorage.exit(() => setImmediate(start)));
}

async function settleIsolated(app: Application, items: SettlementItem[]): Promise<Array<NotificationSettlementOutcome | Error>> {
  try {
    return await settleBatch(app, items, { lookUpHolders: false });
  } catch (err) {
    // mysql2 marks connection failures fatal: alone, each payment would only meet it again.
    if ((err as { fatal?: boolean }).fatal) return items.map(() => err as Error);
    // A transaction_id already held by another attempt is not looked up first (it takes a forged
    // or broken notification with a valid signature): the unique index refuses the write, and
    // settled alone with holders looked up, the payment is refused by the rules and recorded.
    const held = (err as { code?: string }).code === 'ER_DUP_ENTRY';
    if (items.length === 1 && !held) return [ err as Error ];
    if (items.length > 1) app.logger.warn('[payment] a settlement batch of %d failed (%s); settling each alone', items.length, (err as Error).message);
    const outcomes: Array<NotificationSettlementOutcome | Error> = [];
    for (const item of items) {
      try {
        outcomes.push((await settleBatch(app, [ item ], { lookUpHolders: true }))[0]);
      } catch (itemErr) {
        outcomes.push(itemErr as Error);
      }
    }
    return outcomes;
  }
}

async function settleBatch(app: Application, items: SettlementItem[], options: { lookUpHolders: boolean }): Promise<NotificationSettlementOutcome[]> {
  const conn: PoolConnection = await app.settlementPool.getConnection();
  let inTransaction = false;
  let reusable = true;
  try {
    const outTradeNos = [ ...new Set(items.map(item => item.outTradeNo)) ];
    const holdersOf = options.lookUpHolders ? [ ...new Set(items.map(claimedTransactionId).filter((id): id is string => !!id)) ] : null;
    inTransaction = true;
    const locked = await settlementStore.lock(conn, outTradeNos, holdersOf, app.config.payment.settlementLockWaitSeconds);
    const now = new Date();
    const decider = new SettlementDecider(locked, app.config.wechat.apiKey, now);
    const outcomes = items.map(item => decider.decide(item));
    const mismatches = await settlementStore.write(conn, decider.writes, now, { commit: true });
    inTransaction = false;
    for (const mismatch of mismatches) app.logger.error('[payment] settlement committed an unexpected change (a bug): %s', mismatch);
    for (const line of decider.logLines) line();
    return outcomes;
  } catch (err) {
    if (inTransaction) {
      // A connection whose transaction cannot be rolled back is not given back to the pool.
      await settlementStore.rollback(conn).catch(() => { reusable = false; });
    }
    throw err;
  } finally {
    if (reusable) conn.release();
    else conn.destroy();
  }
}

function claimedTransactionId(item: SettlementItem): string | undefined {
  const id = item.kind === 'notify' ? item.notification.fields.transaction_id : item.facts.transactionId;
  return typeof id === 'string' && TRANSACTION_ID.test(id) ? id : undefined;
}

/**
 * The rules, applied to the locked rows one payment at a time in arrival order; the state it keeps
 * (who holds which transaction_id, each order's status) includes the batch's own earlier decisions,
 * so two copies of one notification in a batch are one payment and one duplicate.
 */
class SettlementDecider {
  readonly writes: SettlementWrites = emptyWrites();
  /** Written once the batch is committed. */
  readonly logLines: Array<() => void> = [];
  private readonly attempts: Map<string, LockedAttempt>;
  private readonly orderStatus = new Map<number, string>();
  private readonly refundFlagged = new Set<number>();

  constructor(private readonly locked: LockedRows, private readonly apiKey: string, private readonly now: Date) {
    this.attempts = new Map(locked.attempts.map(a => [ a.outTradeNo, a ]));
    for (const a of locked.attempts) this.orderStatus.set(a.orderId, a.orderStatus);
  }

  decide(item: SettlementItem): NotificationSettlementOutcome {
    if (item.kind === 'query') return this.applyPaid(item.facts, 'query', item.logger);
    const outcome = this.decideNotification(item.notification, item.logger);
    const { fields } = item.notification;
    const [ auditOutcome, reason ] = outcome.result === 'REJECTED' ? [ 'REJECTED', outcome.reason ]
      : outcome.result === 'DUPLICATE' ? [ 'DUPLICATE', 'DUPLICATE' ]
        : outcome.result === 'PAYMENT_FAILED' ? [ 'APPLIED', `payment failed: ${outcome.errCode}` ]
          : [ 'APPLIED', outcome.result ];
    this.writes.notifications.push({
      ...auditKeys(fields),
      rawBody: item.notification.rawBody,
      parsed: JSON.stringify(fields),
      outcome: auditOutcome,
      reason: reason.slice(0, 255),
      remoteIp: item.notification.remoteIp,
    });
    return outcome;
  }

  private decideNotification(n: ReceivedNotification, logger: CallbackLogger): NotificationSettlementOutcome {
    const { fields } = n;
    const attempt = this.attempts.get(n.outTradeNo);
    if (!attempt) return reject('unknown out_trade_no');
    // Signed with the sign type of the unified order that created it; the field itself is often absent.
    const signType = attempt.signType;
    if (!isSignType(signType)) return reject(`the order's sign type ${signType} is not supported`, attempt.orderId);
    if (fields.sign_type !== undefined && fields.sign_type !== signType) return reject('sign_type differs from the order\'s', attempt.orderId);
    if (!verifySign(fields, this.apiKey, signType)) return reject('signature does not verify', attempt.orderId);

    if (fields.result_code !== 'SUCCESS') {
      // A failed payment changes nothing: the order stays payable. Record what WeChat said.
      const errCode = (fields.err_code ?? 'PAYERROR').slice(0, 32);
      this.writes.attemptsFailed.push({ attemptId: attempt.attemptId, errCode, errCodeDes: (fields.err_code_des ?? '').slice(0, 255) });
      this.logLines.push(() => logger.info('[notify] order %s: payment failed at WeChat: %s', n.outTradeNo, errCode));
      return { result: 'PAYMENT_FAILED', errCode };
    }
    const totalFee = /^[1-9][0-9]{0,9}$/.test(fields.total_fee ?? '') ? Number(fields.total_fee) : NaN;
    if (!Number.isSafeInteger(totalFee)) return reject(`total_fee ${JSON.stringify(fields.total_fee ?? null)} is not a positive integer`, attempt.orderId);
    return this.applyPaid({
      outTradeNo: n.outTradeNo, transactionId: fields.transaction_id, totalFee,
      timeEnd: fields.time_end, bankType: fields.bank_type, openid: fields.openid,
    }, 'notify', logger);
  }

  private applyPaid(facts: PaidFacts, source: PaymentSource, logger: CallbackLogger): SettlementOutcome {
    const attempt = this.attempts.get(facts.outTradeNo);
    if (!attempt) return reject('unknown out_trade_no');
    const orderId = attempt.orderId;
    if (typeof facts.transactionId !== 'string' || !TRANSACTION_ID.test(facts.transactionId)) return reject('transaction_id is missing or malformed', orderId);
    if (facts.totalFee !== attempt.attemptFee || attempt.attemptFee !== attempt.orderFee) {
      return reject(`total_fee ${facts.totalFee} differs from the order's ${attempt.orderFee}`, orderId);
    }
    if (attempt.attemptTransactionId) {
      if (attempt.attemptTransactionId === facts.transactionId) return { result: 'DUPLICATE', orderId };
      return reject('a different transaction_id was already recorded for this out_trade_no', orderId);
    }
    if (facts.openid) {
      const owner = this.locked.owners.get(facts.outTradeNo);
      if (!owner || owner !== facts.openid) return reject('openid is not the order owner\'s', orderId);
    }
    const holder = this.locked.holders.get(facts.transactionId);
    if (holder !== undefined && holder !== facts.outTradeNo) return reject('transaction_id already belongs to another payment', orderId);

    attempt.attemptTransactionId = facts.transactionId;
    this.locked.holders.set(facts.transactionId, facts.outTradeNo);
    this.writes.attemptsPaid.push({ attemptId: attempt.attemptId, transactionId: facts.transactionId });
    const detail = JSON.stringify({ outTradeNo: facts.outTradeNo, transactionId: facts.transactionId, totalFee: facts.totalFee });
    const orderNo = attempt.orderOutTradeNo;
    const status = this.orderStatus.get(orderId);

    if (status === 'NOTPAY') {
      this.orderStatus.set(orderId, 'SUCCESS');
      this.writes.ordersPaid.push({
        orderId, attemptId: attempt.attemptId, transactionId: facts.transactionId, paidAt: fromBeijing(facts.timeEnd) ?? this.now,
        // Cut to the column: an overlong value must not fail the payment's recording forever.
        bankType: facts.bankType?.slice(0, 32) ?? null,
      });
      this.writes.events.push({ orderId, type: 'PAID', source, detail });
      this.logLines.push(() => logger.info('[payment] order %s paid: out_trade_no=%s transaction_id=%s total_fee=%d source=%s',
        orderNo, facts.outTradeNo, facts.transactionId, facts.totalFee, source));
      return { result: 'APPLIED', orderId };
    }

    // Paid twice (another attempt won) or paid after we closed it: keep the money on record and
    // flag it, so it is refunded rather than lost.
    if (!this.refundFlagged.has(orderId)) {
      this.refundFlagged.add(orderId);
      this.writes.ordersRefundRequired.push(orderId);
    }
    const type = status === 'CLOSED' ? 'PAID_AFTER_CLOSE' : 'DOUBLE_PAYMENT';
    this.writes.events.push({ orderId, type, source, detail });
    this.logLines.push(() => logger.error('[payment] order %s: %s out_trade_no=%s transaction_id=%s needs a refund',
      orderNo, type, facts.outTradeNo, facts.transactionId));
    return { result: 'REFUND_REQUIRED', orderId };
  }
}

function reject(reason: string, orderId?: number): SettlementOutcome {
  return orderId === undefined ? { result: 'REJECTED', reason } : { result: 'REJECTED', reason, orderId };
}
