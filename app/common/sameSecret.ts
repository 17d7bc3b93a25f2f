import { createHash, timingSafeEqual } from 'node:crypto';

/** Compares a presented token with the configured one; SHA-256 first, so the time taken says nothing about either length. */
export function sameSecret(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
}
