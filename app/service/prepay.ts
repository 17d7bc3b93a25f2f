import { Service } from 'egg';
import {
  merchantNumber, requestPaymentParams, RequestPaymentParams, SignType, toBeijingCompact,
  WechatApiError, WechatError, WechatSignatureError, WechatTransportError, WechatXmlError,
} from '../../lib/wechatpay';
import { ConflictError, ServiceUnavailableError, UpstreamRejectedError } from '../common/errors';
import { isPaidStatus } from '../domain/orderStatus';

const PREPAY_VALIDITY_MS = 2 * 3600 * 1000;
/** WeChat wants time_expire at least a minute after the unified order call; keep some margin. */
const MIN_PAYABLE_MS = 90 * 1000;

type OrderRow = any;
type AttemptRow = any;

export interface PaymentParams extends RequestPaymentParams {
  outTradeNo: string;
}

/**
 * Gets an order a usable prepay_id from WeChat's unified order and signs the parameters for
 * wx.requestPayment(). Reuses a valid prepay, repeats a failed call with the same parameters (as
 * WeChat asks after SYSTEMERROR), and opens a new attempt with a new out_trade_no only after the
 * old one is closed at WeChat, so the order can never be paid twice through two live numbers.
 */
export default class PrepayService extends Service {
  /** `current`: the order's current attempt when the caller has it in hand (it just created both). */
  async paymentParams(order: OrderRow, openid: string, clientIp: string, current?: AttemptRow): Promise<PaymentParams> {
    this.assertPayable(order);
    const { PaymentAttempt } = this.app.model;
    let attempt: AttemptRow = current?.id === order.currentAttemptId ? current : await PaymentAttempt.findByPk(order.currentAttemptId);
    if (!attempt) throw new Error(`order ${order.outTradeNo} has no current payment attempt`);

    if (attempt.status === 'PREPAID' && this.prepayUsable(attempt)) return this.sign(order, attempt.prepayId, attempt.signType);
    if (attempt.status === 'PREPAID' || attempt.status === 'FAILED') {
      attempt = await this.replaceAttempt(order, attempt);
    }
    try {
      return await this.callUnifiedOrder(order, attempt, openid, clientIp);
    } catch (err) {
      if (err instanceof WechatApiError && (err.errCode === 'OUT_TRADE_NO_USED' || err.errCode === 'ORDERCLOSED')) {
        // The number is spent at WeChat: one more try with a fresh attempt.
        attempt = await this.replaceAttempt(order, attempt);
        return this.callUnifiedOrder(order, attempt, openid, clientIp).catch(e => this.raise(order, e));
      }
      return this.raise(order, err);
    }
  }

  private assertPayable(order: OrderRow) {
    if (isPaidStatus(order.status)) throw new ConflictError('ORDER_ALREADY_PAID', 'this order is already paid');
    if (order.status === 'CLOSED') throw new ConflictError('ORDER_CLOSED', 'this order is closed');
    if (order.expiresAt.getTime() - Date.now() < MIN_PAYABLE_MS) throw new ConflictError('ORDER_EXPIRED', 'this order has expired, place a new one');
  }

  private prepayUsable(attempt: AttemptRow): boolean {
    const margin = this.config.payment.prepayReuseMarginSeconds * 1000;
    return !!attempt.prepayId && !!attempt.prepayExpiresAt && attempt.prepayExpiresAt.getTime() - Date.now() > margin;
  }

  private async callUnifiedOrder(order: OrderRow, attempt: AttemptRow, openid: string, clientIp: string): Promise<PaymentParams> {
    const wechat = this.config.wechat;
    let reply: Record<string, string>;
    try {
      // Same out_trade_no, same parameters (time_start/time_expire stored on the attempt): a
      // repeated call after a timeout or SYSTEMERROR gets the same prepay_id, never a second order.
      reply = await this.app.wechatPay.unifiedOrder({
        body: order.body,
        out_trade_no: attempt.outTradeNo,
        total_fee: attempt.totalFee,
        spbill_create_ip: clientIp,
        notify_url: wechat.notifyUrl,
        openid,
        time_start: attempt.timeStart,
        time_expire: attempt.timeExpire,
      });
    } catch (err) {
      if (err instanceof WechatApiError) {
        await attempt.update({ errCode: err.errCode.slice(0, 32), errCodeDes: err.errCodeDes.slice(0, 255) });
      } else if (err instanceof WechatError) {
        await attempt.update({ errCode: err.name.slice(0, 32), errCodeDes: err.message.slice(0, 255) });
      }
      throw err;
    }
    if (!reply.prepay_id) throw new WechatXmlError('unified order answered SUCCESS without prepay_id');
    const prepayExpiresAt = new Date(Math.min(Date.now() + PREPAY_VALIDITY_MS, order.expiresAt.getTime()));
    // Only while the attempt is still open: a close that ran during our call must win, and the
    // number we just made payable at WeChat is closed there again.
    const [ opened ] = await this.app.model.PaymentAttempt.update(
      { status: 'PREPAID', prepayId: reply.prepay_id, prepayExpiresAt, errCode: null, errCodeDes: null },
      { where: { id: attempt.id, status: [ 'CREATED', 'PREPAID' ] } });
    if (opened !== 1) {
      await this.app.wechatPay.closeOrder(attempt.outTradeNo).catch(err => {
        this.ctx.logger.error('[payment] order %s: could not re-close %s after a racing close: %s', order.outTradeNo, attempt.outTradeNo, (err as Error).message);
      });
      throw new ConflictError('ORDER_CLOSED', 'this order is closed');
    }
    this.ctx.logger.info('[payment] order %s prepaid: out_trade_no=%s', order.outTradeNo, attempt.outTradeNo);
    // The conditional update stored this prepay_id: no need to read the row back.
    return this.sign(order, reply.prepay_id, attempt.signType);
  }

  private sign(order: OrderRow, prepayId: string, signType: string): PaymentParams {
    const params = requestPaymentParams({
      appId: this.config.wechat.appId, prepayId, apiKey: this.config.wechat.apiKey, signType: signType as SignType,
    });
    return { ...params, outTradeNo: order.outTradeNo };
  }

  /** Closes the current attempt at WeChat, then opens a new one for the same order. */
  private async replaceAttempt(order: OrderRow, attempt: AttemptRow): Promise<AttemptRow> {
    if (attempt.status === 'PREPAID' || attempt.status === 'CREATED') {
      try {
        await this.app.wechatPay.closeOrder(attempt.outTradeNo);
      } catch (err) {
        const code = err instanceof WechatApiError ? err.errCode : '';
        if (code === 'ORDERPAID') {
          await this.service.order.refreshFromWechat(order);
          throw new ConflictError('ORDER_ALREADY_PAID', 'this order is already paid');
        }
        if (code !== 'ORDERCLOSED' && code !== 'ORDERNOTEXIST') return this.raise(order, err);
      }
    }
    await attempt.update({ status: attempt.status === 'FAILED' ? 'FAILED' : 'CLOSED' });
    const { PaymentAttempt, Order } = this.app.model;
    const next = await this.app.model.transaction(async transaction => {
      const created = await PaymentAttempt.create(newAttemptFields(order, merchantNumber('P')), { transaction });
      // Swap only if nobody else replaced the attempt meanwhile: one order, one live number.
      const [ swapped ] = await Order.update({ currentAttemptId: created.id },
        { where: { id: order.id, currentAttemptId: attempt.id, status: 'NOTPAY' }, transaction });
      if (swapped !== 1) throw new AttemptReplacedConcurrently();
      return created;
    }).catch(async err => {
      if (!(err instanceof AttemptReplacedConcurrently)) throw err;
      await order.reload();
      this.assertPayable(order);
      const current = await PaymentAttempt.findByPk(order.currentAttemptId);
      if (!current) throw new Error(`order ${order.outTradeNo} lost its current attempt`);
      return current;
    });
    order.currentAttemptId = next.id;
    this.ctx.logger.info('[payment] order %s: new attempt out_trade_no=%s replaces %s', order.outTradeNo, next.outTradeNo, attempt.outTradeNo);
    return next;
  }

  /** Maps a WeChat failure to the client error it means. */
  private async raise(order: OrderRow, err: unknown): Promise<never> {
    if (err instanceof WechatApiError) {
      if (err.errCode === 'ORDERPAID') {
        await this.service.order.refreshFromWechat(order).catch(() => undefined);
        throw new ConflictError('ORDER_ALREADY_PAID', 'this order is already paid');
      }
      if (err.errCode === 'SYSTEMERROR' || err.errCode === 'BIZERR_NEED_RETRY' || err.errCode === 'FREQUENCY_LIMITED') {
        throw new ServiceUnavailableError('WECHAT_BUSY', 'WeChat Pay is busy, retry the same request shortly');
      }
      this.ctx.logger.error('[payment] order %s: unified order refused: %s %s', order.outTradeNo, err.errCode, err.errCodeDes);
      throw new UpstreamRejectedError('WECHAT_PAY_REJECTED', `WeChat Pay refused the order: ${err.errCode}`);
    }
    if (err instanceof WechatTransportError) {
      this.ctx.logger.warn('[payment] order %s: WeChat Pay unreachable: %s', order.outTradeNo, err.message);
      throw new ServiceUnavailableError('WECHAT_UNAVAILABLE', 'WeChat Pay could not be reached, retry the same request shortly');
    }
    if (err instanceof WechatSignatureError || err instanceof WechatXmlError) {
      this.ctx.logger.error('[payment] order %s: untrustworthy reply from WeChat Pay: %s', order.outTradeNo, err.message);
      throw new UpstreamRejectedError('WECHAT_BAD_REPLY', 'WeChat Pay gave a reply that could not be trusted');
    }
    throw err;
  }
}

/** A payment attempt's fields, fixed at creation so repeated unified-order calls are identical. */
export function newAttemptFields(order: { id: number; totalFee: number; signType: string; expiresAt: Date }, outTradeNo: string) {
  return {
    orderId: order.id,
    outTradeNo,
    totalFee: order.totalFee,
    signType: order.signType,
    timeStart: toBeijingCompact(new Date()),
    timeExpire: toBeijingCompact(order.expiresAt),
  };
}

/** Another request replaced the order's attempt first; the caller continues with that one. */
class AttemptReplacedConcurrently extends Error {}
