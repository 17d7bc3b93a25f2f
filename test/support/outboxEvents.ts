import { randomUUID } from 'node:crypto';
import { app } from 'egg-mock/bootstrap';
import type { OutboxStatus } from '../../app/domain/outboxRules';
import { createOrder, login } from './fixtures';

/**
 * Outbox rows in a chosen state for the operators' controls' tests, on a real order (made through
 * the API), written straight to the table: how they got there is outbox.test.ts's subject.
 */
export async function seedEvents(states: OutboxStatus[]): Promise<Array<{ eventId: string; outTradeNo: string; position: number }>> {
  const { token } = await login();
  const seeded = [];
  for (const status of states) {
    const outTradeNo = (await createOrder(token).expect(200)).body.outTradeNo as string;
    const order = await app.model.Order.findOne({ where: { outTradeNo } });
    const at = new Date();
    const row = await app.model.OutboxEvent.create({
      eventId: `evt_${randomUUID().replace(/-/g, '')}`, type: 'order.closed', orderId: order!.id, outTradeNo, seq: 1,
      payload: JSON.stringify({ order: { outTradeNo, totalFee: 1200 }, source: 'client' }), status,
      attempts: status === 'PENDING' ? 0 : status === 'DEAD' ? 20 : 1,
      nextAttemptAt: status === 'PENDING' ? new Date(at.getTime() + 3600_000) : at,
      lastError: status === 'DEAD' ? 'webhook: answered HTTP 500' : null, deliveredAt: status === 'DELIVERED' ? at : null,
      deliveredTo: status === 'DELIVERED' ? 'webhook' : '',
    });
    seeded.push({ eventId: row.eventId, outTradeNo, position: Number(row.id) });
  }
  return seeded;
}
