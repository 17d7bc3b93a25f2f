import { IncomingMessage, ServerResponse } from 'node:http';
import { Application, Context } from 'egg';
import { notifyReply } from '../../lib/wechatpay';
import type { CallbackLogger } from '../service/settlement';
import { NotifyResult, PaymentNotifyService } from './paymentNotify';
import { BodyTooLargeError, readRawBody } from './rawBody';

/** Where WeChat's servers POST each notification. */
export const WECHAT_CALLBACK_PATHS = { payment: '/payment/notify', refund: '/payment/refund-notify' } as const;

type RequestListener = (req: IncomingMessage, res: ServerResponse) => unknown;
type CallbackHandler = (raw: Buffer, ctx: Context, logger: CallbackLogger) => Promise<NotifyResult>;

/**
 * The callback lane: WeChat's server-to-server notifications are answered on the HTTP server's
 * request event, ahead of Koa, and every other request goes on to Koa (`next`). app.ts wraps
 * `app.callback()` with it, so the production server (egg-cluster) and the tests' servers
 * (egg-mock, test/support/env.ts) take the same path.
 *
 * Why not a route like the others: notifications are the payment hot path, and measured with
 * exactly the baseline's work behind both (BENCHMARKS.md), Egg's request pipeline (request
 * context, async-local storage, middleware chain, Koa's response handling) cost the worker about
 * as much CPU as the work itself; none of it (sessions, CSRF, body parsers, security headers)
 * applies to a signed XML body from WeChat. Each callback gets a bare request context (no
 * middleware runs) for what Egg knows of the request, such as the client IP (trusted proxy
 * headers only when `config.proxy`); the lane itself keeps the body size limit, log lines in
 * Egg's request format, and an XML answer for every outcome, failures included, never a hang.
 */
export function withWechatCallbacks(app: Application, next: RequestListener): RequestListener {
  const payments = new PaymentNotifyService(app);
  const handlers = new Map<string, { tag: string; handle: CallbackHandler }>([
    [ WECHAT_CALLBACK_PATHS.payment, { tag: '[notify]', handle: (raw, ctx, logger) => payments.handle(raw, ctx.ip, logger) } ],
    // Rare and not on the hot path: the refund rules are an Egg service, reached through the context.
    [ WECHAT_CALLBACK_PATHS.refund, { tag: '[refund-notify]', handle: (raw, ctx) => ctx.service.refundNotify.handle(raw, ctx.ip) } ],
  ]);
  return (req, res) => {
    const handler = req.method === 'POST' ? handlers.get(pathOf(req.url)) : undefined;
    if (!handler) return next(req, res);
    return answer(app, req, res, handler.tag, handler.handle).catch(err => {
      // Only writing the reply is left outside answer()'s own handling: the connection is gone or broken.
      app.logger.error('%s could not send the reply: %s', handler.tag, (err as Error).message);
      res.destroy();
    });
  };
}

function pathOf(url: string | undefined): string {
  if (!url) return '';
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}

/** Reads the raw body within the size limit, hands it over, and answers SUCCESS or FAIL XML. */
async function answer(app: Application, req: IncomingMessage, res: ServerResponse, tag: string, handle: CallbackHandler): Promise<void> {
  // Egg's createContext is typed as Koa's; what it builds is Egg's context.
  const ctx = app.createContext(req, res) as unknown as Context;
  const logger = requestLogger(app, ctx);
  let status = 200;
  let body: string;
  try {
    const raw = await readRawBody(req, app.config.payment.maxNotifyBytes).catch(err => {
      logger.warn('%s body refused: %s', tag, (err as Error).message);
      status = err instanceof BodyTooLargeError ? 413 : 400;
      return undefined;
    });
    if (!raw) {
      body = notifyReply(false, 'body refused');
    } else {
      const result = await handle(raw, ctx, logger);
      body = notifyReply(result.acknowledged, result.acknowledged ? 'OK' : 'refused');
    }
  } catch (err) {
    // Not known to be committed (database down, deadlock): FAIL, and WeChat resends; a resend of
    // one that did commit is answered as a repeat.
    logger.error('%s could not record notification: %s', tag, (err as Error).message);
    status = 500;
    body = notifyReply(false, 'try again');
  }
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, { 'content-type': 'text/xml; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** Log lines on the app's logger with the prefix Egg gives a request's lines: [user/ip/trace/time method url]. */
function requestLogger(app: Application, ctx: Context): CallbackLogger {
  const log = (level: 'info' | 'warn' | 'error') => (message: string, ...args: unknown[]) => {
    // The prefix goes into the format string: a % in the URL must not be taken for a placeholder.
    const prefix = `[-/${ctx.ip}/-/${Date.now() - ctx.starttime}ms ${ctx.method} ${ctx.url}] `.replace(/%/g, '%%');
    app.logger[level](prefix + message, ...args);
  };
  return { info: log('info'), warn: log('warn'), error: log('error') };
}
