import { Context, Controller } from 'egg';
import { notifyReply } from '../../lib/wechatpay';
import { BodyTooLargeError, readRawBody } from '../lib/rawBody';
import { NotifyResult } from '../service/paymentNotify';

/** Where WeChat's servers POST each notification: the routes (app/router.ts) and the fast lane to them (app/middleware/wechatCallbacks.ts). */
export const WECHAT_CALLBACK_PATHS = { payment: '/payment/notify', refund: '/payment/refund-notify' } as const;

/** WeChat's servers call these; they always get WeChat's XML, never JSON. */
export default class NotifyController extends Controller {
  /** POST /payment/notify */
  async payment() {
    await this.answer('[notify]', raw => this.service.paymentNotify.handle(raw, this.ctx.ip));
  }

  /** POST /payment/refund-notify */
  async refund() {
    await this.answer('[refund-notify]', raw => this.service.refundNotify.handle(raw, this.ctx.ip));
  }

  /** Reads the raw body within the size limit, hands it over, and answers SUCCESS or FAIL XML. */
  private async answer(tag: string, handle: (raw: Buffer) => Promise<NotifyResult>) {
    const ctx: Context = this.ctx;
    ctx.type = 'text/xml';
    let raw: Buffer;
    try {
      raw = await readRawBody(ctx.req, this.config.payment.maxNotifyBytes);
    } catch (err) {
      ctx.logger.warn('%s body refused: %s', tag, (err as Error).message);
      ctx.status = err instanceof BodyTooLargeError ? 413 : 400;
      ctx.body = notifyReply(false, 'body refused');
      return;
    }
    try {
      const result = await handle(raw);
      ctx.body = notifyReply(result.acknowledged, result.acknowledged ? 'OK' : 'refused');
    } catch (err) {
      // Not known to be committed (database down, deadlock): FAIL, and WeChat resends; a resend of
      // one that did commit is answered as a repeat.
      ctx.logger.error('%s could not record notification: %s', tag, (err as Error).message);
      ctx.status = 500;
      ctx.body = notifyReply(false, 'try again');
    }
  }
}
