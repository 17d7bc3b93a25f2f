import { Application, Context } from 'egg';

/**
 * Reconciles yesterday's WeChat bill (and catches up on recent days without a result) once a day,
 * after WeChat has produced it (about 10:00 Beijing time); once per tick cluster-wide.
 */
export default (app: Application) => ({
  schedule: {
    type: 'worker',
    cron: app.config.reconciliation.cron,
    // WeChat's day and bill times are Beijing's, whatever the server's time zone.
    cronOptions: { tz: 'Asia/Shanghai' },
    disable: !app.config.reconciliation.jobEnabled,
  },
  async task(ctx: Context) {
    return ctx.service.reconciliation.runDaily();
  },
});
