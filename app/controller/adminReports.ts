import { Controller } from 'egg';
import { ValidationError } from '../common/errors';
import { requireString } from '../common/validate';
import { addDays, beijingDate, isCalendarDay } from '../domain/beijingDays';

/** Admin API (adminAuth): the dashboard's figures and the reconciliation reports. */
export default class AdminReportsController extends Controller {
  /** GET /admin/dashboard?days=30 */
  async dashboard() {
    const raw = this.ctx.query.days;
    const days = raw === undefined ? 30 : Number(raw);
    if (!/^\d{1,3}$/.test(String(raw ?? '30')) || days < 1 || days > 90) throw new ValidationError('days', 'days must be an integer between 1 and 90');
    this.ctx.body = await this.service.adminReports.dashboard(days);
  }

  /** GET /admin/reconciliations?from&to (Beijing days; default the last 30 up to today) */
  async list() {
    const today = beijingDate(new Date());
    const to = this.ctx.query.to === undefined ? today : this.day(this.ctx.query.to, 'to');
    const from = this.ctx.query.from === undefined ? addDays(to, -29) : this.day(this.ctx.query.from, 'from');
    if (from > to) throw new ValidationError('to', 'to must not be before from');
    this.ctx.body = { reconciliations: await this.service.adminReports.reconciliations(from, to) };
  }

  /** GET /admin/reconciliations/:billDate */
  async show() {
    this.ctx.body = await this.service.adminReports.reconciliation(this.day(this.ctx.params.billDate, 'billDate'));
  }

  /** POST /admin/reconciliations/:billDate/run: reconcile the day again. */
  async run() {
    this.ctx.body = await this.service.adminReports.rerun(this.day(this.ctx.params.billDate, 'billDate'));
  }

  private day(value: unknown, field: string): string {
    const day = requireString(value, field, { max: 10, pattern: /^\d{4}-\d{2}-\d{2}$/ });
    if (!isCalendarDay(day)) throw new ValidationError(field, `${field} must be a calendar day as YYYY-MM-DD (Beijing)`);
    return day;
  }
}
