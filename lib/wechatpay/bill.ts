import { WechatError } from './errors';
import { fromBeijing } from './time';

/**
 * WeChat Pay's daily bill (/pay/downloadbill): a header line of column names, one line per
 * transaction with every field prefixed by a backtick, then a summary header and a summary line.
 * Amounts are yuan with two decimals. Columns are found by name, never by position: WeChat adds
 * columns over time (应结订单金额, 订单金额, 申请退款金额, 费率备注...).
 */

/** A bill that does not have WeChat's shape; `line` is 1-based (0: the bill as a whole). */
export class WechatBillError extends WechatError {
  constructor(message: string, readonly line: number) {
    super(line > 0 ? `bill line ${line}: ${message}` : `bill: ${message}`);
  }
}

/** One transaction of the bill: a payment (tradeState SUCCESS...) or a refund (tradeState REFUND). */
export interface BillRow {
  /** 1-based line number in the bill, for messages. */
  line: number;
  /** 交易时间, read as Beijing time. */
  tradeTime: Date;
  appId: string;
  mchId: string;
  subMchId: string;
  deviceInfo: string;
  /** 微信订单号 */
  transactionId: string;
  /** 商户订单号 */
  outTradeNo: string;
  /** 用户标识 */
  openid: string;
  tradeType: string;
  /** 交易状态: SUCCESS for a payment, REFUND for a refund line (REVOKED for a reversed micropay). */
  tradeState: string;
  bankType: string;
  feeType: string;
  /** 总金额, fen. */
  totalFee: number;
  /** 代金券或立减优惠金额, fen. */
  couponFee: number;
  /** 微信退款单号, empty (or "0") on a payment line. */
  refundId: string;
  /** 商户退款单号 */
  outRefundNo: string;
  /** 退款金额, fen. */
  refundFee: number;
  couponRefundFee: number;
  refundType: string;
  /** 退款状态: SUCCESS, PROCESSING, CHANGE, REFUNDCLOSE on a refund line. */
  refundStatus: string;
  /** 商品名称 */
  body: string;
  /** 商户数据包 */
  attach: string;
  /** 手续费, fen (negative on refund lines: the fee given back). */
  fee: number;
  /** 费率, as written ("0.60%"). */
  rate: string;
  /** Newer bills only: 应结订单金额, 订单金额, 申请退款金额 (fen), 费率备注. */
  settlementTotalFee?: number;
  orderFee?: number;
  appliedRefundFee?: number;
  rateNote?: string;
  /** Every cell by its column name, backtick removed: columns this parser does not know included. */
  cells: Record<string, string>;
}

export interface BillSummary {
  /** 总交易单数: payment and refund lines together. */
  totalCount: number;
  /** 应结订单总金额 (newer bills) or 总交易额 (legacy), fen. */
  settlementTotalFee: number;
  /** 退款总金额 / 总退款金额, fen. */
  refundTotalFee: number;
  /** 充值券退款总金额 / 总代金券或立减优惠退款金额, fen; 0 when absent. */
  couponRefundTotalFee: number;
  /** 手续费总金额, fen. */
  feeTotal: number;
  /** Newer bills only: 订单总金额, 申请退款总金额 (fen). */
  orderTotalFee?: number;
  appliedRefundTotalFee?: number;
  cells: Record<string, string>;
}

export interface Bill {
  columns: string[];
  rows: BillRow[];
  summary: BillSummary;
}

/** The columns a reconciliation cannot do without; any other column may be absent. */
const REQUIRED_COLUMNS = [
  '交易时间', '公众账号ID', '商户号', '微信订单号', '商户订单号', '交易状态', '总金额', '微信退款单号', '商户退款单号', '退款金额', '退款状态', '手续费',
];

/**
 * Yuan as WeChat writes it ("12.00", "0.01", "-0.07") to integer fen, by string arithmetic:
 * binary floating point cannot hold 0.01 exactly, and a bill must add up to the fen.
 */
export function yuanToFen(text: string): number {
  const m = /^(-?)(\d+)(?:\.(\d{1,2}))?$/.exec(text.trim());
  if (!m) throw new RangeError(`not an amount in yuan: "${text}"`);
  const [ , sign, whole, fraction = '' ] = m;
  const fen = Number(whole) * 100 + Number(fraction.padEnd(2, '0'));
  if (!Number.isSafeInteger(fen)) throw new RangeError(`amount out of range: "${text}"`);
  // "-0.00" is zero, not -0.
  return sign && fen !== 0 ? -fen : fen;
}

/** Integer fen as yuan with two decimals ("12.00", "0.01", "-0.07"), by integer arithmetic: yuanToFen's inverse. */
export function fenToYuan(fen: number): string {
  const abs = Math.abs(fen);
  return `${fen < 0 ? '-' : ''}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')}`;
}

/** Parses a bill's text (already gunzipped); throws WechatBillError on any line it cannot read. */
export function parseBill(text: string): Bill {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  // Trailing empty lines are the file's end; an empty line inside the bill is malformed.
  while (lines.length > 0 && lines[lines.length - 1].trim() === '') lines.pop();
  if (lines.length === 0) throw new WechatBillError('empty bill', 0);

  const columns = splitHeader(lines[0], 1);
  const missing = REQUIRED_COLUMNS.filter(name => !columns.includes(name));
  if (missing.length > 0) throw new WechatBillError(`header lacks column(s) ${missing.join(', ')}`, 1);

  const rows: BillRow[] = [];
  let n = 1;
  // Data lines start with a backtick; the first line that does not is the summary header.
  while (n < lines.length && lines[n].startsWith('`')) {
    rows.push(toRow(cellsByName(columns, lines[n], n + 1), n + 1));
    n++;
  }
  if (n >= lines.length) throw new WechatBillError('no summary: the bill ends after its transactions', lines.length);
  if (!lines[n].split(',').some(name => name.trim() === '总交易单数')) {
    throw new WechatBillError('expected a transaction line (backtick-prefixed fields) or the summary header (总交易单数,...)', n + 1);
  }
  const summaryColumns = splitHeader(lines[n], n + 1);
  if (n + 1 >= lines.length) throw new WechatBillError('summary header without a summary line', n + 1);
  if (!lines[n + 1].startsWith('`')) throw new WechatBillError('summary line must have backtick-prefixed fields', n + 2);
  const summary = toSummary(cellsByName(summaryColumns, lines[n + 1], n + 2), n + 2);
  if (n + 2 < lines.length) throw new WechatBillError('unexpected line after the summary', n + 3);
  if (summary.totalCount !== rows.length) {
    throw new WechatBillError(`summary counts ${summary.totalCount} transactions, the bill has ${rows.length}`, n + 2);
  }
  return { columns, rows, summary };
}

function splitHeader(line: string, lineNo: number): string[] {
  if (line.includes('`')) throw new WechatBillError('a header line has no backticks', lineNo);
  const names = line.split(',').map(name => name.trim());
  if (names.some(name => name === '')) throw new WechatBillError('empty column name in header', lineNo);
  if (new Set(names).size !== names.length) throw new WechatBillError('duplicate column name in header', lineNo);
  return names;
}

/**
 * Splits on ",`" rather than ",": a product name (商品名称) may itself contain a comma, while
 * every field starts with a backtick.
 */
function cellsByName(columns: string[], line: string, lineNo: number): Record<string, string> {
  const cells = line.slice(1).split(',`');
  if (cells.length !== columns.length) {
    throw new WechatBillError(`${cells.length} fields where the header has ${columns.length} columns`, lineNo);
  }
  const byName: Record<string, string> = {};
  columns.forEach((name, i) => { byName[name] = cells[i]; });
  return byName;
}

function toRow(cells: Record<string, string>, line: number): BillRow {
  const text = (name: string) => (cells[name] ?? '').trim();
  const amount = (name: string) => fen(cells, name, line);
  const optionalAmount = (name: string) => (name in cells && cells[name].trim() !== '' ? fen(cells, name, line) : undefined);
  const tradeTime = fromBeijing(text('交易时间'));
  if (!tradeTime) throw new WechatBillError(`交易时间 "${text('交易时间')}" is not yyyy-MM-dd HH:mm:ss`, line);
  for (const name of [ '微信订单号', '商户订单号', '交易状态' ]) {
    if (!text(name)) throw new WechatBillError(`${name} is empty`, line);
  }
  return {
    line,
    tradeTime,
    appId: text('公众账号ID'),
    mchId: text('商户号'),
    subMchId: text('子商户号'),
    deviceInfo: text('设备号'),
    transactionId: text('微信订单号'),
    outTradeNo: text('商户订单号'),
    openid: text('用户标识'),
    tradeType: text('交易类型'),
    tradeState: text('交易状态'),
    bankType: text('付款银行'),
    feeType: text('货币种类'),
    totalFee: amount('总金额'),
    couponFee: optionalAmount('代金券或立减优惠金额') ?? 0,
    refundId: text('微信退款单号'),
    outRefundNo: text('商户退款单号'),
    refundFee: amount('退款金额'),
    couponRefundFee: optionalAmount('代金券或立减优惠退款金额') ?? 0,
    refundType: text('退款类型'),
    refundStatus: text('退款状态'),
    body: text('商品名称'),
    attach: text('商户数据包'),
    fee: amount('手续费'),
    rate: text('费率'),
    settlementTotalFee: optionalAmount('应结订单金额'),
    orderFee: optionalAmount('订单金额'),
    appliedRefundFee: optionalAmount('申请退款金额'),
    rateNote: '费率备注' in cells ? text('费率备注') : undefined,
    cells,
  };
}

function toSummary(cells: Record<string, string>, line: number): BillSummary {
  // Legacy bills and newer ones name the same totals differently.
  const pick = (...names: string[]) => names.find(name => name in cells);
  const amount = (...names: string[]) => {
    const name = pick(...names);
    return name === undefined ? undefined : fen(cells, name, line);
  };
  const countText = cells['总交易单数'].trim();
  if (!/^\d+$/.test(countText)) throw new WechatBillError(`总交易单数 "${countText}" is not a count`, line);
  const settlementTotalFee = amount('应结订单总金额', '总交易额');
  const refundTotalFee = amount('退款总金额', '总退款金额');
  const feeTotal = amount('手续费总金额');
  if (settlementTotalFee === undefined || refundTotalFee === undefined || feeTotal === undefined) {
    throw new WechatBillError('summary lacks a total (应结订单总金额/总交易额, 退款总金额/总退款金额, 手续费总金额)', line - 1);
  }
  return {
    totalCount: Number(countText),
    settlementTotalFee,
    refundTotalFee,
    couponRefundTotalFee: amount('充值券退款总金额', '总代金券或立减优惠退款金额') ?? 0,
    feeTotal,
    orderTotalFee: amount('订单总金额'),
    appliedRefundTotalFee: amount('申请退款总金额'),
    cells,
  };
}

function fen(cells: Record<string, string>, name: string, line: number): number {
  try {
    return yuanToFen(cells[name] ?? '');
  } catch (err) {
    throw new WechatBillError(`${name}: ${(err as Error).message}`, line);
  }
}
