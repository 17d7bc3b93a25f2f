import assert from 'node:assert/strict';
import { parseBill, WechatBillError, yuanToFen } from '../../../lib/wechatpay';

const LEGACY_HEADER = '交易时间,公众账号ID,商户号,子商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,总金额,' +
  '代金券或立减优惠金额,微信退款单号,商户退款单号,退款金额,代金券或立减优惠退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率';
const LEGACY_SUMMARY_HEADER = '总交易单数,总交易额,总退款金额,总代金券或立减优惠退款金额,手续费总金额';

const tick = (cells: string[]) => cells.map(cell => `\`${cell}`).join(',');

/** WeChat's legacy ALL bill: a payment, a refund of part of it, CRLF line ends. */
const LEGACY_BILL = [
  LEGACY_HEADER,
  tick([ '2014-11-10 16:33:45', 'wx2421b1c4370ec43b', '10000100', '0', '1000', '1001690740201411100005734289', '1415640626',
    'oUpF8uN95-Ptaags6E_roPHg7AG0', 'JSAPI', 'SUCCESS', 'CMC', 'CNY', '0.01', '0.00', '0', '0', '0', '0', '', '', '被扫支付测试', '订单额外描述',
    '0.00', '0.60%' ]),
  tick([ '2014-11-10 23:59:59', 'wx2421b1c4370ec43b', '10000100', '0', '1000', '1001690740201411100005734289', '1415640626',
    'oUpF8uN95-Ptaags6E_roPHg7AG0', 'JSAPI', 'REFUND', 'CMC', 'CNY', '0.01', '0.00', '2008450740201411110000174436', '1415701182',
    '0.01', '0.00', 'ORIGINAL', 'SUCCESS', '被扫支付测试', '订单额外描述', '0.00', '0.60%' ]),
  LEGACY_SUMMARY_HEADER,
  tick([ '2', '0.01', '0.01', '0.00', '0.00' ]),
].join('\r\n') + '\r\n';

/**
 * A newer bill: the extra columns WeChat added, plus one nobody knows yet, in an order unlike
 * the legacy one: only names can find the fields.
 */
const NEWER_HEADER = [
  '商户订单号', '交易时间', '公众账号ID', '商户号', '子商户号', '设备号', '微信订单号', '用户标识', '交易类型', '交易状态', '付款银行', '货币种类',
  '应结订单金额', '代金券金额', '微信退款单号', '商户退款单号', '退款金额', '充值券退款金额', '退款类型', '退款状态', '商品名称', '商户数据包',
  '手续费', '费率', '订单金额', '申请退款金额', '费率备注', '总金额', '未来的新列',
];
function newerLine(v: Record<string, string>): string {
  const base: Record<string, string> = {
    商户订单号: 'P20261123091500ab12cd34ef56ab78', 交易时间: '2026-11-23 00:00:00', 公众账号ID: 'wx0000000000000001', 商户号: '1900000001',
    子商户号: '0', 设备号: '', 微信订单号: '4200000000202611230000000001', 用户标识: 'oUser1', 交易类型: 'JSAPI', 交易状态: 'SUCCESS',
    付款银行: 'CMB_DEBIT', 货币种类: 'CNY', 应结订单金额: '1234567.89', 代金券金额: '0.00', 微信退款单号: '0', 商户退款单号: '0',
    退款金额: '0.00', 充值券退款金额: '0.00', 退款类型: '', 退款状态: '', 商品名称: 'Coffee x2, large', 商户数据包: '', 手续费: '7407.41',
    费率: '0.60%', 订单金额: '1234567.89', 申请退款金额: '0.00', 费率备注: '', 总金额: '1234567.89', 未来的新列: 'whatever',
  };
  return tick(NEWER_HEADER.map(name => v[name] ?? base[name]));
}
const NEWER_SUMMARY_HEADER = '总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额';
const NEWER_BILL = [
  NEWER_HEADER.join(','),
  newerLine({}),
  newerLine({
    交易时间: '2026-11-23 23:59:59', 交易状态: 'REFUND', 应结订单金额: '0.00', 微信退款单号: '50000000002026112300000000001',
    商户退款单号: 'R20261123000001', 退款金额: '1.10', 退款类型: 'ORIGINAL', 退款状态: 'PROCESSING', 手续费: '-0.01', 申请退款金额: '1.10',
  }),
  NEWER_SUMMARY_HEADER,
  tick([ '2', '1234567.89', '1.10', '0.00', '7407.40', '1234567.89', '1.10' ]),
].join('\n');

function billError(fn: () => unknown): WechatBillError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof WechatBillError, `expected a WechatBillError, got ${err}`);
    return err;
  }
  assert.fail('expected the bill to be refused');
}

describe('lib/wechatpay bill', () => {
  describe('yuanToFen', () => {
    it('converts exactly, where floating point would not (1.10 * 100 = 110.00000000000001)', () => {
      assert.equal(yuanToFen('0.01'), 1);
      assert.equal(yuanToFen('0.10'), 10);
      assert.equal(yuanToFen('1.10'), 110);
      assert.equal(yuanToFen('0.29'), 29);
      assert.equal(yuanToFen('1.15'), 115);
      assert.equal(yuanToFen('1234567.89'), 123456789);
      assert.equal(yuanToFen('12.00'), 1200);
      assert.equal(yuanToFen('0.00'), 0);
    });

    it('accepts whole yuan and one decimal', () => {
      assert.equal(yuanToFen('12'), 1200);
      assert.equal(yuanToFen('1.1'), 110);
    });

    it('keeps the sign of negative amounts (refund fees), and -0.00 is 0', () => {
      assert.equal(yuanToFen('-0.01'), -1);
      assert.equal(yuanToFen('-1234567.89'), -123456789);
      assert.ok(Object.is(yuanToFen('-0.00'), 0));
    });

    it('refuses anything that is not yuan with at most two decimals', () => {
      for (const bad of [ '', ' ', '1.234', '1.', '.5', '+1.00', '1,000.00', 'abc', '1e3', '0x10', 'NaN', '--1', '1.0.0' ]) {
        assert.throws(() => yuanToFen(bad), RangeError, bad);
      }
    });

    it('refuses amounts beyond exact integers', () => {
      assert.throws(() => yuanToFen('999999999999999999.99'), RangeError);
    });
  });

  describe('parseBill: legacy format', () => {
    it('reads the rows by column name, amounts in fen, times as UTC', () => {
      const bill = parseBill(LEGACY_BILL);
      assert.equal(bill.columns.length, 24);
      assert.equal(bill.rows.length, 2);
      const [ payment, refund ] = bill.rows;
      assert.equal(payment.line, 2);
      assert.equal(payment.tradeTime.toISOString(), '2014-11-10T08:33:45.000Z');
      assert.equal(payment.appId, 'wx2421b1c4370ec43b');
      assert.equal(payment.mchId, '10000100');
      assert.equal(payment.deviceInfo, '1000');
      assert.equal(payment.transactionId, '1001690740201411100005734289');
      assert.equal(payment.outTradeNo, '1415640626');
      assert.equal(payment.openid, 'oUpF8uN95-Ptaags6E_roPHg7AG0');
      assert.equal(payment.tradeType, 'JSAPI');
      assert.equal(payment.tradeState, 'SUCCESS');
      assert.equal(payment.bankType, 'CMC');
      assert.equal(payment.feeType, 'CNY');
      assert.equal(payment.totalFee, 1);
      assert.equal(payment.refundFee, 0);
      assert.equal(payment.body, '被扫支付测试');
      assert.equal(payment.attach, '订单额外描述');
      assert.equal(payment.fee, 0);
      assert.equal(payment.rate, '0.60%');
      assert.equal(payment.settlementTotalFee, undefined);
      assert.equal(payment.rateNote, undefined);

      assert.equal(refund.tradeTime.toISOString(), '2014-11-10T15:59:59.000Z');
      assert.equal(refund.tradeState, 'REFUND');
      assert.equal(refund.refundId, '2008450740201411110000174436');
      assert.equal(refund.outRefundNo, '1415701182');
      assert.equal(refund.refundFee, 1);
      assert.equal(refund.refundType, 'ORIGINAL');
      assert.equal(refund.refundStatus, 'SUCCESS');
    });

    it('reads the legacy summary names (总交易额, 总退款金额, 总代金券或立减优惠退款金额)', () => {
      assert.deepEqual({ ...parseBill(LEGACY_BILL).summary, cells: undefined }, {
        totalCount: 2, settlementTotalFee: 1, refundTotalFee: 1, couponRefundTotalFee: 0, feeTotal: 0,
        orderTotalFee: undefined, appliedRefundTotalFee: undefined, cells: undefined,
      });
    });

    it('accepts a UTF-8 BOM and a bill without a final line break', () => {
      assert.equal(parseBill(`\uFEFF${LEGACY_BILL.trimEnd()}`).rows.length, 2);
    });
  });

  describe('parseBill: newer format with extra columns', () => {
    it('finds every field by name whatever the order, and keeps unknown columns', () => {
      const bill = parseBill(NEWER_BILL);
      const [ payment, refund ] = bill.rows;
      assert.equal(payment.outTradeNo, 'P20261123091500ab12cd34ef56ab78');
      assert.equal(payment.transactionId, '4200000000202611230000000001');
      assert.equal(payment.tradeTime.toISOString(), '2026-11-22T16:00:00.000Z');
      assert.equal(payment.totalFee, 123456789);
      assert.equal(payment.settlementTotalFee, 123456789);
      assert.equal(payment.orderFee, 123456789);
      assert.equal(payment.appliedRefundFee, 0);
      assert.equal(payment.fee, 740741);
      assert.equal(payment.rateNote, '');
      assert.equal(payment.cells['未来的新列'], 'whatever');
      // A comma inside a field is not a separator: fields start with a backtick.
      assert.equal(payment.body, 'Coffee x2, large');

      assert.equal(refund.tradeTime.toISOString(), '2026-11-23T15:59:59.000Z');
      assert.equal(refund.refundFee, 110);
      assert.equal(refund.refundStatus, 'PROCESSING');
      assert.equal(refund.fee, -1);
    });

    it('reads the newer summary names', () => {
      const { cells, ...summary } = parseBill(NEWER_BILL).summary;
      assert.deepEqual(summary, {
        totalCount: 2, settlementTotalFee: 123456789, refundTotalFee: 110, couponRefundTotalFee: 0, feeTotal: 740740,
        orderTotalFee: 123456789, appliedRefundTotalFee: 110,
      });
      assert.equal(cells['总交易单数'], '2');
    });

    it('a bill with no transactions still has its header and summary', () => {
      const bill = parseBill([ NEWER_HEADER.join(','), NEWER_SUMMARY_HEADER, tick([ '0', '0.00', '0.00', '0.00', '0.00', '0.00', '0.00' ]) ].join('\n'));
      assert.deepEqual(bill.rows, []);
      assert.equal(bill.summary.totalCount, 0);
    });
  });

  describe('parseBill: malformed bills are refused, naming the line', () => {
    const legacy = LEGACY_BILL.trimEnd().split('\r\n');
    const withLine = (n: number, line: string) => legacy.map((l, i) => (i === n - 1 ? line : l)).join('\n');

    it('an empty text', () => {
      const err = billError(() => parseBill('\r\n\r\n'));
      assert.equal(err.line, 0);
      assert.match(err.message, /empty bill/);
    });

    it('a header without a needed column', () => {
      const err = billError(() => parseBill(withLine(1, LEGACY_HEADER.replace('退款金额,', '退款额,'))));
      assert.equal(err.line, 1);
      assert.match(err.message, /退款金额/);
    });

    it('a header with backticks', () => {
      assert.equal(billError(() => parseBill(withLine(1, tick(LEGACY_HEADER.split(','))))).line, 1);
    });

    it('a header with a duplicate column', () => {
      assert.equal(billError(() => parseBill(withLine(1, `${LEGACY_HEADER},手续费`))).line, 1);
    });

    it('a transaction line with a field missing', () => {
      const err = billError(() => parseBill(withLine(3, legacy[2].replace(',`ORIGINAL', ''))));
      assert.equal(err.line, 3);
      assert.match(err.message, /23 fields where the header has 24 columns/);
    });

    it('a transaction line with an unreadable amount', () => {
      const err = billError(() => parseBill(withLine(2, legacy[1].replace('`0.01', '`0.011'))));
      assert.equal(err.line, 2);
      assert.match(err.message, /总金额/);
    });

    it('a transaction line with an unreadable time', () => {
      const err = billError(() => parseBill(withLine(2, legacy[1].replace('2014-11-10 16:33:45', '2014/11/10 16:33:45'))));
      assert.equal(err.line, 2);
      assert.match(err.message, /交易时间/);
    });

    it('a transaction line without its order numbers', () => {
      const err = billError(() => parseBill(withLine(2, legacy[1].replace('`1415640626', '`'))));
      assert.equal(err.line, 2);
      assert.match(err.message, /商户订单号 is empty/);
    });

    it('a line without backticks among the transactions', () => {
      const err = billError(() => parseBill(withLine(2, legacy[1].replace(/`/g, ''))));
      assert.equal(err.line, 2);
      assert.match(err.message, /summary header/);
    });

    it('an empty line inside the bill', () => {
      assert.equal(billError(() => parseBill(withLine(3, ''))).line, 3);
    });

    it('no summary at all', () => {
      const err = billError(() => parseBill(legacy.slice(0, 3).join('\n')));
      assert.match(err.message, /no summary/);
    });

    it('a summary header without its line', () => {
      assert.equal(billError(() => parseBill(legacy.slice(0, 4).join('\n'))).line, 4);
    });

    it('a summary whose count disagrees with the transactions', () => {
      const err = billError(() => parseBill(withLine(5, tick([ '3', '0.01', '0.01', '0.00', '0.00' ]))));
      assert.equal(err.line, 5);
      assert.match(err.message, /counts 3 transactions, the bill has 2/);
    });

    it('a summary without a total', () => {
      assert.ok(billError(() => parseBill([ ...legacy.slice(0, 3), '总交易单数,总退款金额', tick([ '2', '0.01' ]) ].join('\n'))));
    });

    it('lines after the summary', () => {
      assert.equal(billError(() => parseBill(`${legacy.join('\n')}\n${legacy[1]}`)).line, 6);
    });
  });
});
