import { OUT_REFUND_NO_PATTERN, toBeijingCompact } from '../lib/wechatpay';
import { Credentials } from './credentials';
import { openPayRequest, PayRequest, resultFail, resultSuccess, returnFail } from './envelope';
import { SimRequest, SimResponse } from './http';
import { newRefundId } from './ids';
import { Notifier } from './notifier';
import { OrderBook } from './state';
import { Timers } from './timers';
import { paymentAmounts, refundAmounts, RefundStatus, SimOrder, SimRefund } from './types';
import { firstMissing, isFen, isNotifyUrl } from './validate';

/** WeChat's limits: 50 partial refunds per order, none a year after payment. */
const MAX_REFUNDS_PER_ORDER = 50;
const REFUND_WINDOW_MS = 365 * 24 * 3600 * 1000;
const REFUNDS_PER_QUERY_PAGE = 10;
const REFUND_ACCOUNTS = [ 'REFUND_SOURCE_UNSETTLED_FUNDS', 'REFUND_SOURCE_RECHARGE_FUNDS' ];

export interface RefundApiOptions {
  credentials: Credentials;
  orders: OrderBook;
  notifier: Notifier;
  now: () => Date;
  autoComplete: boolean;
}

/** Refunds (/secapi/pay/refund, mutual TLS) and refund query, plus the refunds' completion. */
export class RefundApi {
  /** Pending automatic completions, cancelled by stop() and reset(). */
  private readonly timers = new Timers();

  constructor(private readonly o: RefundApiOptions) {}

  /** POST /secapi/pay/refund */
  refund(req: SimRequest): SimResponse {
    // The TLS layer answers first: without the merchant's certificate nothing else is looked at.
    if (!req.clientCertCN) return returnFail('证书错误：请使用商户证书（apiclient_cert）调用退款接口');
    const opened = openPayRequest(req, this.o.credentials);
    if (!opened.request) return opened.response;
    const request = opened.request;
    if (req.clientCertCN !== request.merchant.mchId) return returnFail('证书错误：证书与商户号不匹配');
    const p = request.params;

    const missing = firstMissing(p, [ 'out_refund_no', 'total_fee', 'refund_fee' ]);
    if (missing) return resultFail(request, missing.errCode, missing.errCodeDes);
    if (!p.transaction_id && !p.out_trade_no) return resultFail(request, 'LACK_PARAMS', '缺少参数transaction_id或out_trade_no');
    const formatError = this.checkRefundFields(p);
    if (formatError) return resultFail(request, 'PARAM_ERROR', formatError);

    const order = p.transaction_id
      ? this.o.orders.getByTransactionId(request.merchant.mchId, p.transaction_id)
      : this.o.orders.get(request.merchant.mchId, p.out_trade_no);
    const ours = order && order.appId === request.appId ? order : undefined;
    if (!ours && p.transaction_id) return resultFail(request, 'INVALID_TRANSACTIONID', '无效transaction_id');
    if (!ours || (ours.tradeState !== 'SUCCESS' && ours.tradeState !== 'REFUND')) {
      return resultFail(request, 'ORDERNOTEXIST', '订单号不存在（未支付的订单不能发起退款）');
    }
    const totalFee = Number(p.total_fee);
    const refundFee = Number(p.refund_fee);

    const existing = this.o.orders.findRefund(request.merchant.mchId, { outRefundNo: p.out_refund_no });
    if (existing) {
      // A retried refund request: the same out_refund_no with the same amounts is the same refund.
      if (existing.order !== ours) return resultFail(request, 'PARAM_ERROR', '商户退款单号已用于其他订单');
      if (existing.refund.totalFee !== totalFee || existing.refund.refundFee !== refundFee) {
        return resultFail(request, 'PARAM_ERROR', '订单金额或退款金额与之前请求不一致，请核实后再试');
      }
      return this.accepted(request, ours, existing.refund);
    }
    if (totalFee !== ours.totalFee) return resultFail(request, 'PARAM_ERROR', 'total_fee与订单金额不一致');
    if (refundFee > totalFee - committedRefunds(ours)) return resultFail(request, 'ERROR', '累计退款金额大于支付金额');
    if (ours.refunds.length >= MAX_REFUNDS_PER_ORDER) return resultFail(request, 'ERROR', '订单已退款50次，不能再退款');
    const now = this.o.now();
    if (now.getTime() - ours.paidAt!.getTime() > REFUND_WINDOW_MS) return resultFail(request, 'TRADE_OVERDUE', '订单已经超过退款期限');

    const merchant = this.o.credentials.merchant(ours.mchId)!;
    const refund: SimRefund = {
      outRefundNo: p.out_refund_no,
      refundId: newRefundId(now),
      totalFee,
      refundFee,
      ...refundAmounts(ours, committedRefunds(ours), refundFee),
      status: 'PROCESSING',
      createdAt: now,
      notifyUrl: p.notify_url || merchant.refundNotifyUrl,
      params: { ...p },
    };
    ours.refunds.push(refund);
    ours.tradeState = 'REFUND';
    if (this.o.autoComplete) {
      // Right after the reply, as a balance refund does; the merchant still sees PROCESSING first.
      void this.timers.sleep(0).then(elapsed => {
        if (elapsed && refund.status === 'PROCESSING') this.finish(ours, refund, 'SUCCESS');
      });
    }
    return this.accepted(request, ours, refund);
  }

  /** POST /pay/refundquery */
  refundQuery(req: SimRequest): SimResponse {
    const opened = openPayRequest(req, this.o.credentials);
    if (!opened.request) return opened.response;
    const request = opened.request;
    const p = request.params;
    if (!p.refund_id && !p.out_refund_no && !p.transaction_id && !p.out_trade_no) {
      return resultFail(request, 'LACK_PARAMS', '缺少参数：refund_id、out_refund_no、transaction_id、out_trade_no四选一');
    }
    if (p.offset !== undefined && !/^\d{1,9}$/.test(p.offset)) return resultFail(request, 'PARAM_ERROR', 'offset参数格式错误');
    const mchId = request.merchant.mchId;

    let order: SimOrder | undefined;
    let refunds: SimRefund[];
    if (p.refund_id || p.out_refund_no) {
      // One refund, named by WeChat's number (which wins) or the merchant's.
      const found = this.o.orders.findRefund(mchId, p.refund_id ? { refundId: p.refund_id } : { outRefundNo: p.out_refund_no });
      order = found?.order;
      refunds = found ? [ found.refund ] : [];
    } else {
      order = p.transaction_id ? this.o.orders.getByTransactionId(mchId, p.transaction_id) : this.o.orders.get(mchId, p.out_trade_no);
      refunds = order?.refunds ?? [];
    }
    if (!order || order.appId !== request.appId || refunds.length === 0) {
      return resultFail(request, 'REFUNDNOTEXIST', '退款订单查询失败');
    }
    const offset = Number(p.offset ?? 0);
    const page = refunds.slice(offset, offset + REFUNDS_PER_QUERY_PAGE);
    if (page.length === 0) return resultFail(request, 'REFUNDNOTEXIST', '退款订单查询失败');

    const { cashFee, settlementTotalFee } = paymentAmounts(order);
    const fields: Record<string, string | number | undefined> = {
      transaction_id: order.transactionId,
      out_trade_no: order.outTradeNo,
      total_fee: order.totalFee,
      settlement_total_fee: settlementTotalFee,
      fee_type: 'CNY',
      cash_fee: cashFee,
      refund_fee: page.reduce((sum, r) => sum + r.refundFee, 0),
      refund_count: page.length,
      // Only asked-for pages carry the total, as WeChat's replies do.
      total_refund_count: p.offset !== undefined ? refunds.length : undefined,
    };
    page.forEach((r, n) => {
      fields[`out_refund_no_${n}`] = r.outRefundNo;
      fields[`refund_id_${n}`] = r.refundId;
      fields[`refund_fee_${n}`] = r.refundFee;
      fields[`settlement_refund_fee_${n}`] = r.settlementRefundFee;
      if (r.couponRefundFee > 0) fields[`coupon_refund_fee_${n}`] = r.couponRefundFee;
      fields[`refund_status_${n}`] = r.status;
      fields[`refund_account_${n}`] = r.params.refund_account || 'REFUND_SOURCE_UNSETTLED_FUNDS';
      fields[`refund_recv_accout_${n}`] = '支付用户零钱';
      fields[`refund_success_time_${n}`] = r.successTime;
    });
    return resultSuccess(request, fields);
  }

  /** Ends a PROCESSING refund (the in-process API's completeRefund). */
  complete(outRefundNo: string, status: Exclude<RefundStatus, 'PROCESSING'>): SimRefund {
    const found = this.o.orders.findRefundAnywhere(outRefundNo);
    if (!found) throw new Error(`no refund ${outRefundNo}`);
    if (found.refund.status !== 'PROCESSING') throw new Error(`refund ${outRefundNo} is already ${found.refund.status}`);
    this.finish(found.order, found.refund, status);
    return found.refund;
  }

  cancel(): void {
    this.timers.cancelAll();
  }

  private finish(order: SimOrder, refund: SimRefund, status: Exclude<RefundStatus, 'PROCESSING'>): void {
    const now = this.o.now();
    refund.status = status;
    refund.finishedAt = now;
    if (status === 'SUCCESS') refund.successTime = dashedBeijing(now);
    this.o.notifier.startRefund(order, refund);
  }

  private accepted(request: PayRequest, order: SimOrder, refund: SimRefund): SimResponse {
    const { cashFee, settlementTotalFee } = paymentAmounts(order);
    return resultSuccess(request, {
      transaction_id: order.transactionId,
      out_trade_no: order.outTradeNo,
      out_refund_no: refund.outRefundNo,
      refund_id: refund.refundId,
      refund_fee: refund.refundFee,
      settlement_refund_fee: refund.settlementRefundFee,
      total_fee: refund.totalFee,
      settlement_total_fee: settlementTotalFee,
      fee_type: 'CNY',
      cash_fee: cashFee,
      cash_refund_fee: refund.cashRefundFee,
      coupon_refund_fee: refund.couponRefundFee > 0 ? refund.couponRefundFee : undefined,
    });
  }

  private checkRefundFields(p: Record<string, string>): string | undefined {
    if (!OUT_REFUND_NO_PATTERN.test(p.out_refund_no)) return 'out_refund_no参数格式错误';
    if (!isFen(p.total_fee)) return 'total_fee参数格式错误';
    if (!isFen(p.refund_fee)) return 'refund_fee参数格式错误';
    if (p.refund_fee_type && p.refund_fee_type !== 'CNY') return 'refund_fee_type参数错误';
    if (p.refund_desc && [ ...p.refund_desc ].length > 80) return 'refund_desc参数长度有误';
    if (p.refund_account && !REFUND_ACCOUNTS.includes(p.refund_account)) return 'refund_account参数错误';
    if (p.notify_url && !isNotifyUrl(p.notify_url)) return 'notify_url参数格式错误';
    return undefined;
  }
}

/** Refunded or on the way: only a closed refund gives its amount back. */
function committedRefunds(order: SimOrder): number {
  return order.refunds.filter(r => r.status !== 'REFUNDCLOSE').reduce((sum, r) => sum + r.refundFee, 0);
}

/** yyyy-MM-dd HH:mm:ss in Beijing time. */
export function dashedBeijing(date: Date): string {
  const c = toBeijingCompact(date);
  return `${c.slice(0, 4)}-${c.slice(4, 6)}-${c.slice(6, 8)} ${c.slice(8, 10)}:${c.slice(10, 12)}:${c.slice(12, 14)}`;
}
