import { randomInt } from 'node:crypto';
import { merchantNumber, toBeijingCompact } from '../lib/wechatpay';
import { newPrepayId, randomOpenid } from './ids';
import { Notifier } from './notifier';
import { PREPAY_TTL_MS } from './pay';
import { OrderBook } from './state';
import { paymentAmounts, PaymentRecord, PayOptions, SimCoupon, SimOrder } from './types';

/** A payer action the order's state does not allow; status is the HTTP answer for /simulator/pay. */
export class PayerError extends Error {
  constructor(message: string, readonly status: 404 | 409 | 422 | 502) {
    super(message);
    this.name = 'PayerError';
  }
}

/** Balance payments report bank_type OTHERS nowadays. */
const DEFAULT_BANK_TYPE = 'OTHERS';

/** The user's side of wx.requestPayment(): pays (or fails to pay) an order, then WeChat notifies. */
export class Payer {
  constructor(private readonly orders: OrderBook, private readonly notifier: Notifier, private readonly now: () => Date) {}

  pay(outTradeNo: string, options: PayOptions = {}): PaymentRecord {
    const result = options.result ?? 'SUCCESS';
    if (result !== 'SUCCESS' && result !== 'FAIL') throw new PayerError('result must be SUCCESS or FAIL', 422);
    const bankType = options.bankType ?? DEFAULT_BANK_TYPE;
    if (!/^[A-Z0-9_]{1,32}$/.test(bankType)) throw new PayerError('bankType must be like CMB_DEBIT', 422);
    const order = this.orders.find(outTradeNo);
    if (!order) throw new PayerError(`no order ${outTradeNo}`, 404);
    this.assertPayable(order, options.payClosedOrder === true);
    const coupons = this.coupons(order, options.coupons ?? []);

    if (options.openid !== undefined && !/^[A-Za-z0-9_-]{1,128}$/.test(options.openid)) throw new PayerError('openid must be 1-128 of A-Z a-z 0-9 _ -', 422);
    // A JSAPI order names its payer; anyone's WeChat can pay a QR code, an H5 cashier or an app order.
    if (!order.openid) order.openid = options.openid ?? randomOpenid();

    const now = this.now();
    order.timeEnd = toBeijingCompact(now);
    order.bankType = bankType;
    if (result === 'SUCCESS') {
      order.tradeState = 'SUCCESS';
      order.paidAt = now;
      order.payError = undefined;
      order.coupons = coupons.length > 0 ? coupons : undefined;
      this.orders.assignTransactionId(order);
    } else {
      order.tradeState = 'PAYERROR';
      order.payError = { errCode: 'NOTENOUGH', errCodeDes: '余额不足' };
    }
    this.notifier.start(order);
    return {
      outTradeNo: order.outTradeNo,
      result,
      tradeState: order.tradeState,
      totalFee: order.totalFee,
      openid: order.openid,
      bankType,
      timeEnd: order.timeEnd,
      transactionId: order.transactionId,
      ...(result === 'SUCCESS' ? paymentAmounts(order) : { couponFee: 0, cashFee: 0 }),
    };
  }

  /** The coupons a payment uses; WeChat never lets them pay the whole amount (cash_fee >= 1). */
  private coupons(order: SimOrder, wanted: NonNullable<PayOptions['coupons']>): SimCoupon[] {
    if (!Array.isArray(wanted)) throw new PayerError('coupons must be a list', 422);
    const coupons = wanted.map((c, n) => {
      if (!c || !Number.isSafeInteger(c.fee) || c.fee < 1) throw new PayerError(`coupons[${n}].fee must be a positive whole number of fen`, 422);
      const type = c.type ?? 'CASH';
      if (type !== 'CASH' && type !== 'NO_CASH') throw new PayerError(`coupons[${n}].type must be CASH or NO_CASH`, 422);
      if (c.id !== undefined && (typeof c.id !== 'string' || !/^[0-9A-Za-z]{1,20}$/.test(c.id))) throw new PayerError(`coupons[${n}].id must be 1-20 letters or digits`, 422);
      return { id: c.id ?? String(randomInt(10 ** 9, 10 ** 10)), type, fee: c.fee } as SimCoupon;
    });
    if (coupons.reduce((t, c) => t + c.fee, 0) >= order.totalFee) throw new PayerError('coupons must leave at least 1 fen to pay in cash', 422);
    return coupons;
  }

  /** The payer scans a NATIVE code_url and pays (or fails): an unknown or expired code is refused. */
  scan(codeUrl: string, options: PayOptions = {}): PaymentRecord {
    const order = this.orders.findByCodeUrl(codeUrl);
    if (!order) throw new PayerError('this code is not a payment code of any order', 404);
    if (this.now() >= order.prepayExpiresAt) throw new PayerError('this code has expired (二维码已过期): the merchant must show a new one', 409);
    return this.pay(order.outTradeNo, options);
  }

  /** The order an mweb_url names, refused once that URL is 5 minutes old (支付请求已失效). */
  mwebOrder(prepayId: string, pkg: string): SimOrder {
    const order = this.orders.findByMweb(prepayId, pkg);
    if (!order || order.tradeType !== 'MWEB') throw new PayerError('no such payment request', 404);
    if (!order.mwebExpiresAt || this.now() >= order.mwebExpiresAt) throw new PayerError('支付请求已失效: this payment link has expired', 409);
    return order;
  }

  /**
   * Orders that were placed and paid at `paidAt`, added straight to the order book with no request
   * and no notification: the bulk a test needs for a big merchant's bill. Their out_trade_no, in order.
   */
  addPaidOrders(count: number, o: { mchId: string; appId: string; paidAt: Date; totalFee: number }): string[] {
    if (!Number.isSafeInteger(count) || count < 0) throw new Error('count must be a whole number');
    if (!Number.isSafeInteger(o.totalFee) || o.totalFee < 1) throw new Error('totalFee must be a positive whole number of fen');
    const outTradeNos: string[] = [];
    for (let i = 0; i < count; i++) {
      const outTradeNo = merchantNumber('S');
      const order: SimOrder = {
        mchId: o.mchId,
        appId: o.appId,
        outTradeNo,
        params: { body: 'Seeded order', out_trade_no: outTradeNo, total_fee: String(o.totalFee), trade_type: 'JSAPI' },
        signType: 'MD5',
        notifyUrl: 'http://127.0.0.1:9/notify',
        totalFee: o.totalFee,
        openid: randomOpenid(),
        tradeType: 'JSAPI',
        prepayId: newPrepayId(o.paidAt),
        prepayExpiresAt: new Date(o.paidAt.getTime() + PREPAY_TTL_MS),
        tradeState: 'SUCCESS',
        createdAt: o.paidAt,
        timeEnd: toBeijingCompact(o.paidAt),
        paidAt: o.paidAt,
        bankType: DEFAULT_BANK_TYPE,
        refunds: [],
      };
      this.orders.add(order);
      this.orders.assignTransactionId(order);
      outTradeNos.push(outTradeNo);
    }
    return outTradeNos;
  }

  private assertPayable(order: SimOrder, payClosedOrder: boolean): void {
    if (order.tradeState === 'SUCCESS' || order.tradeState === 'REFUND') {
      throw new PayerError(`order ${order.outTradeNo} is already paid`, 409);
    }
    if (order.tradeState === 'CLOSED' && !payClosedOrder) throw new PayerError(`order ${order.outTradeNo} is closed`, 409);
    if (this.now() >= order.prepayExpiresAt) {
      throw new PayerError(`prepay_id of ${order.outTradeNo} has expired: the merchant must call unified order again`, 409);
    }
  }
}
