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
