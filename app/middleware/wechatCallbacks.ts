import { Context } from 'egg';

/**
 * WeChat's server-to-server callbacks (payment and refund notifications) are answered here, ahead
 * of the browser-facing core middleware they have no use for (site files, static files, JSON and
 * form body parsing, method override, security headers): they are the payment hot path, and
 * every layer costs on each of them (BENCHMARKS.md). Their routes stay declared in app/router.ts
 * like every other; this reaches the same controller methods sooner. The notify controller
 * answers every failure itself in WeChat's XML, so nothing it throws needs the layers skipped.
 */
export default () => async function wechatCallbacks(ctx: Context, next: () => Promise<any>) {
  if (ctx.method === 'POST') {
    const controller = ctx.app.controller.notify as Record<'payment' | 'refund', (this: Context, ctx: Context) => Promise<void>>;
    if (ctx.path === '/payment/notify') return controller.payment.call(ctx, ctx);
    if (ctx.path === '/payment/refund-notify') return controller.refund.call(ctx, ctx);
  }
  return next();
};
