import { isTradeType, OUT_TRADE_NO_PATTERN, TRADE_TYPE_SPECS } from '../lib/wechatpay';
import { Credentials } from './credentials';
import { openPayRequest, PayRequest, resultFail, resultSuccess, returnFail } from './envelope';
import { SimRequest, SimResponse } from './http';
import { newCodeUrl, newMwebPackage, newPrepayId } from './ids';
import { OrderBook } from './state';
import { couponFields, paymentAmounts, SimOrder, TradeState } from './types';
import { byteLength, compactTime, FieldProblem, firstMissing, isFen, isIpAddress, isNotifyUrl, paramError } from './validate';

/** A prepay_id is valid for 2 hours. */
export const PREPAY_TTL_MS = 2 * 3600 * 1000;
/** An mweb_url works for 5 minutes after it is issued. */
export const MWEB_URL_TTL_MS = TRADE_TYPE_SPECS.MWEB.replyTtlMs;
/** time_expire must leave at least this long to pay. */
const MIN_PAY_WINDOW_MS = 60 * 1000;

const UNIFIED_ORDER_REQUIRED = [ 'body', 'out_trade_no', 'total_fee', 'spbill_create_ip', 'notify_url', 'trade_type' ] as const;

/**
 * The parameters that make an order what it is: a repeated unified order must carry the same
 * ones to get the same prepay_id, otherwise the number counts as reused (OUT_TRADE_NO_USED).
 */
const BUSINESS_FIELDS = [
  'appid', 'device_info', 'body', 'detail', 'attach', 'fee_type', 'total_fee', 'time_start', 'time_expire',
  'goods_tag', 'notify_url', 'trade_type', 'product_id', 'limit_pay', 'openid', 'receipt', 'profit_sharing', 'scene_info',
] as const;

const TRADE_STATE_DESC: Record<TradeState, string> = {
  SUCCESS: '支付成功',
  REFUND: '订单发生过退款，退款详情请查询退款单',
  NOTPAY: '订单未支付',
  CLOSED: '订单已关闭',
  PAYERROR: '支付失败，请重新下单支付',
  USERPAYING: '需要用户输入支付密码',
  REVOKED: '已撤销（付款码支付）',
};

/**
 * A single-product discount's detail as WeChat reads it: JSON with a goods_detail list whose goods
 * have goods_id, a positive whole quantity and a whole price in fen; cost_price, when present, fen.
 */
function isGoodsDetail(text: string): boolean {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return false;
  }
  const detail = value as { cost_price?: unknown; goods_detail?: unknown };
  if (!detail || typeof detail !== 'object' || !Array.isArray(detail.goods_detail) || detail.goods_detail.length === 0) return false;
  if (detail.cost_price !== undefined && !(Number.isSafeInteger(detail.cost_price) && (detail.cost_price as number) >= 0)) return false;
  return detail.goods_detail.every((g: { goods_id?: unknown; quantity?: unknown; price?: unknown }) =>
    typeof g?.goods_id === 'string' && g.goods_id.length > 0 && g.goods_id.length <= 32 &&
    Number.isSafeInteger(g.quantity) && (g.quantity as number) > 0 && Number.isSafeInteger(g.price) && (g.price as number) >= 0);
}

/** The merchant-facing order APIs: unified order, order query, close order. */
export class PayApi {
  constructor(
    private readonly credentials: Credentials,
    private readonly orders: OrderBook,
    private readonly now: () => Date,
  ) {}

  /** POST /pay/unifiedorder */
  unifiedOrder(req: SimRequest): SimResponse {
    const opened = openPayRequest(req, this.credentials);
    if (!opened.request) return opened.response;
    const request = opened.request;
    const p = request.params;

    const missing = firstMissing(p, UNIFIED_ORDER_REQUIRED);
    if (missing) return resultFail(request, missing.errCode, missing.errCodeDes);
    if (!isTradeType(p.trade_type)) return resultFail(request, 'PARAM_ERROR', 'trade_type参数错误');
    // A format-level refusal at WeChat: return_code=FAIL, unsigned.
    if (p.trade_type === 'JSAPI' && !p.openid) return returnFail('JSAPI支付必须传openid');
    const lacking = TRADE_TYPE_SPECS[p.trade_type].required.find(name => !p[name]);
    if (lacking) return resultFail(request, 'LACK_PARAMS', `缺少参数${lacking}`);
    const problem = this.checkFields(p);
    if (problem) return resultFail(request, problem.errCode, problem.errCodeDes);

    const now = this.now();
    const existing = this.orders.get(request.merchant.mchId, p.out_trade_no);
    if (existing) return this.repeatUnifiedOrder(req, request, existing, now);

    const expiresAt = p.time_expire ? compactTime(p.time_expire) : undefined;
    if (expiresAt && expiresAt.getTime() - now.getTime() < MIN_PAY_WINDOW_MS) {
      return resultFail(request, 'PARAM_ERROR', 'time_expire时间过短，至少1分钟');
    }
    const order: SimOrder = {
      mchId: request.merchant.mchId,
      appId: request.appId,
      outTradeNo: p.out_trade_no,
      params: { ...p },
      signType: request.signType,
      notifyUrl: p.notify_url,
      totalFee: Number(p.total_fee),
      openid: p.trade_type === 'JSAPI' ? p.openid : '',
      tradeType: p.trade_type,
      attach: p.attach || undefined,
      prepayId: newPrepayId(now),
      prepayExpiresAt: new Date(now.getTime() + PREPAY_TTL_MS),
      expiresAt,
      tradeState: 'NOTPAY',
      createdAt: now,
      refunds: [],
    };
    if (order.tradeType === 'NATIVE') order.codeUrl = this.orders.uniqueCodeUrl(newCodeUrl);
    this.orders.add(order);
    return resultSuccess(request, this.orderReply(req, order, now));
  }

  /** prepay_id, plus what the trade type's payer needs: NATIVE's code_url, MWEB's mweb_url (a fresh one each call, 5 minutes). */
  private orderReply(req: SimRequest, order: SimOrder, now: Date): Record<string, string> {
    const reply: Record<string, string> = { prepay_id: order.prepayId, trade_type: order.tradeType };
    if (order.codeUrl) reply.code_url = order.codeUrl;
    if (order.tradeType === 'MWEB') {
      order.mwebPackage = newMwebPackage();
      order.mwebExpiresAt = new Date(now.getTime() + MWEB_URL_TTL_MS);
      // The cashier page is served on the simulator's plain-HTTP side, under the host the merchant
      // called (wx.tenpay.com at WeChat).
      const base = `http://${req.headers.host ?? '127.0.0.1'}`;
      reply.mweb_url = `${base}/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=${order.prepayId}&package=${order.mwebPackage}`;
    }
    return reply;
  }

  /** POST /pay/orderquery */
  orderQuery(req: SimRequest): SimResponse {
    const opened = openPayRequest(req, this.credentials);
    if (!opened.request) return opened.response;
    const request = opened.request;
    const p = request.params;
    if (!p.transaction_id && !p.out_trade_no) {
      return resultFail(request, 'LACK_PARAMS', '缺少参数out_trade_no或transaction_id');
    }
    const order = this.lookup(request);
    if (!order) return resultFail(request, 'ORDERNOTEXIST', '订单不存在');
    const state = order.tradeState;
    if (state !== 'SUCCESS') {
      // Only a paid order's query carries the payment's details.
      return resultSuccess(request, {
        out_trade_no: order.outTradeNo, attach: order.attach, trade_state: state, trade_state_desc: TRADE_STATE_DESC[state],
      });
    }
    return resultSuccess(request, {
      openid: order.openid,
      is_subscribe: 'N',
      trade_type: order.tradeType,
      trade_state: state,
      trade_state_desc: TRADE_STATE_DESC[state],
      bank_type: order.bankType,
      total_fee: order.totalFee,
      fee_type: 'CNY',
      cash_fee: paymentAmounts(order).cashFee,
      cash_fee_type: 'CNY',
      ...couponFields(order),
      transaction_id: order.transactionId,
      out_trade_no: order.outTradeNo,
      attach: order.attach,
      time_end: order.timeEnd,
    });
  }

  /** POST /pay/closeorder */
  closeOrder(req: SimRequest): SimResponse {
    const opened = openPayRequest(req, this.credentials);
    if (!opened.request) return opened.response;
    const request = opened.request;
    if (!request.params.out_trade_no) return resultFail(request, 'LACK_PARAMS', '缺少参数out_trade_no');
    const order = this.lookup(request);
    if (!order) return resultFail(request, 'ORDERNOTEXIST', '订单不存在');
    if (order.tradeState === 'SUCCESS' || order.tradeState === 'REFUND') {
      return resultFail(request, 'ORDERPAID', '订单已支付，不能发起关单');
    }
    if (order.tradeState === 'CLOSED') return resultFail(request, 'ORDERCLOSED', '订单已关闭，无法重复关闭');
    order.tradeState = 'CLOSED';
    order.closedAt = this.now();
    return resultSuccess(request, {});
  }

  private repeatUnifiedOrder(req: SimRequest, request: PayRequest, order: SimOrder, now: Date): SimResponse {
    if (order.tradeState === 'SUCCESS' || order.tradeState === 'REFUND') {
      return resultFail(request, 'ORDERPAID', '该订单已支付');
    }
    if (order.tradeState === 'CLOSED') return resultFail(request, 'ORDERCLOSED', '该订单已关闭');
    const changed = BUSINESS_FIELDS.some(name => (order.params[name] ?? '') !== (request.params[name] ?? ''));
    if (changed) return resultFail(request, 'OUT_TRADE_NO_USED', '商户订单号重复');
    if (now >= order.prepayExpiresAt) {
      order.prepayId = newPrepayId(now);
      order.prepayExpiresAt = new Date(now.getTime() + PREPAY_TTL_MS);
    }
    order.params = { ...request.params };
    // The payer pays with the prepay_id just returned, so its notification follows this sign type.
    order.signType = request.signType;
    return resultSuccess(request, this.orderReply(req, order, now));
  }

  /** By transaction_id when given (it wins, as at WeChat), else out_trade_no; only the caller's app's orders. */
  private lookup(request: PayRequest): SimOrder | undefined {
    const { mchId } = request.merchant;
    const p = request.params;
    const order = p.transaction_id
      ? this.orders.getByTransactionId(mchId, p.transaction_id)
      : this.orders.get(mchId, p.out_trade_no);
    return order && order.appId === request.appId ? order : undefined;
  }

  private checkFields(p: Record<string, string>): FieldProblem | undefined {
    if (!OUT_TRADE_NO_PATTERN.test(p.out_trade_no)) return paramError('out_trade_no参数格式错误');
    if (!isFen(p.total_fee)) return paramError('total_fee参数格式错误');
    if (byteLength(p.body) > 128) return paramError('body参数长度有误');
    if (p.attach && byteLength(p.attach) > 127) return paramError('attach参数长度有误');
    if (p.detail && byteLength(p.detail) > 6000) return paramError('detail参数长度有误');
    if (p.device_info && p.device_info.length > 32) return paramError('device_info参数长度有误');
    if (p.openid && !/^[A-Za-z0-9_-]{1,128}$/.test(p.openid)) return paramError('openid参数格式错误');
    if (p.product_id && p.product_id.length > 32) return paramError('product_id参数长度有误');
    if (p.trade_type === 'MWEB' && !isH5SceneInfo(p.scene_info)) return paramError('scene_info参数格式错误');
    if (!isIpAddress(p.spbill_create_ip)) return paramError('spbill_create_ip参数格式错误');
    if (!isNotifyUrl(p.notify_url)) return paramError('notify_url参数格式错误');
    if (p.fee_type && p.fee_type !== 'CNY') return paramError('fee_type参数错误');
    if (p.limit_pay && p.limit_pay !== 'no_credit') return paramError('limit_pay参数错误');
    if (p.goods_tag && p.goods_tag.length > 32) return paramError('goods_tag参数长度有误');
    if (p.receipt && p.receipt !== 'Y') return paramError('receipt参数错误');
    if (p.detail && !isGoodsDetail(p.detail)) return paramError('detail参数格式错误');
    if (p.version && p.version !== '1.0') return paramError('version参数错误');
    const start = p.time_start ? compactTime(p.time_start) : undefined;
    if (p.time_start && !start) return paramError('time_start参数格式错误');
    if (p.time_expire) {
      const expire = compactTime(p.time_expire);
      if (!expire) return paramError('time_expire参数格式错误');
      if (start && expire.getTime() - start.getTime() < MIN_PAY_WINDOW_MS) {
        return paramError('time_expire时间过短，至少1分钟');
      }
    }
    return undefined;
  }
}

/** MWEB's scene_info: JSON with h5_info of type Wap (wap_url, wap_name), IOS (app_name, bundle_id) or Android (app_name, package_name). */
function isH5SceneInfo(text: string): boolean {
  let info: any;
  try {
    info = JSON.parse(text)?.h5_info;
  } catch {
    return false;
  }
  if (!info || typeof info !== 'object') return false;
  const present = (...names: string[]) => names.every(n => typeof info[n] === 'string' && info[n].length > 0);
  if (info.type === 'Wap') return present('wap_url', 'wap_name');
  if (info.type === 'IOS' || info.type === 'iOS') return present('app_name', 'bundle_id');
  if (info.type === 'Android') return present('app_name', 'package_name');
  return false;
}
