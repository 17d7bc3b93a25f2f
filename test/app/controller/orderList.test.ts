import assert from 'node:assert/strict';
import { app, mock } from 'egg-mock/bootstrap';
import { createOrder, login, resetWorld } from '../../support/fixtures';

// GET /payment/orders: the signed-in user's own orders, newest first, cursor-paginated.

function list(token: string, query: Record<string, string> = {}) {
  return app.httpRequest().get('/payment/orders').query(query)
    .set('Authorization', `Bearer ${token}`);
}

async function ordersOf(token: string, n: number): Promise<string[]> {
  const made: string[] = [];
  for (let i = 0; i < n; i++) made.push((await createOrder(token).expect(200)).body.outTradeNo);
  return made;
}

/** Every page, following nextCursor, with `limit` per page. */
async function allPages(token: string, limit: number): Promise<Array<Array<Record<string, unknown>>>> {
  const pages: Array<Array<Record<string, unknown>>> = [];
  let cursor: string | null = null;
  do {
    const query: Record<string, string> = { limit: String(limit) };
    if (cursor) query.cursor = cursor;
    const body: { orders: Array<Record<string, unknown>>; nextCursor: string | null } = (await list(token, query).expect(200)).body;
    assert.deepEqual(Object.keys(body).sort(), [ 'nextCursor', 'orders' ]);
    pages.push(body.orders);
    cursor = body.nextCursor;
  } while (cursor);
  return pages;
}

describe('GET /payment/orders', () => {
  beforeEach(resetWorld);
  afterEach(() => mock.restore());

  it('needs a session: 401 without one', async () => {
    const res = await app.httpRequest().get('/payment/orders').expect(401);
    assert.equal(res.body.code, 'UNAUTHORIZED');
  });

  it('no orders yet: an empty page and no cursor', async () => {
    const { token } = await login();
    const res = await list(token).expect(200);
    assert.deepEqual(res.body, { orders: [], nextCursor: null });
  });

  it('newest first, page by page, each order exactly as GET /payment/orders/:outTradeNo shows it; another user\'s orders never appear', async () => {
    const alice = await login();
    const bob = await login();
    const aliceOrders = await ordersOf(alice.token, 5);
    const bobOrders = await ordersOf(bob.token, 2);

    const pages = await allPages(alice.token, 2);
    assert.deepEqual(pages.map(p => p.map(o => o.outTradeNo)), [
      [ aliceOrders[4], aliceOrders[3] ], [ aliceOrders[2], aliceOrders[1] ], [ aliceOrders[0] ],
    ]);
    for (const order of pages.flat()) {
      const shown = await app.httpRequest().get(`/payment/orders/${order.outTradeNo}`).set('Authorization', `Bearer ${alice.token}`)
        .expect(200);
      assert.deepEqual(order, shown.body);
    }
    assert.deepEqual((await allPages(bob.token, 10)).map(p => p.map(o => o.outTradeNo)), [[ bobOrders[1], bobOrders[0] ]]);
  });

  it('orders created in the same millisecond: ordered by id, none skipped or repeated across pages', async () => {
    const { token } = await login();
    const made = await ordersOf(token, 5);
    await app.model.Order.update({ createdAt: new Date('2026-11-30T01:02:03.456Z') }, { where: { outTradeNo: made } });
    const pages = await allPages(token, 2);
    assert.deepEqual(pages.flat().map(o => o.outTradeNo), [ ...made ].reverse());
    assert.deepEqual(pages.map(p => p.length), [ 2, 2, 1 ]);
  });

  it('20 orders a page unless limit says otherwise; limit goes up to 100', async () => {
    const { token } = await login();
    await ordersOf(token, 21);
    const first = await list(token).expect(200);
    assert.equal(first.body.orders.length, 20);
    assert.equal(typeof first.body.nextCursor, 'string');
    const rest = await list(token, { cursor: first.body.nextCursor }).expect(200);
    assert.equal(rest.body.orders.length, 1);
    assert.equal(rest.body.nextCursor, null);
    const all = await list(token, { limit: '100' }).expect(200);
    assert.equal(all.body.orders.length, 21);
    assert.equal(all.body.nextCursor, null);
  });

  it('a limit out of range or not an integer: 422 naming limit', async () => {
    const { token } = await login();
    for (const limit of [ '0', '101', 'abc', '1.5', '-1', '' ]) {
      const res = await list(token, { limit }).expect(422);
      assert.deepEqual(res.body, { code: 'VALIDATION_FAILED', message: 'limit must be an integer between 1 and 100', field: 'limit' }, limit);
    }
  });

  it('a cursor this API did not hand out: 400 INVALID_CURSOR, whatever it looks like', async () => {
    const { token } = await login();
    await ordersOf(token, 2);
    const issued = (await list(token, { limit: '1' }).expect(200)).body.nextCursor as string;
    const bad = [
      // (No cut or lengthened copy of a real cursor: some of those decode to another valid position.)
      'not-a-cursor', '', '!!!!', `${issued}=`, `${issued}.`,
      Buffer.from('o1.abc.1').toString('base64url'), Buffer.from('o2.1.1').toString('base64url'),
      Buffer.from('o1.1.0').toString('base64url'), Buffer.from(JSON.stringify({ id: 1 })).toString('base64url'), 'x'.repeat(65),
    ];
    for (const cursor of bad) {
      const res = await list(token, { cursor }).expect(400);
      assert.deepEqual(res.body, { code: 'INVALID_CURSOR', message: 'cursor is not one this API returned: start again without it', field: 'cursor' }, cursor);
    }
  });

  it('another user\'s cursor shows only the caller\'s own orders', async () => {
    const alice = await login();
    const bob = await login();
    const bobOrders = await ordersOf(bob.token, 2);
    await ordersOf(alice.token, 3);
    const aliceCursor = (await list(alice.token, { limit: '1' }).expect(200)).body.nextCursor as string;
    const res = await list(bob.token, { cursor: aliceCursor }).expect(200);
    assert.deepEqual(res.body.orders.map((o: { outTradeNo: string }) => o.outTradeNo), [ bobOrders[1], bobOrders[0] ]);
  });
});
