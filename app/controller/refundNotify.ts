import { Controller } from 'egg';
import { notifyReply } from '../../lib/wechatpay';
import { BodyTooLargeError, readRawBody } from '../lib/rawBody';

/** WeChat's refund result notifications; always answered with WeChat's XML. */
export default class RefundNotifyController extends Controller {
  /** POST /payment/refund-notify */
  async handle() {
    const { ctx } = this;
    ctx.type = 'text/xml';
    let raw: Buffer;
    try {
      raw = await readRawBody(ctx.req, this.config.payment.maxNotifyBytes);
    } catch (err) {
      ctx.logger.warn('[refund-notify] body refused: %s', (err as Error).message);
      ctx.status = err instanceof BodyTooLargeError ? 413 : 400;
      ctx.body = notifyReply(false, 'body refused');
      return;
    }
    try {
      const result = await this.service.refundNotify.handle(raw, ctx.ip);
      ctx.body = notifyReply(result.acknowledged, result.acknowledged ? 'OK' : 'refused');
    } catch (err) {
      // Nothing was committed (database down, deadlock): FAIL, and WeChat resends.
      ctx.logger.error('[refund-notify] could not record notification: %s', (err as Error).message);
      ctx.status = 500;
      ctx.body = notifyReply(false, 'try again');
    }
  }
}
