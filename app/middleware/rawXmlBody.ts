import { Context } from 'egg';
import { notifyReply } from '../../lib/wechatpay';
import { BodyTooLargeError, readRawBody } from '../infra/rawBody';

/**
 * Route middleware for WeChat's notifications: reads the raw XML body (Egg's body parser does not
 * read text/xml, and the signature is checked over exactly what was sent) within the notification
 * size limit. A body over the limit, declared or sent, is refused with 413, and a body that cannot
 * be read with 400, both answered in WeChat's XML as every notification reply is.
 */
export default () => async function rawXmlBody(ctx: Context, next: () => Promise<any>) {
  try {
    ctx.request.rawXml = await readRawBody(ctx.req, ctx.app.config.payment.maxNotifyBytes);
  } catch (err) {
    ctx.logger.warn('[notify] body refused: %s', (err as Error).message);
    ctx.status = err instanceof BodyTooLargeError ? 413 : 400;
    ctx.type = 'text/xml';
    ctx.body = notifyReply(false, 'body refused');
    return;
  }
  await next();
};
