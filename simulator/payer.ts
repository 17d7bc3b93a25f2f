import { toBeijingCompact } from '../lib/wechatpay';
import { Notifier } from './notifier';
import { OrderBook } from './state';
import { PaymentRecord, PayOptions, SimOrder } from './types';

/** A payer action the order's state does not allow; status is the HTTP answer for /simulator/pay. */
export class PayerError extends Error {
  constructor(message: string, readonly status: 404 | 409 | 422) {
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

    const now = this.now();
    order.timeEnd = toBeijingCompact(now);
    order.bankType = bankType;
    if (result === 'SUCCESS') {
      order.tradeState = 'SUCCESS';
      order.paidAt = now;
      order.payError = undefined;
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
    };
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
