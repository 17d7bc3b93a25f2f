import { Service } from 'egg';
import { readScanCallback, scanCallbackRefusal, scanCallbackReply, staticCodeUrl } from '../../lib/wechatpay';
import { configuredApps, WechatAppConfig } from '../../config/config.default';
import { AppError, ConflictError, NotFoundError, RateLimitedError, ValidationError } from '../common/errors';
import { CHANNEL_RULES } from '../domain/channels';

/** What the payer's WeChat shows when the order cannot be made (the reply's err_code_des). */
const PAYER_MESSAGES = {
  product: '商品不存在或已下架 (this product is not for sale)',
  busy: '暂时无法下单，请稍后再试 (the order could not be made; try again shortly)',
  tooMany: '下单太频繁，请稍后再试 (too many orders; try again later)',
};

/**
 * NATIVE payment, mode 1 (docs/channels.md): a static QR code per product, printed once; a payer's
 * scan reaches us as WeChat's scan callback, which makes the order for that payer and answers with
 * its prepay_id. The order is an ordinary NATIVE order of the web channel (the official account's
 * appid), made through OrderService.create, so it is priced, expires, is notified, queried, closed
 * and refunded like any other.
 */
export default class NativeScanService extends Service {
  /** The static code of a product, to print as a QR code: WeChat's bizpayurl, signed with the merchant key. */
  async staticCode(productId: number): Promise<{ productId: number; codeUrl: string }> {
    const app = this.nativeApp();
    if (!app) throw new ConflictError('NATIVE_NOT_CONFIGURED', 'NATIVE payments name the official account\'s appid, and none is configured');
    const product = await this.app.model.Product.findByPk(productId);
    if (!product || !product.active) throw new NotFoundError('PRODUCT_NOT_FOUND', `product ${productId} does not exist or is not for sale`);
    const { mchId, apiKey } = this.config.wechat;
    return { productId, codeUrl: staticCodeUrl({ appId: app.appId, mchId, productId: String(productId), apiKey }) };
  }

  /**
   * Answers WeChat's scan callback (the XML to reply with): the payer's order for the product,
   * with its prepay_id; result_code FAIL with a reason the payer sees when it cannot be made;
   * return_code FAIL when the callback cannot be trusted. Throws when the outcome is not known
   * (the database failing): the controller then answers return_code FAIL, and the payer scans again.
   */
  async handle(raw: Buffer, remoteIp: string): Promise<string> {
    const { mchId, apiKey } = this.config.wechat;
    const app = this.nativeApp();
    const read = readScanCallback(raw, { appIds: app ? [ app.appId ] : [], mchId, apiKey, maxBytes: this.config.payment.maxNotifyBytes });
    if (read.refused !== undefined) {
      this.ctx.logger.error('[native-scan] refused a scan callback from %s: %s', remoteIp, read.refused);
      return scanCallbackRefusal(read.refused);
    }
    const { appid, openid, product_id: productId, nonce_str: nonce } = read.fields;
    const reply = (answer: { prepayId?: string; failure?: string }) => scanCallbackReply({ appId: appid, mchId, apiKey, ...answer });
    // The products of this shop are numbered; a static code we made names one.
    if (!/^[1-9][0-9]{0,9}$/.test(productId)) return reply({ failure: PAYER_MESSAGES.product });

    const user = await this.service.auth.upsertUser(appid, openid);
    let outTradeNo: string;
    try {
      // Each scan makes an order and a unified order: counted as the order API counts a user's (rate limits, docs/operations.md).
      await this.service.rateLimit.consume('orderPerUser', `u${user.id}`, 'allow');
      ({ outTradeNo } = await this.service.order.create({
        user: { userId: user.id, openid, appId: appid, channel: 'web' },
        items: [{ productId: Number(productId), quantity: 1 }],
        // WeChat sends a callback again, same nonce, when our answer was lost: the same order answers it.
        idempotencyKey: `scan-${nonce}`,
        // WeChat's rule for NATIVE: the address of the machine calling unified order, here the one WeChat called.
        clientIp: remoteIp,
        tradeType: 'NATIVE',
      }));
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      this.ctx.logger.warn('[native-scan] no order for product %s: %s %s', productId, err.code, err.message);
      const failure = err instanceof ValidationError ? PAYER_MESSAGES.product : err instanceof RateLimitedError ? PAYER_MESSAGES.tooMany : PAYER_MESSAGES.busy;
      return reply({ failure });
    }
    const { Order, PaymentAttempt } = this.app.model;
    const order = await Order.findOne({ where: { outTradeNo }, attributes: [ 'currentAttemptId' ] });
    const attempt = order?.currentAttemptId ? await PaymentAttempt.findByPk(order.currentAttemptId, { attributes: [ 'prepayId' ] }) : null;
    if (!attempt?.prepayId) throw new Error(`order ${outTradeNo} was prepaid without a prepay_id`);
    this.ctx.logger.info('[native-scan] order %s for product %s, scanned by user %d', outTradeNo, productId, user.id);
    return reply({ prepayId: attempt.prepayId });
  }

  /** NATIVE orders name the web channel's app, the official account. */
  private nativeApp(): WechatAppConfig | undefined {
    return configuredApps(this.config.wechat).find(a => a.role === CHANNEL_RULES.web.appRole);
  }
}
