import { Service } from 'egg';
import { ConflictError } from '../common/errors';
import { qrCodeImage } from '../infra/qrCode';
import { SessionUser } from './session';

/**
 * A NATIVE order's code_url as a QR code image, for the web page that shows it. Only the owner
 * gets it (another user's order answers 404 like a missing one), and only while the code_url can
 * still be paid: a paid, closed or expired one answers 409, and the page asks /pay for a new one.
 */
export default class OrderQrCodeService extends Service {
  async render(user: SessionUser, outTradeNo: string, format: 'svg' | 'png'): Promise<{ image: string | Buffer }> {
    const order = await this.service.order.findOwned(user, outTradeNo);
    if (order.tradeType !== 'NATIVE') throw new ConflictError('NOT_A_QR_ORDER', 'this order is not paid by scanning a QR code');
    if (order.status !== 'NOTPAY') throw new ConflictError('QR_CODE_UNAVAILABLE', `this order is ${order.status}: there is no code to scan`);
    const attempt = await this.app.model.PaymentAttempt.findByPk(order.currentAttemptId!);
    if (!attempt || attempt.status !== 'PREPAID' || !attempt.payUrl || !attempt.prepayExpiresAt || attempt.prepayExpiresAt.getTime() <= Date.now()) {
      throw new ConflictError('QR_CODE_EXPIRED', 'this code has expired: ask POST /payment/orders/{outTradeNo}/pay for a new one');
    }
    return { image: await qrCodeImage(attempt.payUrl, format) };
  }
}
