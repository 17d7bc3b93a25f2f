import { Context } from 'egg';
import { AppError, databaseBusy, RateLimitedError } from '../common/errors';

/** The one place typed errors become HTTP replies: `{ code, message, field? }`. */
export default () => async function errorHandler(ctx: Context, next: () => Promise<any>) {
  try {
    await next();
    if (ctx.status === 404 && (!ctx.body || (ctx.body as any).code === undefined)) {
      ctx.status = 404;
      ctx.body = { code: 'NOT_FOUND', message: 'no such route' };
    }
  } catch (caught: any) {
    // No pool connection in time: the request did nothing and may be retried (503, not 500).
    const err = caught?.name === 'SequelizeConnectionAcquireTimeoutError' ? databaseBusy() : caught;
    if (err instanceof AppError) {
      ctx.status = err.status;
      ctx.body = { code: err.code, message: err.message, ...(err.field ? { field: err.field } : {}) };
      if (err instanceof RateLimitedError && err.retryAfterSeconds) ctx.set('Retry-After', String(err.retryAfterSeconds));
      if (err.status >= 500) ctx.logger.warn('[api] %s %s -> %s %s', ctx.method, ctx.path, err.status, err.code);
      return;
    }
    // Errors from the framework itself (body parser: malformed JSON, too large).
    const status = typeof err.status === 'number' ? err.status : 500;
    if (status === 400) {
      ctx.status = 400;
      ctx.body = { code: 'BAD_REQUEST', message: 'request body is not valid JSON' };
      return;
    }
    // egg-security's CSRF check (the console's cookie session, docs/console.md): the only 403 the framework throws.
    if (status === 403) {
      ctx.status = 403;
      ctx.body = { code: 'CSRF_REFUSED', message: `refused: ${err.message} (send the csrfToken cookie's value as x-csrf-token)` };
      return;
    }
    if (status === 413) {
      ctx.status = 413;
      ctx.body = { code: 'PAYLOAD_TOO_LARGE', message: 'request body is too large' };
      return;
    }
    if (status === 415) {
      ctx.status = 415;
      ctx.body = { code: 'UNSUPPORTED_MEDIA_TYPE', message: 'unsupported content type' };
      return;
    }
    ctx.logger.error(err);
    ctx.status = 500;
    ctx.body = { code: 'INTERNAL_ERROR', message: 'internal error' };
  }
};
