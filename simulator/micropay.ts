import { randomInt } from 'node:crypto';
import { OUT_TRADE_NO_PATTERN, MICROPAY_AUTH_CODE_PATTERN, parseXml, toBeijingCompact } from '../lib/wechatpay';
import { Credentials } from './credentials';
import { openPayRequest, PayRequest, resultFail, resultSuccess, returnFail } from './envelope';
import { SimRequest, SimResponse } from './http';
import { randomOpenid } from './ids';
import { OrderBook } from './state';
import { SimOrder } from './types';
import { byteLength, firstMissing, isFen, isIpAddress } from './validate';

/** A payment code refreshes every minute in the payer's app; the simulator is more lenient. */
export const PAYMENT_CODE_TTL_MS = 5 * 60 * 1000;
/** WeChat refuses to reverse an order older than 7 days. */
const REVERSE_WINDOW_MS = 7 * 24 * 3600 * 1000;

/** Failures a payment code can be made to produce at /pay/micropay (channels doc §5). */
export const MICROPAY_FAILURES = {
  AUTHCODEEXPIRE: '二维码已过期，请用户在微信上刷新后再试',
  AUTH_CODE_INVALID: '请扫描微信支付授权码(以10/11/12/13/14/15为前缀的18位数字)',
  NOTENOUGH: '用户余额不足',
  NOTSUPORTCARD: '不支持卡类型',
} as const;
export type MicropayFailure = keyof typeof MICROPAY_FAILURES;

/** How the payer behind a payment code behaves when the cashier scans it. */
export interface PaymentCodeOptions {
  openid?: string;
  /**
   * 'pay' (default): paid at once. 'password': micropay answers USERPAYING and the payer enters the
   * password after `passwordAfterQueries` order queries (never when unset, until confirmPassword).
   * A failure code: micropay refuses with it (NOTENOUGH leaves the order PAYERROR).
   */
  behaviour?: 'pay' | 'password' | MicropayFailure;
  passwordAfterQueries?: number;
  /** What entering the password leads to (default SUCCESS). */
  passwordResult?: 'SUCCESS' | 'FAIL';
  /** The payment goes through (or fails) as above, but micropay answers this instead: the outcome is then only known by query. */
  replyError?: 'SYSTEMERROR' | 'BANKERROR';
  /** Reverse of this payment answers recall=Y this many times before it succeeds. */
  reverseRecalls?: number;
}

interface PaymentCode extends PaymentCodeOptions {
  code: string;
  openid: string;
  expiresAt: Date;
  used: boolean;
}

/** What the simulator remembers of a payment-code order beyond SimOrder. */
interface MicropayState {
  code: PaymentCode;
  queriesLeft?: number;
  recallsLeft: number;
}

/** Payment codes for test payers, /pay/micropay and /secapi/pay/reverse. */
export class MicropayApi {
  private readonly codes = new Map<string, PaymentCode>();
  private readonly states = new Map<string, MicropayState>();

  constructor(
    private readonly credentials: Credentials,
    private readonly orders: OrderBook,
    private readonly now: () => Date,
  ) {}

  /** A fresh payment code (18 digits starting 13), as the payer's app shows it. */
  issueCode(options: PaymentCodeOptions = {}): { authCode: string; openid: string; expiresAt: Date } {
    const behaviour = options.behaviour ?? 'pay';
    if (behaviour !== 'pay' && behaviour !== 'password' && !(behaviour in MICROPAY_FAILURES)) throw new Error(`unknown behaviour ${String(behaviour)}`);
    for (const name of [ 'passwordAfterQueries', 'reverseRecalls' ] as const) {
      const value = options[name];
      if (value !== undefined && !(Number.isSafeInteger(value) && value >= 0)) throw new Error(`${name} must be a whole number`);
    }
    if (options.replyError !== undefined && options.replyError !== 'SYSTEMERROR' && options.replyError !== 'BANKERROR') {
      throw new Error('replyError must be SYSTEMERROR or BANKERROR');
    }
    if (options.passwordResult !== undefined && options.passwordResult !== 'SUCCESS' && options.passwordResult !== 'FAIL') {
      throw new Error('passwordResult must be SUCCESS or FAIL');
    }
    let code: string;
    do code = `13${String(randomInt(10 ** 8)).padStart(8, '0')}${String(randomInt(10 ** 8)).padStart(8, '0')}`; while (this.codes.has(code));
    const entry: PaymentCode = {
      ...options, behaviour, code, openid: options.openid ?? randomOpenid(), expiresAt: new Date(this.now().getTime() + PAYMENT_CODE_TTL_MS), used: false,
    };
    this.codes.set(code, entry);
    return { authCode: code, openid: entry.openid, expiresAt: entry.expiresAt };
  }

  /** The payer enters (or gives up on) the password of an order waiting in USERPAYING. */
  confirmPassword(outTradeNo: string, result: 'SUCCESS' | 'FAIL' = 'SUCCESS'): SimOrder {
    const order = this.orders.find(outTradeNo);
    if (!order || order.tradeState !== 'USERPAYING') throw new Error(`order ${outTradeNo} is not waiting for a password`);
    this.finish(order, result);
    return order;
  }

  /** Called before each order query: a payer waiting for the password may have entered it by now. */
  beforeQuery(req: SimRequest): void {
    let params: Record<string, string>;
    try {
      params = parseXml(req.body, { maxBytes: 64 * 1024 });
    } catch {
      return;
    }
    const order = params.out_trade_no && params.mch_id ? this.orders.get(params.mch_id, params.out_trade_no) : undefined;
    const state = order && this.states.get(stateKey(order));
    if (!order || !state || order.tradeState !== 'USERPAYING' || state.queriesLeft === undefined) return;
    if (state.queriesLeft <= 0) this.finish(order, state.code.passwordResult ?? 'SUCCESS');
    else state.queriesLeft -= 1;
  }

  /** POST /pay/micropay */
  micropay(req: SimRequest, credentials = this.credentials): SimResponse {
    const opened = openPayRequest(req, credentials);
    if (!opened.request) return opened.response;
    const request = opened.request;
    const p = request.params;
    const missing = firstMissing(p, [ 'body', 'out_trade_no', 'total_fee', 'spbill_create_ip', 'auth_code' ]);
    if (missing) return resultFail(request, missing.errCode, missing.errCodeDes);
    if (!OUT_TRADE_NO_PATTERN.test(p.out_trade_no)) return resultFail(request, 'PARAM_ERROR', 'out_trade_no参数格式错误');
    if (!isFen(p.total_fee)) return resultFail(request, 'PARAM_ERROR', 'total_fee参数格式错误');
    if (byteLength(p.body) > 128) return resultFail(request, 'PARAM_ERROR', 'body参数长度有误');
    if (!isIpAddress(p.spbill_create_ip)) return resultFail(request, 'PARAM_ERROR', 'spbill_create_ip参数格式错误');
    if (p.scene_info && !validSceneInfo(p.scene_info)) return resultFail(request, 'PARAM_ERROR', 'scene_info参数格式错误');

    const existing = this.orders.get(request.merchant.mchId, p.out_trade_no);
    if (existing) {
      if (existing.tradeState === 'SUCCESS' || existing.tradeState === 'REFUND') return resultFail(request, 'ORDERPAID', '订单已支付');
      if (existing.tradeState === 'REVOKED') return resultFail(request, 'ORDERREVERSED', '订单已撤销');
      if (existing.tradeState === 'CLOSED') return resultFail(request, 'ORDERCLOSED', '订单已关闭');
      if (existing.tradeState === 'USERPAYING') return resultFail(request, 'USERPAYING', '需要用户输入支付密码');
      return resultFail(request, 'OUT_TRADE_NO_USED', '商户订单号重复');
    }
    if (!MICROPAY_AUTH_CODE_PATTERN.test(p.auth_code)) return resultFail(request, 'AUTH_CODE_INVALID', MICROPAY_FAILURES.AUTH_CODE_INVALID);
    const code = this.codes.get(p.auth_code);
    if (!code || code.used) return resultFail(request, 'AUTH_CODE_INVALID', '每个二维码仅限使用一次，请刷新再试');
    const now = this.now();
    if (now >= code.expiresAt) return resultFail(request, 'AUTHCODEEXPIRE', MICROPAY_FAILURES.AUTHCODEEXPIRE);
    if (code.behaviour === 'AUTHCODEEXPIRE' || code.behaviour === 'AUTH_CODE_INVALID') {
      return resultFail(request, code.behaviour, MICROPAY_FAILURES[code.behaviour]);
    }
    code.used = true;

    const order: SimOrder = {
      mchId: request.merchant.mchId,
      appId: request.appId,
      outTradeNo: p.out_trade_no,
      params: { ...p, trade_type: 'MICROPAY' },
      tradeType: 'MICROPAY',
      signType: request.signType,
      notifyUrl: '',
      totalFee: Number(p.total_fee),
      openid: code.openid,
      attach: p.attach || undefined,
      // No prepay: the payer's page never offers it, only the cashier's scan pays it.
      prepayId: '',
      prepayExpiresAt: now,
      tradeState: 'USERPAYING',
      createdAt: now,
      refunds: [],
    };
    this.orders.add(order);
    const state: MicropayState = { code, queriesLeft: code.passwordAfterQueries, recallsLeft: code.reverseRecalls ?? 0 };
    this.states.set(stateKey(order), state);

    if (code.behaviour === 'NOTENOUGH' || code.behaviour === 'NOTSUPORTCARD') {
      this.finish(order, 'FAIL', code.behaviour);
      return code.replyError ? this.busy(request, code.replyError) : resultFail(request, code.behaviour, MICROPAY_FAILURES[code.behaviour]);
    }
    if (code.behaviour === 'password') {
      return code.replyError ? this.busy(request, code.replyError) : resultFail(request, 'USERPAYING', '需要用户输入支付密码');
    }
    this.finish(order, 'SUCCESS');
    if (code.replyError) return this.busy(request, code.replyError);
    return resultSuccess(request, this.paidFields(order));
  }

  /** POST /secapi/pay/reverse: the merchant's client certificate, then the order; recall=Y while WeChat wants another call. */
  reverse(req: SimRequest, credentials = this.credentials): SimResponse {
    if (!req.clientCertCN) return returnFail('证书错误：请使用商户证书（apiclient_cert）调用撤销接口');
    const opened = openPayRequest(req, credentials);
    if (!opened.request) return opened.response;
    const request = opened.request;
    if (req.clientCertCN !== request.merchant.mchId) return returnFail('证书错误：证书与商户号不匹配');
    const p = request.params;
    if (!p.transaction_id && !p.out_trade_no) return resultFail(request, 'LACK_PARAMS', '缺少参数out_trade_no或transaction_id');
    const found = p.transaction_id
      ? this.orders.getByTransactionId(request.merchant.mchId, p.transaction_id)
      : this.orders.get(request.merchant.mchId, p.out_trade_no);
    const order = found && found.appId === request.appId ? found : undefined;
    if (!order) return resultFail(request, 'ORDERNOTEXIST', '订单不存在', { recall: 'N' });
    const state = this.states.get(stateKey(order));
    if (state && state.recallsLeft > 0) {
      state.recallsLeft -= 1;
      return resultFail(request, 'SYSTEMERROR', '系统超时，请重新调用撤销', { recall: 'Y' });
    }
    if (this.now().getTime() - order.createdAt.getTime() > REVERSE_WINDOW_MS) {
      return resultFail(request, 'REVERSE_EXPIRE', '订单已超过撤销期限', { recall: 'N' });
    }
    if (order.tradeState === 'REFUND') return resultFail(request, 'TRADE_STATE_ERROR', '订单已发生退款，不能撤销', { recall: 'N' });
    if (order.tradeState !== 'REVOKED') {
      // Paid: the money goes back to the payer. Unpaid: the order can never be paid.
      order.tradeState = 'REVOKED';
      order.closedAt = this.now();
    }
    return resultSuccess(request, { recall: 'N' });
  }

  reset(): void {
    this.codes.clear();
    this.states.clear();
  }

  private finish(order: SimOrder, result: 'SUCCESS' | 'FAIL', errCode = 'NOTENOUGH'): void {
    const now = this.now();
    order.timeEnd = toBeijingCompact(now);
    order.bankType = 'OTHERS';
    if (result === 'SUCCESS') {
      order.tradeState = 'SUCCESS';
      order.paidAt = now;
      this.orders.assignTransactionId(order);
    } else {
      order.tradeState = 'PAYERROR';
      order.payError = { errCode, errCodeDes: errCode in MICROPAY_FAILURES ? MICROPAY_FAILURES[errCode as MicropayFailure] : '支付失败' };
    }
  }

  private busy(request: PayRequest, errCode: 'SYSTEMERROR' | 'BANKERROR'): SimResponse {
    return resultFail(request, errCode, errCode === 'SYSTEMERROR' ? '系统超时' : '银行系统异常');
  }

  private paidFields(order: SimOrder): Record<string, string | number | undefined> {
    return {
      openid: order.openid,
      is_subscribe: 'N',
      trade_type: 'MICROPAY',
      bank_type: order.bankType,
      total_fee: order.totalFee,
      settlement_total_fee: order.totalFee,
      fee_type: 'CNY',
      cash_fee: order.totalFee,
      cash_fee_type: 'CNY',
      transaction_id: order.transactionId,
      out_trade_no: order.outTradeNo,
      attach: order.attach,
      time_end: order.timeEnd,
    };
  }
}

function stateKey(order: SimOrder): string {
  return `${order.mchId}/${order.outTradeNo}`;
}

/** scene_info: JSON whose store_info, when present, has an id (channels doc §5). */
function validSceneInfo(text: string): boolean {
  try {
    const value = JSON.parse(text);
    if (!value || typeof value !== 'object') return false;
    const store = value.store_info;
    return store === undefined || (typeof store === 'object' && store !== null && typeof store.id === 'string' && store.id.length > 0);
  } catch {
    return false;
  }
}
