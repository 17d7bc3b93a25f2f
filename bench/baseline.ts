/* eslint-disable no-inner-declarations */ // A bare server in one file, on purpose: the baseline.
/**
 * The baseline `npm run bench` measures the service against: a bare node:http server doing the
 * essential work of each route and nothing else: no framework, no audit row, no row locks, no
 * event row, no rate limit. Same protocol code (lib/wechatpay), same MySQL and Redis, as many
 * worker processes as the service (node:cluster), the same sign type (WECHAT_SIGN_TYPE, the
 * service's default). Settings come from the environment (bench/run.ts).
 *
 *   POST /payment/notify  read the body (16 KB max), parse the XML, verify appid, mch_id and the
 *                         sign, then one conditional UPDATE (a SELECT too when it matched nothing,
 *                         to tell a repeat from an unknown order), and answer WeChat's XML.
 *   POST /payment/order   bearer token looked up in Redis, JSON body, price from products, one
 *                         INSERT, unified order at the simulator, wx.requestPayment fields signed.
 */
import cluster from 'node:cluster';
import { createHash } from 'node:crypto';
import * as http from 'node:http';
import mysql from 'mysql2/promise';
import { BASELINE_PAY_SQL, baselineClients, baselineSettings, MYSQL_SERVER, runBaselinePrimary } from './fixtures';
import { merchantNumber, notifyReply, parseXml, requestPaymentParams, toBeijingCompact, verifySign } from '../lib/wechatpay';

const env = process.env;
const SETTINGS = baselineSettings();
const { workers: WORKERS, port: PORT, appId: APPID, mchId: MCH_ID, apiKey: API_KEY, signType: SIGN_TYPE } = SETTINGS;
const MAX_BODY = 16 * 1024;

if (cluster.isPrimary) {
  runBaselinePrimary('baseline', WORKERS, PORT);
} else {
  const pool = mysql.createPool({
    ...MYSQL_SERVER, database: env.MYSQL_DATABASE, connectionLimit: Number(env.MYSQL_POOL_MAX ?? 10),
    timezone: '+00:00',
  });
  const { redis, pay } = baselineClients(SETTINGS);

  const readBody = (req: http.IncomingMessage) => new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) reject(new Error('too large'));
      else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });

  const send = (res: http.ServerResponse, status: number, type: string, body: string) => {
    res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
    res.end(body);
  };

  async function notify(req: http.IncomingMessage, res: http.ServerResponse) {
    let fields: Record<string, string>;
    try {
      fields = parseXml(await readBody(req));
    } catch {
      return send(res, 400, 'text/xml', notifyReply(false, 'bad body'));
    }
    if (fields.return_code !== 'SUCCESS' || fields.result_code !== 'SUCCESS' || fields.appid !== APPID ||
      fields.mch_id !== MCH_ID || !verifySign(fields, API_KEY, SIGN_TYPE)) {
      return send(res, 200, 'text/xml', notifyReply(false, 'refused'));
    }
    const [ result ] = await pool.execute<mysql.ResultSetHeader>(BASELINE_PAY_SQL, [ fields.transaction_id, fields.out_trade_no, Number(fields.total_fee) ]);
    if (result.affectedRows === 1) return send(res, 200, 'text/xml', notifyReply(true, 'OK'));
    const [ rows ] = await pool.execute<mysql.RowDataPacket[]>('SELECT transaction_id FROM orders WHERE out_trade_no = ?', [ fields.out_trade_no ]);
    const repeat = rows.length === 1 && rows[0].transaction_id === fields.transaction_id;
    return send(res, 200, 'text/xml', notifyReply(repeat, repeat ? 'OK' : 'refused'));
  }

  async function order(req: http.IncomingMessage, res: http.ServerResponse) {
    const token = /^Bearer ([A-Za-z0-9_-]{20,128})$/.exec(req.headers.authorization ?? '')?.[1];
    const session = token && await redis.get(`session:${createHash('sha256').update(token).digest('hex')}`);
    if (!session) return send(res, 401, 'application/json', '{"code":"UNAUTHORIZED"}');
    const user = JSON.parse(session);
    let body: any;
    try {
      body = JSON.parse((await readBody(req)).toString('utf8'));
    } catch {
      return send(res, 400, 'application/json', '{"code":"BAD_REQUEST"}');
    }
    const items: Array<{ productId: number; quantity: number }> = body.items;
    const [ products ] = await pool.query<mysql.RowDataPacket[]>('SELECT id, name, price_fen FROM products WHERE id IN (?) AND active = 1', [ items.map(i => i.productId) ]);
    const price = new Map(products.map(p => [ Number(p.id), p ]));
    if (items.some(i => !price.has(i.productId))) return send(res, 422, 'application/json', '{"code":"VALIDATION_FAILED"}');
    const totalFee = items.reduce((sum, i) => sum + price.get(i.productId)!.price_fen * i.quantity, 0);
    const outTradeNo = merchantNumber('B');
    const expiresAt = new Date(Date.now() + 30 * 60 * 1000);
    await pool.execute(
      'INSERT INTO orders (out_trade_no, user_id, appid, total_fee, body, items, status, sign_type, expires_at, created_at, updated_at) ' +
      'VALUES (?, ?, ?, ?, ?, ?, \'NOTPAY\', ?, ?, NOW(3), NOW(3))',
      [ outTradeNo, user.userId, APPID, totalFee, price.get(items[0].productId)!.name, JSON.stringify(items), SIGN_TYPE, expiresAt ]);
    const reply = await pay.unifiedOrder({
      body: price.get(items[0].productId)!.name, out_trade_no: outTradeNo, total_fee: totalFee, spbill_create_ip: '127.0.0.1',
      notify_url: env.WECHAT_NOTIFY_URL!, openid: user.openid, time_start: toBeijingCompact(new Date()), time_expire: toBeijingCompact(expiresAt),
    });
    const params = requestPaymentParams({ appId: APPID, prepayId: reply.prepay_id, apiKey: API_KEY, signType: SIGN_TYPE });
    return send(res, 200, 'application/json', JSON.stringify({ ...params, outTradeNo }));
  }

  http.createServer((req, res) => {
    const route = req.method === 'POST' && req.url === '/payment/notify' ? notify
      : req.method === 'POST' && req.url === '/payment/order' ? order : undefined;
    if (!route) return send(res, 404, 'application/json', '{"code":"NOT_FOUND"}');
    route(req, res).catch(err => {
      console.error(err);
      if (!res.headersSent) send(res, 500, 'text/plain', 'error');
    });
  }).listen(PORT, '127.0.0.1');
}
