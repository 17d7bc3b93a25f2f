import type { IModel } from 'egg';
import { QueryTypes } from 'sequelize';

/** A product as pricing reads it. */
export interface PriceableProduct {
  id: number;
  name: string;
  priceFen: number;
  goodsTag: string | null;
  noCredit: boolean;
}

/** The catalog's read on every Buy, in plain SQL through the one Sequelize pool: no model instances for a few columns. */
export class ProductRepository {
  constructor(private readonly model: IModel) {}

  /** The active products among `ids` (those missing or inactive are simply not answered). */
  async findActive(ids: number[]): Promise<PriceableProduct[]> {
    if (ids.length === 0) return [];
    const rows = await this.model.query<{ id: number | string; name: string; price_fen: number; goods_tag: string | null; no_credit: number }>(
      'SELECT id, name, price_fen, goods_tag, no_credit FROM products WHERE id IN (?) AND active = 1',
      { replacements: [ ids ], type: QueryTypes.SELECT });
    return rows.map(r => ({ id: Number(r.id), name: r.name, priceFen: r.price_fen, goodsTag: r.goods_tag, noCredit: !!r.no_credit }));
  }
}
