/**
 * The cursor of a user's order list (GET /payment/orders): where the last page ended, as the
 * (createdAt, id) of its last order, the list's sort key (newest first). Opaque to clients:
 * base64url of a versioned string, so its form can change without breaking their code.
 */
export interface OrderCursor {
  createdAtMs: number;
  id: number;
}

const FORM = /^o1\.(\d{1,15})\.(\d{1,10})$/;

export function encodeOrderCursor(cursor: OrderCursor): string {
  return Buffer.from(`o1.${cursor.createdAtMs}.${cursor.id}`, 'utf8').toString('base64url');
}

/** The cursor, or undefined when `text` is not one this API hands out. */
export function decodeOrderCursor(text: string): OrderCursor | undefined {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(text)) return undefined;
  const decoded = Buffer.from(text, 'base64url').toString('utf8');
  const m = FORM.exec(decoded);
  // Re-encoding must give the same text: no padding variants or stray bits pass as the same cursor.
  if (!m || encodeOrderCursor({ createdAtMs: Number(m[1]), id: Number(m[2]) }) !== text) return undefined;
  const cursor = { createdAtMs: Number(m[1]), id: Number(m[2]) };
  if (!Number.isSafeInteger(cursor.createdAtMs) || cursor.id < 1 || cursor.id > 2 ** 32 - 1) return undefined;
  return cursor;
}
