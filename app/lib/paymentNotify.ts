import { Application } from 'egg';
import { readNotification } from '../../lib/wechatpay';
import { auditKeys, NotificationOutcome } from '../model/paymentNotification';
import { CallbackLogger, settleNotification } from '../service/settlement';

export interface NotifyResult {
  /** true: answer SUCCESS (recorded, or already recorded); false: answer FAIL so WeChat resends. */
  acknowledged: boolean;
  message: string;
}

/**
 * Handles WeChat Pay's payment result notification: verifies it (signature over every field,
 * merchant, app, amount, owner), applies it through the settlement path and keeps it in the
 * audit (payment_notifications), forged and broken ones included. Only a change that is committed
 * is acknowledged.
 *
 * Every notification answered has exactly one audit row, written before the answer. One refused
 * on its face (unreadable XML, return_code, merchant, app) is recorded here in one INSERT; any
 * other is recorded by the settlement transaction that applies it, with its outcome, atomically
 * with the change. One that meets a database failure gets FAIL instead, and an ERROR row if the
 * database still takes one; WeChat resends it, and the resend is recorded.
 *
 * One per app, not per request: it is called from the callback lane (app/lib/wechatCallbacks.ts),
 * which answers WeChat without building a request context, and reads config on each call (tests
 * change it).
 */
export class PaymentNotifyService {
  constructor(private readonly app: Application) {}

  async handle(raw: Buffer, remoteIp: string, logger: CallbackLogger): Promise<NotifyResult> {
    const { app } = this;
    const rawBody = raw.toString('utf8');
    let fields: Record<string, string> | undefined;
    const record = (outcome: NotificationOutcome, reason: string | null) => app.model.PaymentNotification.create({
      kind: 'pay',
      rawBody,
      parsed: fields ? JSON.stringify(fields) : null,
      ...auditKeys(fields),
      remoteIp,
      outcome,
      reason: reason === null ? null : reason.slice(0, 255),
    });
    const refused = (reason: string, outTradeNo?: string): NotifyResult => {
      logger.error('[notify] refused notification%s: %s', outTradeNo ? ` for order ${outTradeNo}` : '', reason);
      return { acknowledged: false, message: reason };
    };
    const reject = async (reason: string, outTradeNo?: string): Promise<NotifyResult> => {
      await record('REJECTED', reason);
      return refused(reason, outTradeNo);
    };

    let read;
    try {
      read = readNotification(raw, { appId: app.config.wechat.appId, mchId: app.config.wechat.mchId, maxBytes: app.config.payment.maxNotifyBytes });
    } catch (err) {
      await record('RECEIVED', null);
      throw err;
    }
    fields = read.fields;
    if (read.refused !== undefined) return reject(read.refused, fields?.out_trade_no);
    const outTradeNo = read.fields.out_trade_no;
    if (!outTradeNo) return reject('out_trade_no is missing');

    let outcome;
    try {
      outcome = await settleNotification(app, { outTradeNo, fields: read.fields, rawBody, remoteIp }, logger);
    } catch (err) {
      // Not known to be committed (if it was after all, the resend is answered as a repeat): keep a
      // trace if the database still takes one, and let WeChat resend.
      await record('ERROR', `not settled: ${(err as Error).message}`).catch(() => undefined);
      throw err;
    }
    if (outcome.result === 'REJECTED') return refused(outcome.reason, outTradeNo);
    return { acknowledged: true, message: 'OK' };
  }
}
