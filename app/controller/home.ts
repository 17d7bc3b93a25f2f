import { Controller } from 'egg';

export default class HomeController extends Controller {
  /** 200 when MySQL and Redis both answer, 503 otherwise; the body says which. */
  async health() {
    const report = await this.service.health.check();
    this.ctx.status = report.ok ? 200 : 503;
    this.ctx.body = { status: report.ok ? 'ok' : 'degraded', mysql: report.mysql, redis: report.redis };
  }
}
