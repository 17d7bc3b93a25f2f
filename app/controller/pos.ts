import { Controller } from 'egg';
import { MICROPAY_AUTH_CODE_PATTERN, OUT_TRADE_NO_PATTERN } from '../../lib/wechatpay';
import { ValidationError } from '../common/errors';
import { requireInt, requireObject, requireString, requireXmlText } from '../common/validate';
import type { StoreInfo } from '../service/pos';

/** WeChat's body: at most 128 bytes of UTF-8. */
const MAX_BODY_BYTES = 128;

/** POS API (posAuth: admin or cashier token): payment-code charges at the counter (docs/pos.md). */
export default class PosController extends Controller {
  /**
   * POST /admin/pos/charges { authCode, amount | items, description?, storeInfo? }, header
   * Idempotency-Key required. 201: the charge's outcome (PAID, FAILED or REVERSED); 200: the same
   * charge again (same key); 202: PROCESSING (another request with the key is still charging, or
   * WeChat has not confirmed the reverse yet).
   */
  async create() {
    const { ctx } = this;
    const body = requireObject(ctx.request.body);
    const authCode = typeof body.authCode === 'string' ? body.authCode.trim() : body.authCode;
    if (typeof authCode !== 'string' || !MICROPAY_AUTH_CODE_PATTERN.test(authCode)) {
      throw new ValidationError('authCode', 'authCode must be the scanned WeChat payment code: 18 digits starting 10 to 15');
    }
    if ((body.amount === undefined) === (body.items === undefined)) throw new ValidationError('amount', 'send either amount (fen) or items, not both');
    const { maxItems, maxQuantity, maxTotalFee } = this.config.payment;
    let amount: number | undefined;
    let items: Array<{ productId: number; quantity: number }> | undefined;
    if (body.amount !== undefined) {
      amount = requireInt(body.amount, 'amount', 1, maxTotalFee);
    } else {
      if (!Array.isArray(body.items) || body.items.length === 0) throw new ValidationError('items', 'items must be a non-empty array');
      if (body.items.length > maxItems) throw new ValidationError('items', `at most ${maxItems} items`);
      items = body.items.map((raw, i) => {
        const item = requireObject(raw, `items[${i}]`);
        return {
          productId: requireInt(item.productId, `items[${i}].productId`, 1, 2 ** 31 - 1),
          quantity: requireInt(item.quantity ?? 1, `items[${i}].quantity`, 1, maxQuantity),
        };
      });
    }
    let description: string | undefined;
    if (body.description !== undefined) {
      description = requireXmlText(requireString(body.description, 'description', { max: MAX_BODY_BYTES }), 'description');
      if (Buffer.byteLength(description, 'utf8') > MAX_BODY_BYTES) throw new ValidationError('description', `description must be at most ${MAX_BODY_BYTES} bytes of UTF-8`);
    }
    const storeInfo = body.storeInfo === undefined ? undefined : this.storeInfo(body.storeInfo);
    const keyHeader = ctx.get('idempotency-key');
    if (!keyHeader) throw new ValidationError('Idempotency-Key', 'a charge needs an Idempotency-Key header, so a retried request never charges twice');
    const idempotencyKey = requireString(keyHeader, 'Idempotency-Key', { max: 64, pattern: /^[A-Za-z0-9_\-:.]+$/ });
    const { view, replayed } = await this.service.pos.charge({
      authCode, amount, items, description, storeInfo, idempotencyKey, operator: ctx.state.operator, clientIp: this.clientIp(),
    });
    ctx.status = view.status === 'PROCESSING' ? 202 : replayed ? 200 : 201;
    ctx.body = view;
  }

  /** GET /admin/pos/charges/:outTradeNo */
  async show() {
    const outTradeNo = requireString(this.ctx.params.outTradeNo, 'outTradeNo', { max: 32, pattern: OUT_TRADE_NO_PATTERN });
    this.ctx.body = await this.service.pos.find(outTradeNo);
  }

  /** scene_info.store_info: { id, name?, areaCode?, address? } (WeChat: id required; name, area_code, address optional). */
  private storeInfo(value: unknown): StoreInfo {
    const raw = requireObject(value, 'storeInfo');
    const text = (name: string, max: number) => (raw[name] === undefined ? undefined
      : requireXmlText(requireString(raw[name], `storeInfo.${name}`, { max }), `storeInfo.${name}`));
    const out: StoreInfo = { id: text('id', 32) ?? '' };
    if (!out.id) throw new ValidationError('storeInfo.id', 'storeInfo.id is required');
    const name = text('name', 64);
    const areaCode = raw.areaCode === undefined ? undefined : requireString(raw.areaCode, 'storeInfo.areaCode', { max: 6, pattern: /^\d{6}$/ });
    const address = text('address', 128);
    if (name) out.name = name;
    if (areaCode) out.area_code = areaCode;
    if (address) out.address = address;
    return out;
  }

  /** WeChat wants an IPv4 address in spbill_create_ip: the cashier terminal's. */
  private clientIp(): string {
    const ip = this.ctx.ip.replace(/^::ffff:/, '');
    return /^\d{1,3}(\.\d{1,3}){3}$/.test(ip) ? ip : '127.0.0.1';
  }
}
