import { Context } from 'egg';
import { CONSOLE_COOKIE } from '../../config/config.default';
import { UnauthorizedError } from '../common/errors';
import { sameSecret } from '../common/sameSecret';

/**
 * The admin API's guard: `Authorization: Bearer <ADMIN_TOKEN>` (config.adminToken), compared in
 * constant time, or, without that header, the operator console's session cookie (whose
 * state-changing requests egg-security has already checked for the CSRF token: config.security).
 * Anything else, a user's session token included, is 401 ADMIN_UNAUTHORIZED: admin rights never
 * come from a mini-program login.
 */
export default () => async function adminAuth(ctx: Context, next: () => Promise<any>) {
  const authorization = ctx.get('authorization');
  if (!authorization) {
    const sid = ctx.cookies.get(CONSOLE_COOKIE, { signed: true });
    const session = sid ? await ctx.service.adminSession.find(sid) : null;
    if (!session) {
      throw new UnauthorizedError('ADMIN_UNAUTHORIZED', sid ? 'the console session has expired: sign in again' :
        'the admin API needs Authorization: Bearer <admin token>');
    }
    ctx.state.admin = 'console';
    ctx.state.consoleSession = session;
    await next();
    return;
  }
  const expected = ctx.app.config.adminToken;
  const match = /^Bearer (\S{1,256})$/.exec(authorization);
  if (!expected || !match || !sameSecret(match[1], expected)) {
    ctx.logger.warn('[admin] refused %s %s from %s: %s', ctx.method, ctx.path, ctx.ip, match ? 'wrong token' : 'no bearer token');
    throw new UnauthorizedError('ADMIN_UNAUTHORIZED', 'the admin API needs Authorization: Bearer <admin token>');
  }
  ctx.state.admin = 'token';
  await next();
};
