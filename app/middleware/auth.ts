import { Context } from 'egg';
import { UnauthorizedError } from '../common/errors';

/** Requires `Authorization: Bearer <token>` naming a live session; puts it on ctx.state.user. */
export default () => async function auth(ctx: Context, next: () => Promise<any>) {
  const header = ctx.get('authorization');
  const match = /^Bearer ([A-Za-z0-9_-]{20,128})$/.exec(header);
  if (!match) throw new UnauthorizedError('UNAUTHORIZED', 'missing or malformed bearer token');
  const session = await ctx.service.session.resolve(match[1]);
  if (!session) throw new UnauthorizedError('SESSION_EXPIRED', 'session token is invalid or expired, log in again');
  ctx.state.user = session;
  await next();
};
