import type { IModel } from 'egg';
import { inBatchTransaction, sqlTime } from './sqlBatch';

/** A new order's columns, as Order.create wrote them (the model's defaults spelled out). */
export interface NewOrder {
  outTradeNo: string;
  userId: number;
  idempotencyKey: string | null;
  totalFee: number;
  body: string;
  /** JSON of the priced items. */
  items: string;
  signType: string;
  appid: string;
  tradeType: string;
  attach: string | null;
  goodsTag: string | null;
  limitPay: string | null;
  receipt: boolean;
  detail: string | null;
  expiresAt: Date;
}

/** Its first payment attempt's columns (newAttemptFields in app/service/prepay.ts, less the order id). */
export interface NewAttempt {
  outTradeNo: string;
  totalFee: number;
  signType: string;
  appid: string;
  tradeType: string;
  timeStart: string;
  timeExpire: string;
}

/**
 * The order row, its first attempt and the order's current_attempt_id in ONE round trip
 * (multipleStatements), its transaction's START and COMMIT included (decision 0019): these INSERTs
 * were two model creates (instances, validation, hooks, query building) and an UPDATE, a third of
 * an order's ORM cost. A reused Idempotency-Key fails the first INSERT on
 * uk_orders_user_idempotency: MySQL stops there, nothing else of the batch runs (nor its COMMIT),
 * and the transaction is rolled back.
 */
const INSERT_ORDER_WITH_ATTEMPT_SQL = [
  'INSERT INTO orders (out_trade_no, user_id, idempotency_key, total_fee, body, items, status, sign_type, appid, trade_type, attach, ' +
    'goods_tag, limit_pay, receipt, detail, expires_at, refund_required, refunded_fee, created_at, updated_at) ' +
    'VALUES (?, ?, ?, ?, ?, ?, \'NOTPAY\', ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 0, ?, ?)',
  'SET @wxpay_order_id = LAST_INSERT_ID()',
  'INSERT INTO payment_attempts (order_id, out_trade_no, total_fee, sign_type, appid, trade_type, status, time_start, time_expire, created_at, updated_at) ' +
    'VALUES (@wxpay_order_id, ?, ?, ?, ?, ?, \'CREATED\', ?, ?, ?, ?)',
  'UPDATE orders SET current_attempt_id = LAST_INSERT_ID() WHERE id = @wxpay_order_id',
];

/** Order creation's writes in plain SQL through the one Sequelize pool (app.model.query). */
export class OrderRepository {
  constructor(private readonly model: IModel) {}

  /**
   * Inserts the order and its first attempt and links them, in one transaction of one round trip;
   * answers their ids and the creation time written on both rows. Throws Sequelize's
   * UniqueConstraintError for a key already used (and then nothing was written).
   */
  async insertWithFirstAttempt(order: NewOrder, attempt: NewAttempt): Promise<{ orderId: number; attemptId: number; createdAt: Date }> {
    const createdAt = new Date();
    const now = sqlTime(createdAt);
    // One result per statement: the two INSERTs' headers carry the ids.
    const [ orderInsert, , attemptInsert ] = await inBatchTransaction(this.model, transaction => transaction.run('order.create', {
      sql: INSERT_ORDER_WITH_ATTEMPT_SQL,
      replacements: [
        order.outTradeNo, order.userId, order.idempotencyKey, order.totalFee, order.body, order.items, order.signType, order.appid,
        order.tradeType, order.attach, order.goodsTag, order.limitPay, order.receipt ? 1 : 0, order.detail, sqlTime(order.expiresAt), now, now,
        attempt.outTradeNo, attempt.totalFee, attempt.signType, attempt.appid, attempt.tradeType, attempt.timeStart, attempt.timeExpire, now, now,
      ],
    }, { commit: true }));
    return { orderId: Number(orderInsert.insertId), attemptId: Number(attemptInsert.insertId), createdAt };
  }
}
