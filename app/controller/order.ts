import { Controller } from 'egg';
import { isTradeType, OUT_TRADE_NO_PATTERN, TRADE_TYPES } from '../../lib/wechatpay';
import { InvalidCursorError, ValidationError } from '../common/errors';
import { decodeOrderCursor } from '../domain/orderCursor';
import { requireInt, requireObject, requireString } from '../common/validate';

const MONEY_FIELDS = [ 'amount', 'total_fee', 'totalFee', 'price', 'total' ];

/** GET /payment/orders: orders per page unless `limit` says otherwise, and the most it may ask. */
const DEFAULT_LIST_LIMIT = 20;
const MAX_LIST_LIMIT = 100;

/** WeChat's limit on attach, in bytes of UTF-8. */
const MAX_ATTACH_BYTES = 127;

/**
 * The merchant data WeChat echoes: a string of at most 127 UTF-8 bytes (WeChat counts bytes, so
 * 43 Chinese characters are already too many), without control characters, which XML 1.0 cannot
 * carry or WeChat would refuse.
 */
function requireAttach(value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) throw new ValidationError('attach', 'attach must be a non-empty string');
  if (Buffer.byteLength(value, 'utf8') > MAX_ATTACH_BYTES) throw new ValidationError('attach', `attach must be at most ${MAX_ATTACH_BYTES} bytes of UTF-8`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(value)) {
    throw new ValidationError('attach', 'attach must not contain control characters');
  }
  return value;
}

export default class PaymentController extends Controller {
  /**
   * POST /payment/order { items: [{ productId, quantity }] } or { productId, quantity }.
   * Header Idempotency-Key makes a retried request return the same order.
   */
  async create() {
    const body = requireObject(this.ctx.request.body);
    for (const field of MONEY_FIELDS) {
      if (field in body) throw new ValidationError(field, 'amounts are computed by the server; do not send one');
    }
    const { maxItems, maxQuantity } = this.config.payment;
    let rawItems: unknown[];
    if (body.items !== undefined) {
      if (!Array.isArray(body.items) || body.items.length === 0) throw new ValidationError('items', 'items must be a non-empty array');
      if (body.items.length > maxItems) throw new ValidationError('items', `at most ${maxItems} items`);
      rawItems = body.items;
    } else {
      rawItems = [{ productId: body.productId, quantity: body.quantity ?? 1 }];
    }
    const items = rawItems.map((raw, i) => {
      const item = requireObject(raw, `items[${i}]`);
      return {
        productId: requireInt(item.productId, `items[${i}].productId`, 1, 2 ** 31 - 1),
        quantity: requireInt(item.quantity ?? 1, `items[${i}].quantity`, 1, maxQuantity),
      };
    });
    const attach = body.attach === undefined ? undefined : requireAttach(body.attach);
    // WeChat's invoice entry on the payment result page (receipt=Y): the payer's choice, per order.
    if (body.receipt !== undefined && typeof body.receipt !== 'boolean') throw new ValidationError('receipt', 'receipt must be true or false');
    const receipt = body.receipt === true;
    const keyHeader = this.ctx.get('idempotency-key');
    const idempotencyKey = keyHeader ? requireString(keyHeader, 'Idempotency-Key', { max: 64, pattern: /^[A-Za-z0-9_\-:.]+$/ }) : undefined;
    if (body.tradeType !== undefined && !isTradeType(body.tradeType)) {
      throw new ValidationError('tradeType', `tradeType must be one of ${TRADE_TYPES.join(', ')}`);
    }
    const tradeType = body.tradeType;
    this.ctx.body = await this.service.order.create({ user: this.ctx.state.user, items, attach, receipt, idempotencyKey, clientIp: this.clientIp(), tradeType });
  }

  /** POST /payment/orders/:outTradeNo/pay: payment parameters for an existing unpaid order. */
  async pay() {
    this.ctx.body = await this.service.order.pay(this.ctx.state.user, this.outTradeNo(), this.clientIp());
  }

  /** GET /payment/orders?limit=&cursor=: the signed-in user's orders, newest first (docs/api.md). */
  async list() {
    const { limit: rawLimit, cursor: rawCursor } = this.ctx.query;
    let limit = DEFAULT_LIST_LIMIT;
    if (rawLimit !== undefined) {
      limit = Number(rawLimit);
      if (!/^\d{1,4}$/.test(rawLimit) || limit < 1 || limit > MAX_LIST_LIMIT) {
        throw new ValidationError('limit', `limit must be an integer between 1 and ${MAX_LIST_LIMIT}`);
      }
    }
    let cursor;
    if (rawCursor !== undefined) {
      cursor = decodeOrderCursor(rawCursor);
      if (!cursor) throw new InvalidCursorError();
    }
    this.ctx.body = await this.service.order.listOwned(this.ctx.state.user, { limit, cursor });
  }

  /** GET /payment/orders/:outTradeNo */
  async show() {
    this.ctx.body = await this.service.order.status(this.ctx.state.user, this.outTradeNo());
  }

  /** GET /payment/orders/:outTradeNo/qrcode.svg: a NATIVE order's code_url as an SVG QR code. */
  async qrCodeSvg() {
    const { image } = await this.service.orderQrCode.render(this.ctx.state.user, this.outTradeNo(), 'svg');
    this.ctx.type = 'image/svg+xml';
    this.ctx.set('Cache-Control', 'private, no-store');
    this.ctx.body = image;
  }

  /** GET /payment/orders/:outTradeNo/qrcode.png: the same QR code as PNG. */
  async qrCodePng() {
    const { image } = await this.service.orderQrCode.render(this.ctx.state.user, this.outTradeNo(), 'png');
    this.ctx.type = 'image/png';
    this.ctx.set('Cache-Control', 'private, no-store');
    this.ctx.body = image;
  }

  /** POST /payment/orders/:outTradeNo/close: closes an unpaid order of yours (idempotent). */
  async close() {
    this.ctx.body = await this.service.orderClose.closeOwned(this.ctx.state.user, this.outTradeNo());
  }

  private outTradeNo(): string {
    return requireString(this.ctx.params.outTradeNo, 'outTradeNo', { max: 32, pattern: OUT_TRADE_NO_PATTERN });
  }

  /** WeChat wants an IPv4 address in spbill_create_ip. */
  private clientIp(): string {
    const ip = this.ctx.ip.replace(/^::ffff:/, '');
    return /^\d{1,3}(\.\d{1,3}){3}$/.test(ip) ? ip : '127.0.0.1';
  }
}
