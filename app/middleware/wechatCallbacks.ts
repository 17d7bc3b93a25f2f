import { Context } from 'egg';
import { WECHAT_CALLBACK_PATHS } from '../controller/notify';

type CallbackAction = keyof typeof WECHAT_CALLBACK_PATHS;
const ACTION_BY_PATH = new Map<string, CallbackAction>(Object.entries(WECHAT_CALLBACK_PATHS).map(([ action, path ]) => [ path, action as CallbackAction ]));

/**
 * WeChat's server-to-server callbacks (payment and refund notifications) are answered here, ahead
 * of the browser-facing core middleware they have no use for (site files, static files, JSON and
 * form body parsing, method override, security headers): they are the payment hot path, and
 * every layer costs on each of them (BENCHMARKS.md). Their routes stay declared in app/router.ts
 * like every other; this reaches the same controller methods sooner. The notify controller
 * answers every failure itself in WeChat's XML, so nothing it throws needs the layers skipped.
 */
export default () => async function wechatCallbacks(ctx: Context, next: () => Promise<any>) {
  const action = ctx.method === 'POST' ? ACTION_BY_PATH.get(ctx.path) : undefined;
  if (!action) return next();
  const controller = ctx.app.controller.notify as Record<CallbackAction, (this: Context, ctx: Context) => Promise<void>>;
  return controller[action].call(ctx, ctx);
};
