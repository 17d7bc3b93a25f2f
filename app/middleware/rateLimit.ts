import { Context } from 'egg';
import { RateLimitRuleName, WhenCounterDown } from '../service/rateLimit';

export interface RateLimitOptions {
  rule: RateLimitRuleName;
  /** 'ip': the client address (see TRUST_PROXY); 'user': the session's user, so after `auth`. */
  per: 'ip' | 'user';
  whenCounterDown: WhenCounterDown;
}

/** Route middleware: counts the request against a rate limit rule before the controller runs. */
export default (options: RateLimitOptions) => async function rateLimit(ctx: Context, next: () => Promise<any>) {
  const subject = options.per === 'user' ? `u${ctx.state.user.userId}` : `ip${ctx.ip}`;
  await ctx.service.rateLimit.consume(options.rule, subject, options.whenCounterDown);
  await next();
};
