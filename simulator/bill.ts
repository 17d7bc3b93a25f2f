import { gzipSync } from 'node:zlib';
import { beijingDay, buildXml, fenToYuan, fromBeijing, toBeijingCompact } from '../lib/wechatpay';
import { Credentials } from './credentials';
import { openPayRequest } from './envelope';
import { SimRequest, SimResponse, xmlResponse } from './http';
import { dashedBeijing } from './refund';
import { OrderBook } from './state';
import { paymentAmounts, SimOrder, SimRefund } from './types';

const DAY_MS = 24 * 3600 * 1000;
/** Yesterday's bill is ready at 10:00 Beijing time; bills are kept about 3 months. */
const BILL_READY_HOUR = 10;
const BILL_KEPT_DAYS = 92;
const FEE_RATE = 0.006;

// The legacy columns, then the ones newer bills add: merchants must find columns by name.
const COLUMNS = [
  '交易时间', '公众账号ID', '商户号', '子商户号', '设备号', '微信订单号', '商户订单号', '用户标识', '交易类型', '交易状态',
  '付款银行', '货币种类', '总金额', '代金券或立减优惠金额', '微信退款单号', '商户退款单号', '退款金额', '代金券或立减优惠退款金额',
  '退款类型', '退款状态', '商品名称', '商户数据包', '手续费', '费率', '应结订单金额', '订单金额', '申请退款金额', '费率备注',
];
const SUMMARY_COLUMNS = [ '总交易单数', '应结订单总金额', '退款总金额', '充值券退款总金额', '手续费总金额', '订单总金额', '申请退款总金额' ];

/** POST /pay/downloadbill: one merchant's transactions of one Beijing day, amounts in yuan. */
export class BillApi {
  constructor(private readonly credentials: Credentials, private readonly orders: OrderBook, private readonly now: () => Date) {}

  downloadBill(req: SimRequest): SimResponse {
    const opened = openPayRequest(req, this.credentials);
    if (!opened.request) return opened.response;
    const p = opened.request.params;
    const billType = p.bill_type || 'ALL';
    if (!p.bill_date || !/^\d{8}$/.test(p.bill_date) || !fromBeijing(`${p.bill_date}000000`)) return billError('invalid bill_date', '20001');
    if (![ 'ALL', 'SUCCESS', 'REFUND' ].includes(billType)) return billError('invalid bill_type', '20001');
    if (p.tar_type && p.tar_type !== 'GZIP') return billError('invalid tar_type', '20001');

    const now = this.now();
    const today = beijingDay(now);
    const yesterday = beijingDay(new Date(now.getTime() - DAY_MS));
    if (p.bill_date > today) return billError('invalid bill_date', '20001');
    if (p.bill_date === today || (p.bill_date === yesterday && Number(toBeijingCompact(now).slice(8, 10)) < BILL_READY_HOUR)) {
      return billError('Bill Creating', '20003');
    }
    if (p.bill_date < beijingDay(new Date(now.getTime() - BILL_KEPT_DAYS * DAY_MS))) return billError('No Bill Exist', '20002');

    const mine = this.orders.all().filter(o => o.mchId === opened.request.merchant.mchId);
    const payments = billType === 'REFUND' ? [] : mine.filter(o => o.paidAt && beijingDay(o.paidAt) === p.bill_date);
    const refunds = billType === 'SUCCESS' ? [] : mine.flatMap(o =>
      o.refunds.filter(r => beijingDay(r.createdAt) === p.bill_date).map(r => ({ order: o, refund: r })));
    if (payments.length === 0 && refunds.length === 0) return billError('No Bill Exist', '20002');

    const text = renderBill(payments, refunds);
    if (p.tar_type === 'GZIP') return { status: 200, contentType: 'application/x-gzip', body: gzipSync(Buffer.from(text, 'utf8')) };
    return { status: 200, contentType: 'text/plain; charset=utf-8', body: text };
  }
}

function renderBill(payments: SimOrder[], refunds: Array<{ order: SimOrder; refund: SimRefund }>): string {
  const rows: Array<{ at: Date; cells: string[] }> = [];
  let paid = 0;
  let refunded = 0;
  let applied = 0;
  let rechargeCouponsRefunded = 0;
  let fees = 0;
  let ordered = 0;
  for (const o of payments) {
    // 总金额 (legacy name) and 应结订单金额 are the settled amount: the order's less its NO_CASH
    // coupons; 订单金额 is the order's total_fee; the coupon column holds every coupon.
    const { couponFee, settlementTotalFee } = paymentAmounts(o);
    const fee = feeOf(settlementTotalFee);
    paid += settlementTotalFee;
    ordered += o.totalFee;
    fees += fee;
    rows.push({ at: o.paidAt!, cells: [
      ...orderCells(o, o.paidAt!), 'SUCCESS', o.bankType ?? '', 'CNY', fenToYuan(settlementTotalFee), fenToYuan(couponFee), '0', '0', '0.00', '0.00', '', '',
      o.params.body ?? '', o.attach ?? '', fenToYuan(fee), rate(), fenToYuan(settlementTotalFee), fenToYuan(o.totalFee), '0.00', '',
    ] });
  }
  for (const { order: o, refund: r } of refunds) {
    // 退款金额 is what the settlement gives back (the refund less its NO_CASH coupons' share); 申请退款金额
    // is the refund_fee asked for; the coupon column holds every coupon's share.
    const fee = -feeOf(r.settlementRefundFee);
    refunded += r.settlementRefundFee;
    applied += r.refundFee;
    // CASH coupons are the pre-funded (充值) kind: their share is the coupons' less the NO_CASH ones'.
    rechargeCouponsRefunded += r.couponRefundFee - (r.refundFee - r.settlementRefundFee);
    fees += fee;
    rows.push({ at: r.createdAt, cells: [
      ...orderCells(o, r.createdAt), 'REFUND', o.bankType ?? '', 'CNY', fenToYuan(o.totalFee), '0.00', r.refundId, r.outRefundNo,
      fenToYuan(r.settlementRefundFee), fenToYuan(r.couponRefundFee), 'ORIGINAL', r.status, o.params.body ?? '', o.attach ?? '', fenToYuan(fee), rate(),
      '0.00', fenToYuan(o.totalFee), fenToYuan(r.refundFee), '',
    ] });
  }
  rows.sort((a, b) => a.at.getTime() - b.at.getTime());
  const lines = [
    COLUMNS.join(','),
    ...rows.map(row => row.cells.map(cell => `\`${cell}`).join(',')),
    SUMMARY_COLUMNS.join(','),
    [ rows.length, fenToYuan(paid), fenToYuan(refunded), fenToYuan(rechargeCouponsRefunded), fenToYuan(fees), fenToYuan(ordered), fenToYuan(applied) ]
      .map(cell => `\`${cell}`).join(','),
  ];
  return `${lines.join('\r\n')}\r\n`;
}

function orderCells(o: SimOrder, at: Date): string[] {
  return [ dashedBeijing(at), o.appId, o.mchId, '0', o.params.device_info ?? '', o.transactionId ?? '', o.outTradeNo, o.openid, o.tradeType ];
}

/** WeChat's 0.6% fee, rounded to the fen. */
function feeOf(fen: number): number {
  return Math.round(fen * FEE_RATE);
}

function rate(): string {
  return `${(FEE_RATE * 100).toFixed(2)}%`;
}

/** Bill errors are unsigned XML with an error_code, never a bill. */
function billError(returnMsg: string, errorCode: string): SimResponse {
  return xmlResponse(buildXml({ return_code: 'FAIL', return_msg: returnMsg, error_code: errorCode }));
}
