import { ValidationError } from './errors';

/** Small input checks for controllers: each names the offending field. */
export function requireObject(value: unknown, field = 'body'): Record<string, unknown> {
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new ValidationError(field, `${field} must be a JSON object`);
  return value as Record<string, unknown>;
}

export function requireString(value: unknown, field: string, opts: { max: number; pattern?: RegExp }): string {
  if (typeof value !== 'string' || value.length === 0) throw new ValidationError(field, `${field} must be a non-empty string`);
  if (value.length > opts.max) throw new ValidationError(field, `${field} must be at most ${opts.max} characters`);
  if (opts.pattern && !opts.pattern.test(value)) throw new ValidationError(field, `${field} has an invalid format`);
  return value;
}

export function requireInt(value: unknown, field: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw new ValidationError(field, `${field} must be an integer`);
  if (value < min || value > max) throw new ValidationError(field, `${field} must be between ${min} and ${max}`);
  return value;
}

/**
 * Characters XML 1.0 cannot carry (outside its Char production): C0 controls other than tab, line
 * feed and carriage return, U+FFFE, U+FFFF and unpaired surrogates. A value sent to WeChat inside
 * XML must not hold one, or the request is malformed.
 */
const NOT_XML_CHAR = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

/** Refuses text that XML 1.0 cannot carry, naming the characters refused. */
export function requireXmlText(value: string, field: string): string {
  if (NOT_XML_CHAR.test(value)) {
    throw new ValidationError(field, `${field} must not contain control characters other than tab, line feed and carriage return (U+0000-U+0008, U+000B, U+000C, U+000E-U+001F), U+FFFE, U+FFFF or unpaired surrogates`);
  }
  return value;
}
