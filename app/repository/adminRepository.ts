import type { IModel } from 'egg';
import { QueryTypes } from 'sequelize';

/** What the order search filters on; every field optional, all given ones must hold. */
export interface OrderSearchFilter {
  /** The order's number or one of its payment attempts' (what WeChat and the payer see). */
  outTradeNo?: string;
  /** WeChat's transaction_id of the order or of one of its payments. */
  transactionId?: string;
  openid?: string;
  status?: string;
  tradeType?: string;
  appid?: string;
  /** Created at or after this instant. */
  createdFrom?: Date;
  /** Created before this instant. */
  createdBefore?: Date;
  /** Only orders with an id below this (the cursor: the last id of the previous page). */
  beforeId?: number;
  limit: number;
}

export interface OrderSearchRow {
  id: number;
  outTradeNo: string;
  status: string;
  totalFee: number;
  refundedFee: number;
  body: string;
  appid: string;
  tradeType: string;
  transactionId: string | null;
  openid: string | null;
  createdAt: Date;
  paidAt: Date | null;
}

/** The figures of one Beijing day (YYYY-MM-DD), as the dashboard sums them. */
export interface DayFigureRows {
  /** Only days with payments: each has its mean and median seconds from order to paid. */
  payments: Array<{ day: string; count: number; amount: number; avgSecondsToPaid: number; medianSecondsToPaid: number }>;
  refunds: Array<{ day: string; count: number; amount: number }>;
  orders: Array<{ day: string; created: number; paid: number }>;
  notificationsRefused: Array<{ day: string; count: number }>;
}

/** A time column as the Beijing day it falls in (stored times are UTC). */
const beijingDay = (column: string) => `DATE_FORMAT(DATE_ADD(${column}, INTERVAL 8 HOUR), '%Y-%m-%d')`;

/** The back office's reads that are more than a model call: the order search and the dashboard's sums. */
export class AdminRepository {
  constructor(private readonly model: IModel) {}

  /** Newest first (by id), at most filter.limit rows. */
  async searchOrders(filter: OrderSearchFilter): Promise<OrderSearchRow[]> {
    const where: string[] = [];
    const values: unknown[] = [];
    if (filter.outTradeNo) {
      where.push('(o.out_trade_no = ? OR o.id IN (SELECT a.order_id FROM payment_attempts a WHERE a.out_trade_no = ?))');
      values.push(filter.outTradeNo, filter.outTradeNo);
    }
    if (filter.transactionId) {
      where.push('(o.transaction_id = ? OR o.id IN (SELECT a.order_id FROM payment_attempts a WHERE a.transaction_id = ?))');
      values.push(filter.transactionId, filter.transactionId);
    }
    if (filter.openid) {
      where.push('o.user_id IN (SELECT u2.id FROM users u2 WHERE u2.openid = ?)');
      values.push(filter.openid);
    }
    for (const [ column, value ] of [[ 'o.status', filter.status ], [ 'o.trade_type', filter.tradeType ], [ 'o.appid', filter.appid ]] as const) {
      if (value) {
        where.push(`${column} = ?`);
        values.push(value);
      }
    }
    if (filter.createdFrom) {
      where.push('o.created_at >= ?');
      values.push(filter.createdFrom);
    }
    if (filter.createdBefore) {
      where.push('o.created_at < ?');
      values.push(filter.createdBefore);
    }
    if (filter.beforeId) {
      where.push('o.id < ?');
      values.push(filter.beforeId);
    }
    const rows = await this.model.query<any>(
      'SELECT o.id, o.out_trade_no AS outTradeNo, o.status, o.total_fee AS totalFee, o.refunded_fee AS refundedFee, o.body, ' +
      'o.appid, o.trade_type AS tradeType, o.transaction_id AS transactionId, u.openid, o.created_at AS createdAt, o.paid_at AS paidAt ' +
      `FROM orders o LEFT JOIN users u ON u.id = o.user_id ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ` +
      'ORDER BY o.id DESC LIMIT ?',
      { replacements: [ ...values, filter.limit ], type: QueryTypes.SELECT });
    return rows.map((r: any) => ({ ...r, id: Number(r.id), totalFee: Number(r.totalFee), refundedFee: Number(r.refundedFee) }));
  }

  /** The dashboard's sums over [start, end), by Beijing day. */
  async dayFigures(start: Date, end: Date): Promise<DayFigureRows> {
    const select = (sql: string) => this.model.query<any>(sql, { replacements: [ start, end ], type: QueryTypes.SELECT });
    // A payment is taken the moment its order turns paid (paid_at); its time to pay runs from the
    // order's creation. paid_at is WeChat's time_end, whole seconds: one paid within the second
    // the order was made would come out negative, so it counts as 0.
    const secondsToPaid = 'GREATEST(0, TIMESTAMPDIFF(MICROSECOND, created_at, paid_at)) / 1000000';
    // MariaDB's MEDIAN is a window function only, so the day's sums are taken over the same window,
    // in one pass over the day's payments. The median beside the mean: a few payers who come back
    // an hour later make the mean say little of the rest.
    const byDay = 'OVER (PARTITION BY day)';
    const [ payments, refunds, orders, refused ] = await Promise.all([
      select(`SELECT DISTINCT day, COUNT(*) ${byDay} AS count, SUM(total_fee) ${byDay} AS amount, AVG(seconds) ${byDay} AS avgSecondsToPaid, ` +
        `MEDIAN(seconds) ${byDay} AS medianSecondsToPaid ` +
        `FROM (SELECT ${beijingDay('paid_at')} AS day, total_fee, ${secondsToPaid} AS seconds FROM orders WHERE paid_at >= ? AND paid_at < ?) paid`),
      select(`SELECT ${beijingDay('success_at')} AS day, COUNT(*) AS count, SUM(amount) AS amount ` +
        'FROM refunds WHERE status = \'SUCCESS\' AND success_at >= ? AND success_at < ? GROUP BY day'),
      select(`SELECT ${beijingDay('created_at')} AS day, COUNT(*) AS created, SUM(status IN ('SUCCESS', 'REFUND')) AS paid ` +
        'FROM orders WHERE created_at >= ? AND created_at < ? GROUP BY day'),
      // Refused: answered FAIL, whether on its face (REJECTED) or because we could not record it (ERROR).
      select(`SELECT ${beijingDay('created_at')} AS day, COUNT(*) AS count ` +
        'FROM payment_notifications WHERE created_at >= ? AND created_at < ? AND outcome IN (\'REJECTED\', \'ERROR\') GROUP BY day'),
    ]);
    return {
      payments: payments.map((r: any) => ({
        day: r.day, count: Number(r.count), amount: Number(r.amount), avgSecondsToPaid: Number(r.avgSecondsToPaid), medianSecondsToPaid: Number(r.medianSecondsToPaid),
      })),
      refunds: refunds.map((r: any) => ({ day: r.day, count: Number(r.count), amount: Number(r.amount) })),
      orders: orders.map((r: any) => ({ day: r.day, created: Number(r.created), paid: Number(r.paid) })),
      notificationsRefused: refused.map((r: any) => ({ day: r.day, count: Number(r.count) })),
    };
  }
}
