import { Service } from 'egg';
import { Op, QueryTypes } from 'sequelize';
import { AppError } from '../common/errors';
import { JobRun } from './jobLock';

export interface CloseExpiredResult {
  closed: number;
  /** WeChat said paid: the payment was applied instead. */
  paid: number;
  /** Left NOTPAY (WeChat busy or unreachable): tried again next tick. */
  failed: number;
}

export interface QueryOverdueResult {
  queried: number;
  /** Orders that are paid after the query. */
  paid: number;
  failed: number;
}

/** Redis key remembering where the overdue-query scan stopped, so a long backlog is walked fairly. */
const OVERDUE_CURSOR_KEY = 'job:queryOverdueOrders:cursor';

/**
 * The order housekeeping run by app/schedule: closing orders past their expiry, and asking WeChat
 * about orders whose payment notification is overdue. Each runs under the cluster-wide job lock
 * and in pages of payment.jobs.batchSize; an order that fails is logged and left for the next tick.
 */
export default class OrderJobsService extends Service {
  /** NOTPAY orders whose expires_at has passed are closed (at WeChat, then here). */
  closeExpiredOrders(): Promise<JobRun<CloseExpiredResult>> {
    return this.service.jobLock.runExclusive('closeExpiredOrders', async deadline => {
      const { Order } = this.app.model;
      const { batchSize } = this.config.payment.jobs;
      const now = new Date();
      const result: CloseExpiredResult = { closed: 0, paid: 0, failed: 0 };
      let last: { expiresAt: Date; id: number } | undefined;
      // Keyset pages over idx_orders_status_expires; orders that fail stay NOTPAY and are stepped over.
      while (Date.now() < deadline) {
        const page = await Order.findAll({
          where: {
            status: 'NOTPAY',
            [Op.and]: [
              { expiresAt: { [Op.lt]: now } },
              last ? { [Op.or]: [{ expiresAt: { [Op.gt]: last.expiresAt } }, { expiresAt: last.expiresAt, id: { [Op.gt]: last.id } }] } : {},
            ],
          },
          order: [[ 'expiresAt', 'ASC' ], [ 'id', 'ASC' ]],
          limit: batchSize,
        });
        for (const order of page) {
          if (Date.now() >= deadline) break;
          try {
            const closed = await this.service.orderClose.close(order, 'job');
            if (closed.status === 'CLOSED') result.closed++;
          } catch (err) {
            if (err instanceof AppError && err.code === 'ORDER_ALREADY_PAID') {
              result.paid++;
            } else {
              result.failed++;
              this.ctx.logger.warn('[job] closeExpiredOrders: order %s not closed: %s', order.outTradeNo, (err as Error).message);
            }
          }
        }
        if (page.length < batchSize) break;
        last = { expiresAt: page[page.length - 1].expiresAt, id: page[page.length - 1].id };
      }
      if (result.closed || result.paid || result.failed) {
        this.ctx.logger.info('[job] closeExpiredOrders: closed=%d paid=%d failed=%d', result.closed, result.paid, result.failed);
      }
      return result;
    });
  }

  /**
   * NOTPAY orders whose current attempt was prepaid longer ago than queryOverdueAfterSeconds:
   * WeChat is asked, and a payment found goes through the same exactly-once settlement as a
   * notification.
   */
  queryOverdueOrders(): Promise<JobRun<QueryOverdueResult>> {
    return this.service.jobLock.runExclusive('queryOverdueOrders', async deadline => {
      const { Order } = this.app.model;
      const { batchSize, queryOverdueAfterSeconds } = this.config.payment.jobs;
      const cutoff = new Date(Date.now() - queryOverdueAfterSeconds * 1000);
      const result: QueryOverdueResult = { queried: 0, paid: 0, failed: 0 };
      let cursor = await this.readCursor();
      let reachedEnd = false;
      while (Date.now() < deadline) {
        const rows = await this.app.model.query<{ id: number }>(
          `SELECT o.id FROM orders o JOIN payment_attempts a ON a.id = o.current_attempt_id
           WHERE o.status = 'NOTPAY' AND a.status = 'PREPAID' AND a.updated_at <= :cutoff AND o.id > :cursor
           ORDER BY o.id LIMIT :limit`,
          { replacements: { cutoff, cursor, limit: batchSize }, type: QueryTypes.SELECT },
        );
        for (const { id } of rows) {
          if (Date.now() >= deadline) break;
          const order = await Order.findByPk(id);
          cursor = id;
          if (!order || order.status !== 'NOTPAY') continue;
          result.queried++;
          try {
            await this.service.order.refreshFromWechat(order);
            const after = await Order.findByPk(id);
            if (after?.status === 'SUCCESS') result.paid++;
          } catch (err) {
            result.failed++;
            this.ctx.logger.warn('[job] queryOverdueOrders: order %s not queried: %s', order.outTradeNo, (err as Error).message);
          }
        }
        if (rows.length < batchSize) {
          reachedEnd = true;
          break;
        }
      }
      // Next tick resumes after the last order looked at, or starts over once the end was reached.
      await this.writeCursor(reachedEnd ? 0 : cursor);
      if (result.queried) {
        this.ctx.logger.info('[job] queryOverdueOrders: queried=%d paid=%d failed=%d', result.queried, result.paid, result.failed);
      }
      return result;
    });
  }

  private async readCursor(): Promise<number> {
    try {
      return Number(await this.app.redis.get(OVERDUE_CURSOR_KEY)) || 0;
    } catch {
      return 0;
    }
  }

  private async writeCursor(cursor: number): Promise<void> {
    try {
      if (cursor) await this.app.redis.set(OVERDUE_CURSOR_KEY, String(cursor));
      else await this.app.redis.del(OVERDUE_CURSOR_KEY);
    } catch (err) {
      // Losing the cursor only means the next run starts from the beginning.
      this.ctx.logger.warn('[job] queryOverdueOrders: could not save the cursor: %s', (err as Error).message);
    }
  }
}
