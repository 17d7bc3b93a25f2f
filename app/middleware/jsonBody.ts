import { Context } from 'egg';
import { UnsupportedMediaTypeError } from '../common/errors';

/**
 * Route middleware for JSON APIs: a body sent as anything but JSON (a form, text, XML) is refused
 * with 415 instead of being read as an empty object and reported as a missing field.
 */
export default () => async function jsonBody(ctx: Context, next: () => Promise<any>) {
  // is() answers null when there is no body at all (allowed: some POST routes take none).
  if (ctx.is('json') === false) throw new UnsupportedMediaTypeError();
  await next();
};
