import { Context } from 'egg';
import { NotFoundError, UnauthorizedError } from '../common/errors';
import { sameSecret } from '../common/sameSecret';
import { ON_METRICS_PORT } from '../infra/metricsWiring';

/**
 * GET /metrics' guard. With a metrics port (METRICS_PORT) it is served there only, to whoever
 * reaches that port, and the main port answers 404. Otherwise `Authorization: Bearer
 * <METRICS_TOKEN>` (constant-time comparison), else 401 METRICS_UNAUTHORIZED.
 */
export default () => async function metricsAuth(ctx: Context, next: () => Promise<any>) {
  const { token, port } = ctx.app.config.metrics;
  if (port) {
    if (!(ctx.req as any)[ON_METRICS_PORT]) throw new NotFoundError('NOT_FOUND', 'no such route');
    return next();
  }
  const match = /^Bearer (\S{1,256})$/.exec(ctx.get('authorization'));
  if (!token || !match || !sameSecret(match[1], token)) {
    ctx.logger.warn('[metrics] refused %s %s from %s: %s', ctx.method, ctx.path, ctx.ip, match ? 'wrong token' : 'no bearer token');
    throw new UnauthorizedError('METRICS_UNAUTHORIZED', 'GET /metrics needs Authorization: Bearer <metrics token>');
  }
  await next();
};
