import { readFileSync } from 'node:fs';

/**
 * Reads a setting from the environment; `NAME_FILE` (a path) wins over `NAME` so secrets can come
 * from mounted files instead of the process environment.
 */
export function fromEnv(name: string, fallback?: string): string | undefined {
  const file = process.env[`${name}_FILE`];
  if (file) return readFileSync(file, 'utf8').trim();
  const value = process.env[name];
  return value === undefined || value === '' ? fallback : value;
}

export function intFromEnv(name: string, fallback: number): number {
  const raw = fromEnv(name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value)) throw new Error(`${name} must be an integer, got ${JSON.stringify(raw)}`);
  return value;
}

/**
 * Development-only credentials, shared with the simulator's defaults. The prod config refuses to
 * start while any of them is in use.
 */
export const DEV_WECHAT = {
  appId: 'wx0000000000000001',
  appSecret: 'dev-app-secret-not-for-production',
  mchId: '1900000001',
  apiKey: 'devkey00000000000000000000000001',
  /** The simulator's second app under the same merchant, played as the official account. */
  oaAppId: 'wx0000000000000002',
  oaAppSecret: 'dev-oa-secret-not-for-production',
  /** The simulator's third app, played as the Open Platform mobile app (APP channel). */
  mobileAppId: 'wx0000000000000003',
  mobileAppSecret: 'dev-mobile-secret-not-for-production',
  adminToken: 'dev-admin-token-not-for-production',
  keys: 'dev-cookie-keys-not-for-production',
} as const;

/** The outbox webhook's development signing secret (issue 17); production refuses it. */
export const DEV_WEBHOOK_SECRET = 'dev-webhook-secret-not-for-production';
