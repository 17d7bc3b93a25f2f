import { Controller } from 'egg';

export default class MetricsController extends Controller {
  /** GET /metrics: the Prometheus text format, summed over every worker (docs/operations.md "Metrics"). */
  async show() {
    const { contentType, text } = await this.service.metrics.scrape();
    this.ctx.set('Content-Type', contentType);
    this.ctx.set('Cache-Control', 'no-store');
    this.ctx.body = text;
  }
}
