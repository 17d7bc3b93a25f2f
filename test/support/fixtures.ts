import { app } from 'egg-mock/bootstrap';
import { testEnv } from './env';

export const PRODUCTS = {
  coffee: { id: 1, name: 'Coffee', priceFen: 1200 },
  croissant: { id: 2, name: 'Croissant', priceFen: 850 },
  retired: { id: 9, name: 'Retired', priceFen: 500 },
};

const TABLES = [ 'pos_charges', 'reconciliations', 'refunds', 'outbox_events', 'order_events', 'payment_notifications', 'payment_attempts', 'orders', 'users', 'products' ];

/** Empties every table, re-creates the test products and forgets the simulator's state. */
export async function resetWorld() {
  // The simulator first: a notification retry still scheduled from the previous test would
  // otherwise land while the tables are being emptied and leave an audit row in this test's.
  testEnv.sim.reset();
  for (const table of TABLES) await app.model.query(`DELETE FROM ${table}`);
  const now = new Date();
  await app.model.Product.bulkCreate([
    { id: PRODUCTS.coffee.id, name: PRODUCTS.coffee.name, priceFen: PRODUCTS.coffee.priceFen, active: true, createdAt: now, updatedAt: now },
    { id: PRODUCTS.croissant.id, name: PRODUCTS.croissant.name, priceFen: PRODUCTS.croissant.priceFen, active: true, createdAt: now, updatedAt: now },
    { id: PRODUCTS.retired.id, name: PRODUCTS.retired.name, priceFen: PRODUCTS.retired.priceFen, active: false, createdAt: now, updatedAt: now },
  ]);
  await app.redis.flushdb();
}

/** Logs in through the API with a fresh simulator code; returns the bearer token and openid. */
export async function login(openid?: string): Promise<{ token: string; openid: string; userId: number }> {
  const code = testEnv.sim.issueLoginCode({ openid });
  const res = await app.httpRequest().post('/api/login').send({ code })
    .expect(200);
  return { token: res.body.token, openid: res.body.user.openid, userId: res.body.user.id };
}

export function createOrder(token: string, items: Array<{ productId: number; quantity: number }> = [{ productId: 1, quantity: 1 }], key?: string) {
  const req = app.httpRequest().post('/payment/order').set('Authorization', `Bearer ${token}`);
  if (key) req.set('Idempotency-Key', key);
  return req.send({ items });
}
