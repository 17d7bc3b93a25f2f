import { Context } from 'egg';
import { UnauthorizedError } from '../common/errors';
import { sameSecret } from '../common/sameSecret';

/**
 * The POS API's guard (docs/pos.md): `Authorization: Bearer <ADMIN_TOKEN>` or
 * `Bearer <CASHIER_TOKEN>`, compared in constant time. It sets ctx.state.operator ('admin' or
 * 'cashier'); the cashier token opens only the routes behind this guard, never refunds (adminAuth).
 */
export default () => async function posAuth(ctx: Context, next: () => Promise<any>) {
  const { adminToken } = ctx.app.config;
  const { cashierToken } = ctx.app.config.pos;
  const match = /^Bearer (\S{1,256})$/.exec(ctx.get('authorization'));
  // Both compared whatever the first gives, so the answer's timing does not tell which token matched.
  const isAdmin = !!match && !!adminToken && sameSecret(match[1], adminToken);
  const isCashier = !!match && !!cashierToken && sameSecret(match[1], cashierToken);
  if (!isAdmin && !isCashier) {
    ctx.logger.warn('[pos] refused %s %s from %s: %s', ctx.method, ctx.path, ctx.ip, match ? 'wrong token' : 'no bearer token');
    throw new UnauthorizedError('POS_UNAUTHORIZED', 'the POS API needs Authorization: Bearer <admin or cashier token>');
  }
  ctx.state.operator = isAdmin ? 'admin' : 'cashier';
  await next();
};
