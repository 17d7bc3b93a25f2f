import { Controller } from 'egg';
import { notifyReply } from '../../lib/wechatpay';
import { NotifyResult } from '../service/paymentNotify';

/**
 * WeChat's server-to-server notifications. The body is read raw by the rawXmlBody middleware;
 * every outcome is answered in WeChat's XML, failures included: SUCCESS only for a change that is
 * committed (or a repeat of one), FAIL otherwise, so WeChat resends.
 */
export default class NotifyController extends Controller {
  /** POST /payment/notify: a payment's result. */
  async payment() {
    await this.answer('[notify]', raw => this.service.paymentNotify.handle(raw, this.ctx.ip));
  }

  /** POST /payment/refund-notify: a refund's result (req_info encrypted with the API key). */
  async refund() {
    await this.answer('[refund-notify]', raw => this.service.refundNotify.handle(raw, this.ctx.ip));
  }

  private async answer(tag: string, handle: (raw: Buffer) => Promise<NotifyResult>) {
    const { ctx } = this;
    ctx.type = 'text/xml';
    try {
      const result = await handle(ctx.request.rawXml!);
      ctx.body = notifyReply(result.acknowledged, result.acknowledged ? 'OK' : 'refused');
    } catch (err) {
      // Not known to be committed (database down, deadlock): FAIL, and WeChat resends; a resend
      // of one that did commit is answered as a repeat.
      ctx.logger.error('%s could not record notification: %s', tag, (err as Error).message);
      ctx.status = 500;
      ctx.body = notifyReply(false, 'try again');
    }
  }
}
