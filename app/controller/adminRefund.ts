import { Controller } from 'egg';
import { OUT_TRADE_NO_PATTERN } from '../../lib/wechatpay';
import { ValidationError } from '../common/errors';
import { requireInt, requireObject, requireString, requireXmlText } from '../common/validate';

/** Admin API (adminAuth): refunds of an order. */
export default class AdminRefundController extends Controller {
  /**
   * POST /admin/orders/:outTradeNo/refunds { amount, reason, transactionId? }, header
   * Idempotency-Key optional. 201: WeChat accepted the new refund; 200: the same refund again (same
   * key); 202: recorded PROCESSING, WeChat's answer still pending (it is sent again, same number);
   * 500 REFUND_NOT_SENT: its request could not be built, the refund is FAILED.
   */
  async create() {
    const { ctx } = this;
    const body = requireObject(ctx.request.body);
    const amount = requireInt(body.amount, 'amount', 1, this.config.payment.maxTotalFee);
    if (typeof body.reason !== 'string' || body.reason.trim().length === 0) throw new ValidationError('reason', 'reason must be a non-empty string');
    // WeChat's refund_desc: at most 80 characters.
    if ([ ...body.reason ].length > 80) throw new ValidationError('reason', 'reason must be at most 80 characters');
    // Sent to WeChat inside XML: a character XML cannot carry would make the request unbuildable.
    const reason = requireXmlText(body.reason.trim(), 'reason');
    const transactionId = body.transactionId === undefined ? undefined :
      requireString(body.transactionId, 'transactionId', { max: 32, pattern: /^[0-9A-Za-z]+$/ });
    const keyHeader = ctx.get('idempotency-key');
    const idempotencyKey = keyHeader ? requireString(keyHeader, 'Idempotency-Key', { max: 64, pattern: /^[A-Za-z0-9_\-:.]+$/ }) : undefined;
    const outcome = await this.service.refund.request({ outTradeNo: this.outTradeNo(), amount, reason, idempotencyKey, transactionId });
    ctx.status = outcome.pending ? 202 : outcome.replayed ? 200 : 201;
    ctx.body = outcome.refund;
  }

  /** GET /admin/orders/:outTradeNo/refunds */
  async list() {
    this.ctx.body = await this.service.refund.list(this.outTradeNo());
  }

  private outTradeNo(): string {
    return requireString(this.ctx.params.outTradeNo, 'outTradeNo', { max: 32, pattern: OUT_TRADE_NO_PATTERN });
  }
}
