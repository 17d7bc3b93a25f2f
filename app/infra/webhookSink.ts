import { createHmac } from 'node:crypto';

/** The header carrying `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>` (docs/events.md). */
export const SIGNATURE_HEADER = 'X-Wxpay-Signature';

/** The signature of a webhook body sent at `timestamp` (unix seconds). */
export function webhookSignature(secret: string, timestamp: number, body: string): string {
  const v1 = createHmac('sha256', secret).update(`${timestamp}.${body}`, 'utf8').digest('hex');
  return `t=${timestamp},v1=${v1}`;
}

export interface WebhookTarget {
  url: string;
  secret: string;
  timeoutMs: number;
}

/**
 * POSTs one event's JSON to the merchant's URL, signed over the time and the body, with the event
 * id as idempotency key. Resolves only on a 2xx answer; any other status, a redirect, a timeout or
 * a transport error rejects with why.
 */
export async function postWebhook(target: WebhookTarget, eventId: string, eventType: string, body: string, now = new Date()): Promise<void> {
  const timestamp = Math.floor(now.getTime() / 1000);
  let res: Response;
  try {
    res = await fetch(target.url, {
      method: 'POST',
      redirect: 'manual',
      signal: AbortSignal.timeout(target.timeoutMs),
      headers: {
        'Content-Type': 'application/json',
        'User-Agent': 'wxpay-backend-webhook/1',
        'Idempotency-Key': eventId,
        'X-Wxpay-Event-Id': eventId,
        'X-Wxpay-Event-Type': eventType,
        [SIGNATURE_HEADER]: webhookSignature(target.secret, timestamp, body),
      },
      body,
    });
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } };
    if (e.name === 'TimeoutError' || e.name === 'AbortError') throw new Error(`webhook: no answer within ${target.timeoutMs} ms`);
    throw new Error(`webhook: ${e.cause?.code ?? e.message}`);
  }
  // The body is not needed; reading it lets the connection be reused.
  await res.arrayBuffer().catch(() => undefined);
  if (res.status < 200 || res.status > 299) throw new Error(`webhook: answered HTTP ${res.status}`);
}
