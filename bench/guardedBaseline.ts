/* eslint-disable no-inner-declarations */ // A bare server in one file, on purpose: a baseline.
/**
 * The same-guarantee baseline `npm run bench` also measures the service against: a bare node:http
 * + mysql2 server that gives exactly the service's guarantees with the fewest statements and round
 * trips a careful engineer would write. Where bench/baseline.ts does the least work that answers
 * the request, this one does the work the service promises, so service / this is the cost of the
 * framework and the code, not of the guarantees. Same protocol code (lib/wechatpay), same
 * settlement rules (app/domain/settlementRules.ts, pure), same MariaDB, Redis and sign type, as
 * many worker processes as the service (node:cluster), every connection READ COMMITTED.
 *
 *   POST /payment/notify  body read within the size limit; readNotification (XML, return_code,
 *     appid, mch_id; a refusal recorded in the audit); then one transaction in two round trips:
 *     (1) START TRANSACTION, the order row locked (FOR UPDATE) with its owner's openid, then all
 *     its attempts locked, and the holder of the reported transaction_id; the rules decide
 *     (signature with the order's sign type, appid, amount, owner, transaction_id);
 *     (2) the attempt (with the paid amounts: cash, coupons, settled) and order updates, the event
 *     row, its outbox row (per-order seq computed in SQL, payload built by app/domain/outboxRules.ts
 *     from the order row read under the lock and the changes) and the audit row, COMMIT. A repeat
 *     is the same with (2) the audit row (DUPLICATE) and COMMIT. SUCCESS only after the commit.
 *   POST /payment/order  bearer session from Redis, the order-per-user rate limit counted in
 *     Redis (INCR + EXPIRE in one MULTI), body validated, products priced, then in one round trip
 *     the order (with its Idempotency-Key under the unique key), its first attempt and the
 *     order's current attempt, COMMIT; a key already used answers that order; unified order at
 *     the simulator; then in one round trip the order row and the attempt locked (the lock
 *     order of docs/decisions/0002-lock-order.md), the prepay_id stored only while the attempt is
 *     open, COMMIT; wx.requestPayment fields signed with the attempt's sign type.
 *   GET /payment/orders/:outTradeNo  session, the status-per-user rate limit, one SELECT of the
 *     owner's order (for the flash-sale scenario). The service also asks WeChat about an order
 *     still unpaid 10 s after its prepay (ORDER_QUERY_AFTER_SECONDS); this does not.
 * Not done here, where the service does: log lines, request ids, Egg's security headers.
 */
import cluster from 'node:cluster';
import { createHash, randomUUID } from 'node:crypto';
import * as http from 'node:http';
import mysql from 'mysql2/promise';
import { baselineClients, baselineSettings, MYSQL_SERVER, runBaselinePrimary } from './fixtures';
import {
  merchantNumber, notifyReply, OUT_TRADE_NO_PATTERN, readNotification, requestPaymentParams, toBeijingCompact, WechatError,
} from '../lib/wechatpay';
import { auditOutcomeOf, claimedTransactionId, decideNotification, orderFactsAfter, SettlementRows } from '../app/domain/settlementRules';
import { eventPayload, outboxTypeOf } from '../app/domain/outboxRules';

const env = process.env;
const SETTINGS = baselineSettings();
const { workers: WORKERS, port: PORT, appId: APPID, mchId: MCH_ID, apiKey: API_KEY, signType: SIGN_TYPE } = SETTINGS;
const MAX_BODY = 16 * 1024;
const MAX_JSON = 64 * 1024;
const ORDER_TTL_MS = 30 * 60 * 1000;
const PREPAY_VALIDITY_MS = 2 * 3600 * 1000;
const ORDER_LIMIT = Number(env.RATE_LIMIT_ORDER_PER_USER ?? 30);
const STATUS_LIMIT = Number(env.RATE_LIMIT_STATUS_PER_USER ?? 120);
const WINDOW_SECONDS = Number(env.RATE_LIMIT_WINDOW_SECONDS ?? 60);

if (cluster.isPrimary) {
  runBaselinePrimary('same-guarantee baseline', WORKERS, PORT);
} else {
  // Stopped by its primary with SIGTERM: exit normally, so a --cpu-prof profile gets written.
  process.on('SIGTERM', () => process.exit(0));
  const pool = mysql.createPool({
    ...MYSQL_SERVER, database: env.MYSQL_DATABASE, connectionLimit: Number(env.MYSQL_POOL_MAX ?? 10),
    timezone: '+00:00', multipleStatements: true,
  });
  // As the service: READ COMMITTED, so locking reads hold only the rows they name.
  pool.pool.on('connection', (conn: any) => conn.query('SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED'));
  const { redis, pay } = baselineClients(SETTINGS);

  class TooLarge extends Error {}
  const readBody = (req: http.IncomingMessage, limit: number) => new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) { req.removeAllListeners('data'); req.resume(); reject(new TooLarge()); return; }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
  const send = (res: http.ServerResponse, status: number, type: string, body: string) => {
    res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
    res.end(body);
  };
  const json = (res: http.ServerResponse, status: number, body: unknown) => send(res, status, 'application/json', JSON.stringify(body));
  const AUDIT_SQL = 'INSERT INTO payment_notifications (kind, out_trade_no, transaction_id, raw_body, parsed, outcome, reason, remote_ip, created_at, updated_at) ' +
    'VALUES (\'pay\', ?, ?, ?, ?, ?, ?, ?, NOW(3), NOW(3))';
  const cut = (v: unknown) => (typeof v === 'string' ? v.slice(0, 32) : null);
  const auditValues = (rawBody: string, fields: Record<string, string> | undefined, outcome: string, reason: string | null, ip: string) =>
    [ cut(fields?.out_trade_no), cut(fields?.transaction_id), rawBody, fields ? JSON.stringify(fields) : null, outcome, reason?.slice(0, 255) ?? null, ip.slice(0, 64) ];

  async function notify(req: http.IncomingMessage, res: http.ServerResponse) {
    let raw: Buffer;
    try {
      raw = await readBody(req, MAX_BODY);
    } catch (err) {
      return send(res, err instanceof TooLarge ? 413 : 400, 'text/xml', notifyReply(false, 'body refused'));
    }
    const ip = req.socket.remoteAddress ?? '';
    const rawBody = raw.toString('utf8');
    const read = readNotification(raw, { appIds: [ APPID ], mchId: MCH_ID, maxBytes: MAX_BODY });
    const outTradeNo = read.fields?.out_trade_no;
    const refusal = read.refused ?? (outTradeNo ? undefined : 'out_trade_no is missing');
    if (refusal !== undefined) {
      await pool.execute(AUDIT_SQL, auditValues(rawBody, read.fields, 'REJECTED', refusal, ip));
      return send(res, 200, 'text/xml', notifyReply(false, 'refused'));
    }
    const fields = read.fields!;
    const conn = await pool.getConnection();
    try {
      // Round trip 1: begin; the order row locked first, with its owner; then its attempts; the
      // transaction_id's holder (unlocked: its unique index refuses a late taker anyway).
      const [ results ] = await conn.query<any[]>(
        // Which order: a plain SELECT ... INTO (InnoDB reads a SET's subquery with a shared lock, which
        // would lock the attempt before its order).
        'START TRANSACTION; SET @o := NULL; SELECT order_id INTO @o FROM payment_attempts WHERE out_trade_no = ?; ' +
        'SELECT o.id, o.out_trade_no, o.status, o.total_fee, o.appid, o.refunded_fee, o.refund_required, o.items, o.attach, o.transaction_id, ' +
        'o.created_at, o.paid_at, o.closed_at, (SELECT openid FROM users u WHERE u.id = o.user_id) AS owner FROM orders o WHERE o.id = @o FOR UPDATE; ' +
        'SELECT id, out_trade_no, status, total_fee, sign_type, appid, transaction_id, trade_type FROM payment_attempts WHERE order_id = @o ORDER BY id FOR UPDATE; ' +
        'SELECT out_trade_no FROM payment_attempts WHERE transaction_id = ?',
        [ outTradeNo, claimedTransactionId(fields.transaction_id) ?? null ]);
      const [ order ] = results[3] as any[];
      const attempt = (results[4] as any[]).find(a => a.out_trade_no === outTradeNo);
      const holder = (results[5] as any[])[0]?.out_trade_no ?? null;
      const rows: SettlementRows | null = order && attempt ? {
        order: { id: order.id, outTradeNo: order.out_trade_no, status: order.status, totalFee: order.total_fee },
        attempt: {
          id: attempt.id, outTradeNo: attempt.out_trade_no, status: attempt.status, totalFee: attempt.total_fee,
          signType: attempt.sign_type, appid: attempt.appid, transactionId: attempt.transaction_id, tradeType: attempt.trade_type,
        },
        ownerOpenid: order.owner, transactionIdHolder: holder,
      } : null;
      const { outcome, changes } = decideNotification(rows, fields, API_KEY, new Date());
      // Round trip 2: the changes, the audit row, COMMIT. Counts need no check: the rows were read
      // under their locks; a transaction_id taken meanwhile fails its unique index (rolled back below).
      const sql: string[] = [];
      const args: unknown[] = [];
      if (rows && changes.attemptPaid) {
        const amounts = changes.attemptPaid.amounts;
        if (amounts) {
          sql.push('UPDATE payment_attempts SET status = \'PAID\', transaction_id = ?, cash_fee = ?, coupon_fee = ?, coupon_count = ?, ' +
            'settlement_total_fee = ?, coupons = ?, updated_at = NOW(3) WHERE id = ?');
          args.push(changes.attemptPaid.transactionId, amounts.cashFee, amounts.couponFee, amounts.couponCount, amounts.settlementTotalFee,
            amounts.coupons.length > 0 ? JSON.stringify(amounts.coupons) : null, rows.attempt.id);
        } else {
          sql.push('UPDATE payment_attempts SET status = \'PAID\', transaction_id = ?, updated_at = NOW(3) WHERE id = ?');
          args.push(changes.attemptPaid.transactionId, rows.attempt.id);
        }
      }
      if (rows && changes.attemptFailed) {
        const { errCode, errCodeDes, markFailed } = changes.attemptFailed;
        sql.push(`UPDATE payment_attempts SET err_code = ?, err_code_des = ?${markFailed ? ', status = \'FAILED\'' : ''}, updated_at = NOW(3) WHERE id = ?`);
        args.push(errCode, errCodeDes, rows.attempt.id);
      }
      if (rows && changes.orderPaid) {
        sql.push('UPDATE orders SET status = \'SUCCESS\', paid_attempt_id = ?, transaction_id = ?, paid_at = ?, bank_type = ?, updated_at = NOW(3) WHERE id = ?');
        args.push(rows.attempt.id, changes.orderPaid.transactionId, changes.orderPaid.paidAt, changes.orderPaid.bankType, rows.order.id);
      }
      if (rows && changes.refundRequired) {
        sql.push('UPDATE orders SET refund_required = 1, updated_at = NOW(3) WHERE id = ?');
        args.push(rows.order.id);
      }
      if (rows && changes.event) {
        sql.push('INSERT INTO order_events (order_id, type, source, detail, created_at) VALUES (?, ?, \'notify\', ?, NOW(3))');
        args.push(rows.order.id, changes.event.type, changes.event.detail);
        // Its outbox event (as the service since issue 17): the next per-order seq computed in SQL (the
        // order row is locked), the payload from the row read under the lock and the changes.
        const detail = JSON.parse(changes.event.detail);
        const type = outboxTypeOf(changes.event.type, detail);
        if (type) {
          const payload = eventPayload(orderFactsAfter({
            outTradeNo: order.out_trade_no, appId: order.appid, openid: order.owner ?? null, status: order.status, totalFee: order.total_fee,
            refundedFee: order.refunded_fee, refundRequired: Boolean(order.refund_required), items: JSON.parse(order.items), attach: order.attach ?? null,
            transactionId: order.transaction_id ?? null, createdAt: order.created_at, paidAt: order.paid_at ?? null, closedAt: order.closed_at ?? null,
          }, changes), {
            payment: { outTradeNo: String(detail.outTradeNo), transactionId: detail.transactionId, totalFee: Number(detail.totalFee) }, source: 'notify',
          });
          sql.push('INSERT INTO outbox_events (event_id, type, order_id, out_trade_no, seq, payload, next_attempt_at, created_at, updated_at) ' +
            'SELECT ?, ?, ?, ?, COALESCE(MAX(seq), 0) + 1, ?, NOW(3), NOW(3), NOW(3) FROM outbox_events WHERE order_id = ?');
          args.push(`evt_${randomUUID().replace(/-/g, '')}`, type, rows.order.id, rows.order.outTradeNo, JSON.stringify(payload), rows.order.id);
        }
      }
      const audit = auditOutcomeOf(outcome);
      sql.push(AUDIT_SQL, 'COMMIT');
      args.push(...auditValues(rawBody, fields, audit.outcome, audit.reason, ip));
      await conn.query(sql.join('; '), args);
      const acknowledged = outcome.result !== 'REJECTED';
      return send(res, 200, 'text/xml', notifyReply(acknowledged, acknowledged ? 'OK' : 'refused'));
    } catch (err) {
      await conn.query('ROLLBACK').catch(() => undefined);
      await pool.execute(AUDIT_SQL, auditValues(rawBody, fields, 'ERROR', `not settled: ${(err as Error).message}`, ip)).catch(() => undefined);
      return send(res, 500, 'text/xml', notifyReply(false, 'try again'));
    } finally {
      conn.release();
    }
  }

  /**
   * The owner's order as the service answers a retried create: the same order, its prepay signed;
   * an attempt whose prepay was never stored (the first request met a WeChat failure) gets the
   * unified order again, same number and fields, as the service's prepay does.
   */
  async function retried(res: http.ServerResponse, user: { userId: number; openid: string }, key: string, totalFee: number, items: string) {
    const [ rows ] = await pool.execute<any[]>(
      'SELECT o.id, o.out_trade_no, o.total_fee, o.items, o.body, o.expires_at, a.id AS attempt_id, a.status AS attempt_status, a.prepay_id, ' +
      'a.appid, a.sign_type, a.time_start, a.time_expire FROM orders o JOIN payment_attempts a ON a.id = o.current_attempt_id ' +
      'WHERE o.user_id = ? AND o.idempotency_key = ?', [ user.userId, key ]);
    const order = rows[0];
    if (!order || order.total_fee !== totalFee || order.items !== items) return json(res, 409, { code: 'IDEMPOTENCY_KEY_REUSED' });
    if (!order.prepay_id) {
      if (order.attempt_status !== 'CREATED') return json(res, 409, { code: 'ORDER_CHANGED' });
      return prepayAndAnswer(res, {
        orderId: order.id, attemptId: order.attempt_id, outTradeNo: order.out_trade_no, orderBody: order.body, totalFee,
        openid: user.openid, timeStart: order.time_start, timeExpire: order.time_expire, expiresAt: order.expires_at,
      });
    }
    const params = requestPaymentParams({ appId: order.appid, prepayId: order.prepay_id, apiKey: API_KEY, signType: order.sign_type });
    return json(res, 200, { appId: order.appid, ...params, outTradeNo: order.out_trade_no });
  }

  /** The session (bearer token, its user) and the rule's request counted; undefined once an error is answered. */
  async function authorize(req: http.IncomingMessage, res: http.ServerResponse, rule: string, limit: number) {
    const token = /^Bearer ([A-Za-z0-9_-]{20,128})$/.exec(req.headers.authorization ?? '')?.[1];
    if (!token) return void json(res, 401, { code: 'UNAUTHORIZED' });
    const session = await redis.get(`session:${createHash('sha256').update(token).digest('hex')}`);
    if (!session) return void json(res, 401, { code: 'SESSION_EXPIRED' });
    const parsedSession = JSON.parse(session);
    const user = { userId: Number(parsedSession.userId), openid: String(parsedSession.openid), appId: parsedSession.appId || APPID };
    if (limit > 0) {
      const window = Math.floor(Date.now() / 1000 / WINDOW_SECONDS);
      const key = `ratelimit:${rule}:u${user.userId}:${window}`;
      const [[ , count ]] = await redis.multi().incr(key).expire(key, WINDOW_SECONDS + 1)
        .exec();
      if (Number(count) > limit) return void json(res, 429, { code: 'RATE_LIMITED' });
    }
    return user;
  }

  /** GET /payment/orders/:outTradeNo: the owner's view of the order, as the service answers it. */
  async function status(req: http.IncomingMessage, res: http.ServerResponse) {
    const user = await authorize(req, res, 'statusPerUser', STATUS_LIMIT);
    if (!user) return;
    const outTradeNo = req.url!.slice('/payment/orders/'.length);
    if (!OUT_TRADE_NO_PATTERN.test(outTradeNo)) return json(res, 422, { code: 'VALIDATION_FAILED' });
    const [ rows ] = await pool.execute<any[]>(
      'SELECT out_trade_no, status, total_fee, body, items, created_at, expires_at, paid_at, transaction_id, refunded_fee, attach FROM orders ' +
      'WHERE out_trade_no = ? AND user_id = ?', [ outTradeNo, user.userId ]);
    const o = rows[0];
    if (!o) return json(res, 404, { code: 'ORDER_NOT_FOUND' });
    return json(res, 200, {
      outTradeNo: o.out_trade_no, status: o.status, totalFee: o.total_fee, body: o.body, items: JSON.parse(o.items),
      createdAt: o.created_at.toISOString(), expiresAt: o.expires_at.toISOString(), paidAt: o.paid_at ? o.paid_at.toISOString() : null,
      transactionId: o.transaction_id, refundedFee: o.refunded_fee ?? 0, attach: o.attach,
    });
  }

  async function order(req: http.IncomingMessage, res: http.ServerResponse) {
    const user = await authorize(req, res, 'orderPerUser', ORDER_LIMIT);
    if (!user) return;
    if (user.appId !== APPID) return json(res, 401, { code: 'SESSION_APP_UNKNOWN' });
    if (!/^application\/json/.test(req.headers['content-type'] ?? '')) return json(res, 415, { code: 'UNSUPPORTED_MEDIA_TYPE' });
    let body: any;
    try {
      body = JSON.parse((await readBody(req, MAX_JSON)).toString('utf8'));
    } catch {
      return json(res, 400, { code: 'BAD_REQUEST' });
    }
    const rawItems = Array.isArray(body?.items) ? body.items : [];
    const valid = (n: unknown, max: number) => Number.isInteger(n) && (n as number) >= 1 && (n as number) <= max;
    if (!rawItems.length || rawItems.length > 20 || !rawItems.every((i: any) => valid(i?.productId, 2 ** 31 - 1) && valid(i.quantity ?? 1, 99))) {
      return json(res, 422, { code: 'VALIDATION_FAILED' });
    }
    const keyHeader = req.headers['idempotency-key'];
    const idempotencyKey = typeof keyHeader === 'string' && keyHeader ? keyHeader : null;
    if (idempotencyKey && !/^[A-Za-z0-9_\-:.]{1,64}$/.test(idempotencyKey)) return json(res, 422, { code: 'VALIDATION_FAILED' });

    const ids = [ ...new Set<number>(rawItems.map((i: any) => i.productId)) ];
    const [ products ] = await pool.query<mysql.RowDataPacket[]>('SELECT id, name, price_fen FROM products WHERE id IN (?) AND active = 1', [ ids ]);
    const byId = new Map(products.map(p => [ Number(p.id), p ]));
    if (ids.some(id => !byId.has(id))) return json(res, 422, { code: 'VALIDATION_FAILED' });
    const quantities = new Map<number, number>();
    for (const i of rawItems) quantities.set(i.productId, (quantities.get(i.productId) ?? 0) + (i.quantity ?? 1));
    const items = [ ...quantities ].map(([ productId, quantity ]) => ({ productId, name: byId.get(productId)!.name, unitPriceFen: byId.get(productId)!.price_fen, quantity }));
    const totalFee = items.reduce((sum, i) => sum + i.unitPriceFen * i.quantity, 0);
    const orderBody = Buffer.from(items.map(i => (i.quantity > 1 ? `${i.name} x${i.quantity}` : i.name)).join(', ')).subarray(0, 128).toString('utf8')
      .replace(/\uFFFD$/, '');
    const itemsJson = JSON.stringify(items);
    const outTradeNo = merchantNumber('P');
    const expiresAt = new Date(Date.now() + ORDER_TTL_MS);
    const timeStart = toBeijingCompact(new Date());
    const timeExpire = toBeijingCompact(expiresAt);

    // One round trip: the order (its key under the unique key), its first attempt, the link, COMMIT.
    let orderId: number;
    let attemptId: number;
    const conn = await pool.getConnection();
    try {
      const [ results ] = await conn.query<any[]>(
        'START TRANSACTION; ' +
        'INSERT INTO orders (out_trade_no, user_id, idempotency_key, total_fee, body, items, status, sign_type, appid, trade_type, expires_at, created_at, updated_at) ' +
        'VALUES (?, ?, ?, ?, ?, ?, \'NOTPAY\', ?, ?, \'JSAPI\', ?, NOW(3), NOW(3)); SET @o := LAST_INSERT_ID(); ' +
        'INSERT INTO payment_attempts (order_id, out_trade_no, total_fee, sign_type, appid, trade_type, status, time_start, time_expire, created_at, updated_at) ' +
        'VALUES (@o, ?, ?, ?, ?, \'JSAPI\', \'CREATED\', ?, ?, NOW(3), NOW(3)); SET @a := LAST_INSERT_ID(); ' +
        'UPDATE orders SET current_attempt_id = @a WHERE id = @o; SELECT @o AS orderId, @a AS attemptId; COMMIT',
        [ outTradeNo, user.userId, idempotencyKey, totalFee, orderBody, itemsJson, SIGN_TYPE, APPID, expiresAt,
          outTradeNo, totalFee, SIGN_TYPE, APPID, timeStart, timeExpire ]);
      ({ orderId, attemptId } = results[6][0]);
    } catch (err: any) {
      await conn.query('ROLLBACK').catch(() => undefined);
      if (err.code === 'ER_DUP_ENTRY' && idempotencyKey) return retried(res, user, idempotencyKey, totalFee, itemsJson);
      throw err;
    } finally {
      conn.release();
    }

    return prepayAndAnswer(res, { orderId, attemptId, outTradeNo, orderBody, totalFee, openid: user.openid, timeStart, timeExpire, expiresAt });
  }

  /** The unified order for the order's attempt, its prepay_id stored under the locks, the signed wx.requestPayment fields. */
  async function prepayAndAnswer(res: http.ServerResponse, o: {
    orderId: number; attemptId: number; outTradeNo: string; orderBody: string; totalFee: number; openid: string;
    timeStart: string; timeExpire: string; expiresAt: Date;
  }) {
    const { orderId, attemptId, outTradeNo, orderBody, totalFee, timeStart, timeExpire, expiresAt } = o;
    const reply = await pay.unifiedOrder({
      body: orderBody, out_trade_no: outTradeNo, total_fee: totalFee, spbill_create_ip: '127.0.0.1',
      notify_url: env.WECHAT_NOTIFY_URL!, openid: o.openid, time_start: timeStart, time_expire: timeExpire,
    });
    // One round trip: the order row, then the attempt locked; the prepay_id stored only while the attempt is open.
    const prepayExpiresAt = new Date(Math.min(Date.now() + PREPAY_VALIDITY_MS, expiresAt.getTime()));
    let stored: any[];
    const conn2 = await pool.getConnection();
    try {
      [ stored ] = await conn2.query<any[]>(
        'START TRANSACTION; SELECT status FROM orders WHERE id = ? FOR UPDATE; SELECT status FROM payment_attempts WHERE id = ? FOR UPDATE; ' +
        'UPDATE payment_attempts FORCE INDEX (PRIMARY) SET status = \'PREPAID\', prepay_id = ?, prepay_expires_at = ?, err_code = NULL, err_code_des = NULL, updated_at = NOW(3) ' +
        'WHERE id = ? AND status IN (\'CREATED\', \'PREPAID\'); COMMIT',
        [ orderId, attemptId, reply.prepay_id, prepayExpiresAt, attemptId ]);
    } catch (err) {
      await conn2.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      conn2.release();
    }
    const attemptStatus = stored[2][0]?.status;
    if (attemptStatus !== 'CREATED' && attemptStatus !== 'PREPAID') {
      return json(res, 409, { code: stored[1][0]?.status === 'CLOSED' ? 'ORDER_CLOSED' : 'ORDER_CHANGED' });
    }
    const params = requestPaymentParams({ appId: APPID, prepayId: reply.prepay_id, apiKey: API_KEY, signType: SIGN_TYPE });
    return json(res, 200, { appId: APPID, ...params, outTradeNo });
  }

  http.createServer((req, res) => {
    const route = req.method === 'POST' && req.url === '/payment/notify' ? notify
      : req.method === 'POST' && req.url === '/payment/order' ? order
        : req.method === 'GET' && req.url?.startsWith('/payment/orders/') ? status : undefined;
    if (!route) return send(res, 404, 'application/json', '{"code":"NOT_FOUND"}');
    route(req, res).catch(err => {
      // As the service: WeChat not answering is a 503 the client retries (with the same Idempotency-Key).
      if (err instanceof WechatError) return res.headersSent || json(res, 503, { code: 'WECHAT_UNAVAILABLE' });
      console.error(err);
      if (!res.headersSent) send(res, 500, 'text/plain', 'error');
    });
  }).listen(PORT, '127.0.0.1');
}
