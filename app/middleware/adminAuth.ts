import { createHash, timingSafeEqual } from 'node:crypto';
import { Context } from 'egg';
import { UnauthorizedError } from '../common/errors';

/** SHA-256 first, so the comparison takes the same time whatever the lengths. */
export function sameSecret(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
}

/**
 * The admin API's guard: `Authorization: Bearer <ADMIN_TOKEN>` (config.adminToken), compared in
 * constant time. Anything else, a user's session token included, is 401 ADMIN_UNAUTHORIZED: admin
 * rights never come from a mini-program login.
 */
export default () => async function adminAuth(ctx: Context, next: () => Promise<any>) {
  const expected = ctx.app.config.adminToken;
  const match = /^Bearer (\S{1,256})$/.exec(ctx.get('authorization'));
  if (!expected || !match || !sameSecret(match[1], expected)) {
    ctx.logger.warn('[admin] refused %s %s from %s: %s', ctx.method, ctx.path, ctx.ip, match ? 'wrong token' : 'no bearer token');
    throw new UnauthorizedError('ADMIN_UNAUTHORIZED', 'the admin API needs Authorization: Bearer <admin token>');
  }
  ctx.state.admin = true;
  await next();
};
