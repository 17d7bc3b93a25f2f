'use strict';
// An example receiver of wxpay-backend's event webhooks (docs/events.md): checks the signature
// and its age before trusting a body, and acts on each event id once. Plain Node.js, no
// dependencies: copy it, or its verifySignature, into your own service.
const crypto = require('crypto');
const http = require('http');

/** How old (or how far in the future) a signature may be, in seconds, before it is refused as a replay. */
const DEFAULT_TOLERANCE_SECONDS = 300;

/**
 * Checks `X-Wxpay-Signature: t=<unix seconds>,v1=<hex>` against the raw body: v1 must be
 * HMAC-SHA256(secret, `${t}.${body}`) and t within toleranceSeconds of now. Returns null when it
 * holds, else why not.
 */
function verifySignature(header, rawBody, secret, { toleranceSeconds = DEFAULT_TOLERANCE_SECONDS, now = Date.now() } = {}) {
  if (typeof header !== 'string') return 'no signature header';
  const parts = Object.fromEntries(header.split(',').map(kv => {
    const i = kv.indexOf('=');
    return [ kv.slice(0, i).trim(), kv.slice(i + 1).trim() ];
  }));
  const t = Number(parts.t);
  if (!/^\d+$/.test(parts.t || '') || !/^[0-9a-f]{64}$/.test(parts.v1 || '')) return 'malformed signature header';
  if (Math.abs(now / 1000 - t) > toleranceSeconds) return 'stale signature';
  const expected = crypto.createHmac('sha256', secret).update(`${t}.${rawBody}`, 'utf8').digest();
  // Constant-time comparison, so the signature cannot be guessed byte by byte.
  if (!crypto.timingSafeEqual(expected, Buffer.from(parts.v1, 'hex'))) return 'signature does not match';
  return null;
}

/**
 * An HTTP server that accepts POSTed events: 400 for a refused signature, 200 for a verified
 * event (onEvent is called once per event id; a repeat is answered 200 and ignored).
 */
function createReceiver({ secret, toleranceSeconds = DEFAULT_TOLERANCE_SECONDS, onEvent = () => {}, onRefused = () => {} }) {
  if (!secret) throw new Error('the webhook secret is required');
  const seen = new Set();
  return http.createServer((req, res) => {
    const chunks = [];
    let size = 0;
    req.on('data', chunk => {
      size += chunk.length;
      if (size > 1024 * 1024) req.destroy();
      else chunks.push(chunk);
    });
    req.on('end', async () => {
      const rawBody = Buffer.concat(chunks).toString('utf8');
      const refused = req.method !== 'POST' ? 'POST only' : verifySignature(req.headers['x-wxpay-signature'], rawBody, secret, { toleranceSeconds });
      if (refused) {
        onRefused(refused, req);
        res.writeHead(400, { 'Content-Type': 'application/json' }).end(JSON.stringify({ error: refused }));
        return;
      }
      const event = JSON.parse(rawBody);
      // At-least-once delivery: the same event id can come again (a lost answer, a replay).
      if (!seen.has(event.id)) {
        try {
          await onEvent(event, req);
        } catch (err) {
          // Not acknowledged: the sender retries later.
          res.writeHead(500).end();
          return;
        }
        seen.add(event.id);
      }
      res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"received":true}');
    });
  });
}

module.exports = { verifySignature, createReceiver, DEFAULT_TOLERANCE_SECONDS };
