import { Service } from 'egg';
import { ValidationError } from '../common/errors';
import { OrderItem } from '../model/order';
import type { ProductOptions } from '../domain/unifiedOrderOptions';
import { ProductRepository } from '../repository/productRepository';

export interface PricedOrder {
  totalFee: number;
  body: string;
  items: OrderItem[];
  /** Each product's unified-order settings (goods_tag, no credit cards). */
  productOptions: ProductOptions[];
}

const BODY_MAX_BYTES = 128;

/** Prices orders from the products table: the client says what, never how much. */
export default class CatalogService extends Service {
  async listActive() {
    const products = await this.app.model.Product.findAll({ where: { active: true }, order: [[ 'id', 'ASC' ]] });
    return products.map(p => ({ id: p.id, name: p.name, priceFen: p.priceFen }));
  }

  async price(requested: Array<{ productId: number; quantity: number }>): Promise<PricedOrder> {
    const ids = [ ...new Set(requested.map(r => r.productId)) ];
    const products = await new ProductRepository(this.app.model).findActive(ids);
    const byId = new Map(products.map(p => [ p.id, p ]));
    const quantities = new Map<number, number>();
    requested.forEach((r, i) => {
      if (!byId.has(r.productId)) throw new ValidationError(`items[${i}].productId`, `product ${r.productId} does not exist or is not for sale`);
      quantities.set(r.productId, (quantities.get(r.productId) ?? 0) + r.quantity);
    });
    const items: OrderItem[] = [];
    let totalFee = 0;
    for (const [ productId, quantity ] of quantities) {
      if (quantity > this.config.payment.maxQuantity) {
        throw new ValidationError('items', `at most ${this.config.payment.maxQuantity} of product ${productId}`);
      }
      const p = byId.get(productId)!;
      items.push({ productId, name: p.name, unitPriceFen: p.priceFen, quantity });
      totalFee += p.priceFen * quantity;
    }
    if (totalFee <= 0) throw new ValidationError('items', 'the order total must be positive');
    if (totalFee > this.config.payment.maxTotalFee) throw new ValidationError('items', 'the order total exceeds the maximum allowed');
    const productOptions = products.map(p => ({ productId: p.id, goodsTag: p.goodsTag, noCredit: p.noCredit }));
    return { totalFee, body: orderBody(items), items, productOptions };
  }
}

/** WeChat's `body`: at most 128 bytes of UTF-8, cut on a character boundary. */
export function orderBody(items: OrderItem[]): string {
  const full = items.map(i => (i.quantity > 1 ? `${i.name} x${i.quantity}` : i.name)).join(', ');
  let out = '';
  for (const ch of full) {
    if (Buffer.byteLength(out + ch, 'utf8') > BODY_MAX_BYTES) break;
    out += ch;
  }
  return out;
}
