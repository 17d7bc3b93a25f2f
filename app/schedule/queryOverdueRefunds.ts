import { Application, Context } from 'egg';

/** Asks WeChat about refunds still PROCESSING whose notification is overdue; once per tick cluster-wide. */
export default (app: Application) => ({
  schedule: {
    type: 'worker',
    interval: app.config.payment.jobs.queryOverdueRefundsIntervalMs,
    disable: !app.config.payment.jobs.enabled,
  },
  async task(ctx: Context) {
    return ctx.service.refund.queryOverdueRefunds();
  },
});
