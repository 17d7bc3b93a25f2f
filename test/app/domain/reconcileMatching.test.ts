import assert from 'node:assert/strict';
import { compareWithBill, LocalRecords } from '../../../app/domain/reconcileMatching';
import { parseBill } from '../../../lib/wechatpay';

const tick = (cells: string[]) => cells.map(cell => `\`${cell}`).join(',');

/** A bill of one refund line, in WeChat's legacy columns (no 申请退款金额: before NO_CASH coupons). */
function legacyRefundBill(refund: string): string {
  return [
    '交易时间,公众账号ID,商户号,子商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,总金额,' +
      '代金券或立减优惠金额,微信退款单号,商户退款单号,退款金额,代金券或立减优惠退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率',
    tick([ '2026-11-23 12:00:00', 'wx0000000000000001', '1900000001', '0', '', '4200000000202611230000000001', 'P1', 'oUser1', 'JSAPI',
      'REFUND', 'CMB_DEBIT', 'CNY', '12.00', '0.00', '50000000002026112300000000001', 'R1', refund, '0.00', 'ORIGINAL', 'SUCCESS',
      'Coffee', '', '-0.04', '0.60%' ]),
    '总交易单数,总交易额,总退款金额,总代金券或立减优惠退款金额,手续费总金额',
    tick([ '1', '0.00', refund, '0.00', '-0.04' ]),
  ].join('\r\n') + '\r\n';
}

/**
 * A bill of one refund line in the newer columns: 退款金额 is what the settlement gives back (the
 * refund less its NO_CASH coupons' share), 申请退款金额 the refund_fee asked for.
 */
function newerRefundBill(settled: string, applied: string, coupons: string): string {
  return [
    '交易时间,公众账号ID,商户号,子商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,总金额,' +
      '代金券或立减优惠金额,微信退款单号,商户退款单号,退款金额,代金券或立减优惠退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,' +
      '应结订单金额,订单金额,申请退款金额,费率备注',
    tick([ '2026-11-23 12:00:00', 'wx0000000000000001', '1900000001', '0', '', '4200000000202611230000000001', 'P1', 'oUser1', 'JSAPI',
      'REFUND', 'CMB_DEBIT', 'CNY', '12.00', '0.00', '50000000002026112300000000001', 'R1', settled, coupons, 'ORIGINAL', 'SUCCESS',
      'Coffee', '', '-0.03', '0.60%', '0.00', '12.00', applied, '' ]),
    '总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额',
    tick([ '1', '0.00', settled, '0.00', '-0.03', '0.00', applied ]),
  ].join('\r\n') + '\r\n';
}

/** Our records: the one refund R1 of `amount` fen, asked for and succeeded that day. */
function ourRefund(amount: number): LocalRecords {
  return {
    payments: [],
    attemptsByOutTradeNo: new Map(),
    refunds: [{
      outRefundNo: 'R1', refundId: '50000000002026112300000000001', outTradeNo: 'P1', transactionId: '4200000000202611230000000001',
      amount, status: 'SUCCESS', createdAt: new Date('2026-11-23T04:00:00Z'), inDay: true,
    }],
  };
}

describe('domain/reconcileMatching: refunds', () => {
  it('a newer bill is matched on 申请退款金额, the refund_fee asked for, not on the settled 退款金额', () => {
    // 6.00 asked for on an order paid partly by a NO_CASH coupon: 0.50 of it goes back to the coupon.
    const comparison = compareWithBill(parseBill(newerRefundBill('5.50', '6.00', '1.50')), ourRefund(600));
    assert.deepEqual(comparison.discrepancies, []);
    assert.equal(comparison.bill!.refundTotal, 600);
    assert.equal(comparison.local.refundTotal, 600);
  });

  it('a newer bill whose amount asked for differs from ours is AMOUNT_MISMATCH, even where the settled amount would agree', () => {
    const comparison = compareWithBill(parseBill(newerRefundBill('5.50', '6.00', '1.50')), ourRefund(550));
    assert.deepEqual(comparison.discrepancies.map(d => [ d.kind, d.subject, d.outRefundNo, d.wechat?.amount, d.ours?.amount ]),
      [[ 'AMOUNT_MISMATCH', 'REFUND', 'R1', 600, 550 ]]);
    assert.equal(comparison.discrepancies[0].message, 'refund R1: WeChat refunded 6.00 yuan, we recorded 5.50 yuan');
  });

  it('a legacy bill, which has no 申请退款金额, is matched on 退款金额', () => {
    assert.deepEqual(compareWithBill(parseBill(legacyRefundBill('6.00')), ourRefund(600)).discrepancies, []);
    const mismatch = compareWithBill(parseBill(legacyRefundBill('6.00')), ourRefund(599));
    assert.deepEqual(mismatch.discrepancies.map(d => [ d.kind, d.wechat?.amount, d.ours?.amount ]), [[ 'AMOUNT_MISMATCH', 600, 599 ]]);
    assert.equal(mismatch.bill!.refundTotal, 600);
  });

  it('a refund line we have no refund for names the amount asked for', () => {
    const comparison = compareWithBill(parseBill(newerRefundBill('5.50', '6.00', '1.50')), { ...ourRefund(600), refunds: [] });
    assert.deepEqual(comparison.discrepancies.map(d => [ d.kind, d.subject, d.wechat?.amount ]), [[ 'MISSING_LOCAL', 'REFUND', 600 ]]);
    assert.match(comparison.discrepancies[0].message, /^WeChat refunded 6\.00 yuan of P1 as R1 \(line 2\); we have no such refund$/);
  });
});
