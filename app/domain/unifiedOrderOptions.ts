/**
 * The unified order's optional fields an order is made with, decided from its products and the
 * payer's request (docs/decisions/0015-unified-order-options-and-coupons.md). Pure: the order
 * service stores the result on the order, so every unified order for it sends the same fields.
 */

/** An order line as priced by the catalog (the shape of the order model's OrderItem). */
export interface OrderItem {
  productId: number;
  name: string;
  unitPriceFen: number;
  quantity: number;
}

/** WeChat's limits (channels doc section 7). */
export const MAX_GOODS_TAG_LENGTH = 32;
export const MAX_DETAIL_BYTES = 6000;
/** A goods_tag as merchants configure them: letters, digits, `_` and `-`. */
export const GOODS_TAG_PATTERN = /^[A-Za-z0-9_-]{1,32}$/;

export interface ProductOptions {
  productId: number;
  goodsTag: string | null;
  noCredit: boolean;
}

export interface UnifiedOrderOptions {
  goodsTag: string | null;
  limitPay: 'no_credit' | null;
  receipt: boolean;
  /** The single-product discount JSON (detail, version 1.0); only with a goods_tag. */
  detail: string | null;
}

/**
 * goods_tag: the products' tag when every product of the order has the same one (a campaign's
 * coupon applies to the goods it was made for; a mixed order has no single tag). limit_pay: one
 * product that refuses credit cards refuses them for the whole payment. detail: the goods list
 * WeChat needs to apply a single-product coupon, sent with the tag; its prices are ours.
 */
export function decideUnifiedOrderOptions(items: OrderItem[], totalFee: number, products: ProductOptions[], receipt: boolean): UnifiedOrderOptions {
  const ofItem = items.map(i => products.find(p => p.productId === i.productId));
  const tags = new Set(ofItem.map(p => p?.goodsTag ?? null));
  const [ onlyTag ] = [ ...tags ];
  const goodsTag = tags.size === 1 && onlyTag && GOODS_TAG_PATTERN.test(onlyTag) ? onlyTag : null;
  const limitPay = ofItem.some(p => p?.noCredit) ? 'no_credit' : null;
  return { goodsTag, limitPay, receipt, detail: goodsTag ? goodsDetail(items, totalFee) : null };
}

/**
 * WeChat's single-product detail: cost_price (fen) and goods_detail with goods_id, goods_name,
 * quantity and price (fen, per unit). Names are shortened, then goods dropped from the end, until
 * it fits WeChat's 6000 bytes; it always holds at least the first product.
 */
export function goodsDetail(items: OrderItem[], totalFee: number): string {
  const entry = (i: OrderItem, nameChars: number) => ({
    goods_id: String(i.productId), goods_name: [ ...i.name ].slice(0, nameChars).join(''), quantity: i.quantity, price: i.unitPriceFen,
  });
  const render = (list: OrderItem[], nameChars: number) =>
    JSON.stringify({ cost_price: totalFee, goods_detail: list.map(i => entry(i, nameChars)) });
  let text = render(items, 256);
  if (Buffer.byteLength(text, 'utf8') > MAX_DETAIL_BYTES) text = render(items, 32);
  for (let n = items.length - 1; n >= 1 && Buffer.byteLength(text, 'utf8') > MAX_DETAIL_BYTES; n--) text = render(items.slice(0, n), 32);
  return text;
}
