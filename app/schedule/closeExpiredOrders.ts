import { Application, Context } from 'egg';

/** Closes NOTPAY orders past their expiry; once per tick cluster-wide (see OrderJobsService). */
export default (app: Application) => ({
  schedule: {
    type: 'worker',
    interval: app.config.payment.jobs.closeExpiredIntervalMs,
    disable: !app.config.payment.jobs.enabled,
  },
  async task(ctx: Context) {
    // Returned for app.runSchedule() in tests.
    return ctx.service.orderJobs.closeExpiredOrders();
  },
});
