import { Application, Context } from 'egg';

/** Deletes DELIVERED outbox events past their retention (docs/events.md#retention); once per tick cluster-wide. */
export default (app: Application) => ({
  schedule: {
    type: 'worker',
    interval: app.config.outbox.retention.intervalMs,
    disable: !app.config.payment.jobs.enabled,
  },
  async task(ctx: Context) {
    // Returned for app.runSchedule() in tests.
    return ctx.service.outbox.purgeDelivered();
  },
});
