import { Controller } from 'egg';

export default class ProductController extends Controller {
  /** GET /api/products: what can be ordered, with prices in fen. */
  async list() {
    this.ctx.body = { products: await this.service.catalog.listActive() };
  }
}
