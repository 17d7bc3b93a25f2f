import { Service } from 'egg';
import {
  AppPayParams, appPayParams, h5SceneInfo, merchantNumber, mwebUrlWithRedirect, requestPaymentParams, RequestPaymentParams, SignType,
  toBeijingCompact, TRADE_TYPE_SPECS, TradeType, UnifiedOrderRequest, WechatApiError, WechatError,
} from '../../lib/wechatpay';
import { ConflictError, ServiceUnavailableError } from '../common/errors';
import { wechatFailureToAppError } from '../common/wechatErrors';
import { isPaidStatus, LIVE_ATTEMPT_STATUSES } from '../domain/orderStatus';
import { PrepayRepository } from '../repository/prepayRepository';
import type { OrderData } from '../model/order';
import type { PaymentAttemptData } from '../model/paymentAttempt';

/** WeChat wants time_expire at least a minute after the unified order call; keep some margin. */
const MIN_PAYABLE_MS = 90 * 1000;

/**
 * What the payer's page needs to pay: WeixinJSBridge's getBrandWCPayRequest takes exactly appId,
 * timeStamp, nonceStr, package, signType and paySign; wx.requestPayment() takes them without
 * appId (the mini-program supplies its own), so it ignores it.
 */
export interface JsapiPaymentParams extends RequestPaymentParams {
  /** The appid paySign was computed with: the order's app. */
  appId: string;
  outTradeNo: string;
}

/** NATIVE: the code_url to show as a QR code (the service renders it at qrCode.svg/png). */
export interface NativePaymentParams {
  outTradeNo: string;
  tradeType: 'NATIVE';
  codeUrl: string;
  /** When WeChat stops taking this code_url (2 hours, or the order's expiry if sooner). */
  codeUrlExpiresAt: string;
  qrCode: { svg: string; png: string };
}

/** MWEB: the cashier page to send the mobile browser to, with our return page appended. */
export interface MwebPaymentParams {
  outTradeNo: string;
  tradeType: 'MWEB';
  mwebUrl: string;
  /** mweb_url lasts 5 minutes; afterwards /pay gives a new one. */
  mwebUrlExpiresAt: string;
}

/** APP: the WeChat app SDK's PayReq fields, signed for the mobile app's appid. */
export interface AppPaymentParams extends AppPayParams {
  outTradeNo: string;
  tradeType: 'APP';
}

/** What the payer's side gets, by the order's trade type (lib/wechatpay TRADE_TYPE_SPECS). */
export type PaymentParams = JsapiPaymentParams | NativePaymentParams | MwebPaymentParams | AppPaymentParams;

/**
 * Gets an order a usable prepay_id from WeChat's unified order and signs the parameters for
 * wx.requestPayment(). Reuses a valid prepay, repeats a failed call with the same parameters (as
 * WeChat asks after SYSTEMERROR), and opens a new attempt with a new out_trade_no only after the
 * old one is closed at WeChat (an expiring prepay, or a payment that failed: WeChat's rule), so
 * the order can never be paid twice through two live numbers. Every call for an attempt is signed
 * with the sign type the order was created with.
 */
export default class PrepayService extends Service {
  /**
   * `order` and `current` are plain data (a model instance is one too): order creation hands in
   * the rows it has just written without building instances for them. `current`: the order's
   * current attempt when the caller has it in hand (it just created both).
   */
  async paymentParams(order: OrderData, openid: string, clientIp: string, current?: PaymentAttemptData, retried = false): Promise<PaymentParams> {
    this.assertPayable(order);
    const { PaymentAttempt } = this.app.model;
    let attempt = current?.id === order.currentAttemptId ? current : await PaymentAttempt.findByPk(order.currentAttemptId!);
    if (!attempt) throw new Error(`order ${order.outTradeNo} has no current payment attempt`);

    if (attempt.status === 'PREPAID' && this.prepayUsable(attempt)) return this.sign(order, attempt);
    if (attempt.status === 'PREPAID' || attempt.status === 'FAILED') {
      attempt = await this.replaceAttempt(order, attempt);
    }
    let params;
    try {
      params = await this.callUnifiedOrder(order, attempt, openid, clientIp);
    } catch (err) {
      if (err instanceof WechatApiError && (err.errCode === 'OUT_TRADE_NO_USED' || err.errCode === 'ORDERCLOSED')) {
        // The number is spent at WeChat: one more try with a fresh attempt.
        attempt = await this.replaceAttempt(order, attempt);
        params = await this.callUnifiedOrder(order, attempt, openid, clientIp).catch(e => this.raise(order, e));
      } else {
        return this.raise(order, err);
      }
    }
    if (params) return params;
    // The attempt was closed or replaced on purpose while we called WeChat: start again from the
    // order as it is now, once.
    if (retried) throw new ServiceUnavailableError('ORDER_BUSY', 'the order changed while it was being paid, retry shortly');
    return this.paymentParams(await this.reread(order), openid, clientIp, undefined, true);
  }

  /** The order as it is now in the database. */
  private async reread(order: OrderData): Promise<OrderData> {
    const now = await this.app.model.Order.findByPk(order.id);
    if (!now) throw new Error(`order ${order.outTradeNo} vanished`);
    return now;
  }

  private assertPayable(order: OrderData) {
    if (isPaidStatus(order.status)) throw new ConflictError('ORDER_ALREADY_PAID', 'this order is already paid');
    if (order.status === 'CLOSED') throw new ConflictError('ORDER_CLOSED', 'this order is closed');
    if (order.expiresAt.getTime() - Date.now() < MIN_PAYABLE_MS) throw new ConflictError('ORDER_EXPIRED', 'this order has expired, place a new one');
  }

  private prepayUsable(attempt: PaymentAttemptData): boolean {
    // An mweb_url lives 5 minutes: a fifth of its life as margin, not the 5 minutes a prepay_id gets.
    const ttl = TRADE_TYPE_SPECS[attempt.tradeType as TradeType]?.replyTtlMs ?? 0;
    const margin = Math.min(this.config.payment.prepayReuseMarginSeconds * 1000, ttl / 5);
    return !!attempt.prepayId && !!attempt.prepayExpiresAt && attempt.prepayExpiresAt.getTime() - Date.now() > margin;
  }

  /**
   * Unified order for this attempt; answers the signed parameters, or undefined when the attempt
   * stopped being open during the call (its prepay_id is then never given out).
   */
  private async callUnifiedOrder(order: OrderData, attempt: PaymentAttemptData, openid: string, clientIp: string): Promise<PaymentParams | undefined> {
    let reply: Record<string, string>;
    try {
      // Same out_trade_no, same parameters (time_start/time_expire stored on the attempt): a
      // repeated call after a timeout or SYSTEMERROR gets the same prepay_id, never a second order.
      reply = await this.app.wechatPay.unifiedOrder(this.unifiedOrderRequest(order, attempt, openid, clientIp),
        { signType: attempt.signType as SignType, appId: attempt.appid });
    } catch (err) {
      // Kept on the attempt for the operator; by primary key (decision 0002).
      const failure = err instanceof WechatApiError ? { code: err.errCode, description: err.errCodeDes }
        : err instanceof WechatError ? { code: err.name, description: err.message } : undefined;
      if (failure) {
        await this.app.model.PaymentAttempt.update({ errCode: failure.code.slice(0, 32), errCodeDes: failure.description.slice(0, 255) }, { where: { id: attempt.id } });
      }
      throw err;
    }
    // The client (lib/wechatpay) checked that the reply carries what this trade type's payer needs.
    const spec = TRADE_TYPE_SPECS[attempt.tradeType as TradeType];
    const payUrl = spec.replyField === 'prepay_id' ? null : reply[spec.replyField];
    const prepayExpiresAt = new Date(Math.min(Date.now() + spec.replyTtlMs, order.expiresAt.getTime()));
    // Whether this call may hand out the prepay_id is decided from the attempt's state read under
    // its locks (order row first, then the attempt: docs/decisions/0002-lock-order.md), never from
    // a row count: concurrent calls for the same attempt all store and answer the same prepay_id.
    const state = await new PrepayRepository(this.app.model).storePrepay(order.id, attempt.id, { prepayId: reply.prepay_id, prepayExpiresAt, payUrl });
    if (!state) throw new Error(`order ${order.outTradeNo} or its attempt ${attempt.outTradeNo} vanished`);
    if (!state.open) {
      if (state.orderStatus === 'CLOSED') {
        // A close ran during our call and may have closed the number before our unified order
        // made it payable again: close it at WeChat once more. Its prepay_id was never given out.
        await this.app.wechatPay.closeOrder(attempt.outTradeNo, { signType: attempt.signType as SignType, appId: attempt.appid }).catch(err => {
          this.ctx.logger.error('[payment] order %s: could not re-close %s after a racing close: %s', order.outTradeNo, attempt.outTradeNo, (err as Error).message);
        });
        throw new ConflictError('ORDER_CLOSED', 'this order is closed');
      }
      this.ctx.logger.info('[payment] order %s: attempt %s changed during unified order, not handed out', order.outTradeNo, attempt.outTradeNo);
      return undefined;
    }
    this.ctx.logger.info('[payment] order %s prepaid: out_trade_no=%s', order.outTradeNo, attempt.outTradeNo);
    attempt.prepayId = reply.prepay_id;
    attempt.prepayExpiresAt = prepayExpiresAt;
    attempt.payUrl = payUrl;
    return this.sign(order, attempt);
  }

  /**
   * The unified order of an attempt: the common fields, then what its trade type requires (the
   * client refuses to send one without them): JSAPI the payer's openid, NATIVE a product_id,
   * MWEB the H5 site's scene_info. spbill_create_ip is the payer's address as Egg computes it
   * (TRUST_PROXY), which MWEB requires to be the payer's real one.
   */
  private unifiedOrderRequest(order: OrderData, attempt: PaymentAttemptData, openid: string, clientIp: string): UnifiedOrderRequest {
    const wechat = this.config.wechat;
    const tradeType = attempt.tradeType as TradeType;
    return {
      body: order.body,
      out_trade_no: attempt.outTradeNo,
      total_fee: attempt.totalFee,
      spbill_create_ip: clientIp,
      notify_url: wechat.notifyUrl,
      trade_type: tradeType,
      openid: tradeType === 'JSAPI' ? openid : undefined,
      // The order's first product: what a static NATIVE code would name (at most 32 characters).
      product_id: tradeType === 'NATIVE' ? String((JSON.parse(order.items) as Array<{ productId: number }>)[0].productId) : undefined,
      scene_info: tradeType === 'MWEB'
        ? h5SceneInfo({ wapUrl: wechat.web.wapUrl, wapName: wechat.web.wapName || new URL(wechat.web.wapUrl).host })
        : undefined,
      time_start: attempt.timeStart,
      time_expire: attempt.timeExpire,
      attach: order.attach ?? undefined,
      // Optional fields fixed on the order at creation (docs/decisions/0015-unified-order-options-and-coupons.md).
      ...unifiedOrderExtras(order),
    };
  }

  /**
   * What the payer's side needs, by trade type, signed (JSAPI, APP) with the attempt's appid and
   * sign type: the payer's app checks the sign against its own appid and the order's sign type.
   */
  private sign(order: OrderData, attempt: PaymentAttemptData): PaymentParams {
    const { apiKey, mchId, web } = this.config.wechat;
    const signType = attempt.signType as SignType;
    const prepayId = attempt.prepayId!;
    const outTradeNo = order.outTradeNo;
    switch (attempt.tradeType as TradeType) {
      case 'NATIVE': {
        const base = `/payment/orders/${encodeURIComponent(outTradeNo)}/qrcode`;
        return {
          outTradeNo, tradeType: 'NATIVE', codeUrl: attempt.payUrl!, codeUrlExpiresAt: attempt.prepayExpiresAt!.toISOString(),
          qrCode: { svg: `${base}.svg`, png: `${base}.png` },
        };
      }
      case 'MWEB': {
        const back = new URL(web.h5ReturnUrl);
        back.searchParams.set('outTradeNo', outTradeNo);
        return {
          outTradeNo, tradeType: 'MWEB', mwebUrl: mwebUrlWithRedirect(attempt.payUrl!, back.toString()),
          mwebUrlExpiresAt: attempt.prepayExpiresAt!.toISOString(),
        };
      }
      case 'APP':
        return { ...appPayParams({ appId: attempt.appid, mchId, prepayId, apiKey, signType }), outTradeNo, tradeType: 'APP' };
      default: {
        const params = requestPaymentParams({ appId: attempt.appid, prepayId, apiKey, signType });
        return { appId: attempt.appid, ...params, outTradeNo };
      }
    }
  }

  /**
   * Closes the current attempt at WeChat, then opens a new one for the same order (or takes the
   * one a concurrent request opened first: one order, one live number).
   */
  private async replaceAttempt(order: OrderData, attempt: PaymentAttemptData): Promise<PaymentAttemptData> {
    if (LIVE_ATTEMPT_STATUSES.includes(attempt.status)) {
      try {
        await this.app.wechatPay.closeOrder(attempt.outTradeNo, { signType: attempt.signType as SignType, appId: attempt.appid });
      } catch (err) {
        const code = err instanceof WechatApiError ? err.errCode : '';
        if (code === 'ORDERPAID') {
          // Paid after all: settle it through the one settlement path instead of opening a new number.
          await this.service.order.refreshFromWechat(order);
          throw new ConflictError('ORDER_ALREADY_PAID', 'this order is already paid');
        }
        if (code !== 'ORDERCLOSED' && code !== 'ORDERNOTEXIST') return this.raise(order, err);
      }
    }
    const { PaymentAttempt, Order } = this.app.model;
    const next = await this.app.model.transaction(async transaction => {
      // The order row first, then its attempts (docs/decisions/0002-lock-order.md).
      const locked = await Order.findByPk(order.id, { lock: transaction.LOCK.UPDATE, transaction });
      if (!locked) throw new Error(`order ${order.outTradeNo} vanished`);
      if (locked.status !== 'NOTPAY' || locked.currentAttemptId !== attempt.id) return { order: locked, attempt: null };
      // Read under the lock, updated by primary key only (decision 0002: a status index could serve a status condition).
      const replaced = await PaymentAttempt.findByPk(attempt.id, { attributes: [ 'id', 'status' ], lock: transaction.LOCK.UPDATE, transaction });
      if (replaced && LIVE_ATTEMPT_STATUSES.includes(replaced.status)) await PaymentAttempt.update({ status: 'CLOSED' }, { where: { id: attempt.id }, transaction });
      const created = await PaymentAttempt.create(newAttemptFields(locked, merchantNumber('P')), { transaction });
      await Order.update({ currentAttemptId: created.id }, { where: { id: order.id }, transaction });
      return { order: locked, attempt: created };
    });
    if (!next.attempt) {
      // Paid, closed or replaced by another request meanwhile: continue from the order as read under its lock.
      this.assertPayable(next.order);
      const current = await PaymentAttempt.findByPk(next.order.currentAttemptId!);
      if (!current) throw new Error(`order ${order.outTradeNo} lost its current attempt`);
      return current;
    }
    this.ctx.logger.info('[payment] order %s: new attempt out_trade_no=%s replaces %s', order.outTradeNo, next.attempt.outTradeNo, attempt.outTradeNo);
    return next.attempt;
  }

  /** Maps a WeChat failure to the client error it means. */
  private async raise(order: OrderData, err: unknown): Promise<never> {
    if (err instanceof WechatApiError && err.errCode === 'ORDERPAID') {
      await this.service.order.refreshFromWechat(order).catch(() => undefined);
      throw new ConflictError('ORDER_ALREADY_PAID', 'this order is already paid');
    }
    if (err instanceof WechatError) this.ctx.logger.warn('[payment] order %s: unified order failed: %s', order.outTradeNo, err.message);
    throw wechatFailureToAppError(err, 'the order');
  }
}

/** The order's optional unified-order fields, as WeChat spells them; absent ones are not sent. */
function unifiedOrderExtras(order: OrderData) {
  return {
    goods_tag: order.goodsTag ?? undefined,
    limit_pay: order.limitPay === 'no_credit' ? 'no_credit' as const : undefined,
    receipt: order.receipt ? 'Y' as const : undefined,
    // A single-product discount's goods list goes with version 1.0.
    detail: order.detail ?? undefined,
    version: order.detail ? '1.0' : undefined,
  };
}

/** A payment attempt's fields, fixed at creation so repeated unified-order calls are identical. */
export function newAttemptFields(
  order: { id: number; totalFee: number; signType: string; appid: string; tradeType: string; expiresAt: Date }, outTradeNo: string,
) {
  return { orderId: order.id, ...attemptFieldsOf(order, outTradeNo) };
}

/** newAttemptFields without the order's id: the first attempt is written with its order, whose id is not known yet. */
export function attemptFieldsOf(order: { totalFee: number; signType: string; appid: string; tradeType: string; expiresAt: Date }, outTradeNo: string) {
  return {
    outTradeNo,
    totalFee: order.totalFee,
    signType: order.signType,
    appid: order.appid,
    tradeType: order.tradeType,
    timeStart: toBeijingCompact(new Date()),
    timeExpire: toBeijingCompact(order.expiresAt),
  };
}
