import { Controller } from 'egg';
import { scanCallbackRefusal } from '../../lib/wechatpay';
import { requireString } from '../common/validate';
import { qrCodeImage } from '../infra/qrCode';

/**
 * NATIVE payment, mode 1 (docs/channels.md): the static code of a product for the operator to
 * print, and WeChat's scan callback when a payer scans one. The callback is answered in WeChat's
 * XML whatever happens, as a notification is.
 */
export default class NativeScanController extends Controller {
  /** POST /payment/native-scan: WeChat's scan callback (raw XML, read by the rawXmlBody middleware). */
  async callback() {
    const { ctx } = this;
    ctx.type = 'text/xml';
    try {
      ctx.body = await this.service.nativeScan.handle(ctx.request.rawXml!, ctx.ip);
    } catch (err) {
      // Not known whether the order was made: the payer scans again, and the same product makes a new order.
      ctx.logger.error('[native-scan] could not answer a scan: %s', (err as Error).message);
      ctx.status = 500;
      ctx.body = scanCallbackRefusal('try again');
    }
  }

  /** GET /admin/products/:productId/native-code: the product's static code (the URL a QR code holds). */
  async staticCode() {
    this.ctx.body = await this.service.nativeScan.staticCode(this.productId());
  }

  /** GET /admin/products/:productId/native-code.svg: the same code as a QR code to print. */
  async staticCodeSvg() {
    const { codeUrl } = await this.service.nativeScan.staticCode(this.productId());
    this.ctx.type = 'image/svg+xml';
    this.ctx.set('Cache-Control', 'private, no-store');
    this.ctx.body = await qrCodeImage(codeUrl, 'svg');
  }

  private productId(): number {
    return Number(requireString(this.ctx.params.productId, 'productId', { max: 10, pattern: /^[1-9][0-9]*$/ }));
  }
}
