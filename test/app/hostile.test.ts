import assert from 'node:assert/strict';
import { app, mock } from 'egg-mock/bootstrap';
import { buildXml } from '../../lib/wechatpay';
import { testEnv } from '../support/env';
import { createOrder, login, PRODUCTS, resetWorld } from '../support/fixtures';

// Hostile input not already covered by login/order/status/notify tests (XXE, billion laughs,
// DOCTYPE, oversized and invalid UTF-8 notifications, tampered signatures, replays, IDOR live there).
// Each case gets a clear refusal, changes nothing, and the service keeps serving (afterEach).

const SUCCESS_XML = '<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>';
const SQL_LIKE = [ '\'OR\'1\'=\'1\'--', '\' OR \'1\'=\'1', '1; DROP TABLE orders; --', '" OR ""="', '1\' UNION SELECT openid FROM users --', '\\\'; DELETE FROM products; #' ];

function failReply(text: string) {
  assert.match(text, /^<xml><return_code><!\[CDATA\[FAIL\]\]><\/return_code><return_msg><!\[CDATA\[[^\]]*\]\]><\/return_msg><\/xml>$/);
}

/** Nothing was dropped or emptied behind the refusals. */
async function assertTablesIntact(users: number, orders: number) {
  assert.equal(await app.model.Product.count(), Object.keys(PRODUCTS).length);
  assert.equal(await app.model.User.count(), users);
  assert.equal(await app.model.Order.count(), orders);
}

describe('hostile input', () => {
  beforeEach(resetWorld);
  afterEach(async () => {
    mock.restore();
    // Stops simulator retries held back by a fault before the fault itself goes away.
    testEnv.sim.reset();
    const res = await app.httpRequest().get('/health').expect(200);
    assert.equal(res.body.status, 'ok');
  });

  describe('notifications, correctly signed, with hostile fields', () => {
    let outTradeNo: string;
    beforeEach(async () => {
      const { token } = await login();
      outTradeNo = (await createOrder(token).expect(200)).body.outTradeNo;
      // Paid at the simulator, but its own notification is lost: only the test's copies arrive.
      testEnv.sim.setFault('notify', { kind: 'drop', beforeProcessing: true });
      await testEnv.sim.pay(outTradeNo);
    });

    async function expectRefused(mutate: (f: Record<string, string>) => Record<string, string | undefined>, reason: RegExp, resign = true) {
      const [ reply ] = await testEnv.sim.sendNotification(outTradeNo, { copies: 1, mutate, resign });
      assert.equal(reply.status, 200);
      failReply(reply.reply!);
      const order = await app.model.Order.findOne({ where: { outTradeNo } });
      assert.equal(order!.status, 'NOTPAY');
      assert.equal(order!.transactionId, null);
      assert.equal(await app.model.OrderEvent.count(), 0);
      const note = await app.model.PaymentNotification.findOne({ order: [[ 'id', 'DESC' ]] });
      assert.equal(note!.outcome, 'REJECTED');
      assert.match(note!.reason!, reason);
      await assertTablesIntact(1, 1);
    }

    for (const totalFee of [ '-1200', '0', '1200.00', '1200.5', '12e2', '0x4B0', ' 1200', '+1200', '1200abc', '', '99999999999', '9007199254740993' ]) {
      it(`refuses total_fee ${JSON.stringify(totalFee)} (negative, zero, float, huge or not a number)`, () =>
        expectRefused(f => ({ ...f, total_fee: totalFee }), /total_fee .* is not a positive integer/));
    }

    it('refuses a huge integer total_fee that fits the format but not the order', () =>
      expectRefused(f => ({ ...f, total_fee: '9999999999' }), /total_fee 9999999999 differs/));

    for (const [ field, reason ] of [
      [ 'total_fee', /total_fee null is not a positive integer/ ],
      [ 'transaction_id', /transaction_id is missing or malformed/ ],
      [ 'out_trade_no', /out_trade_no is missing/ ],
      [ 'appid', /appid is not ours/ ],
      [ 'return_code', /return_code is missing/ ],
      // WeChat sends the payer's openid with every JSAPI payment: without it the owner cannot be checked.
      [ 'openid', /openid is missing/ ],
    ] as const) {
      it(`refuses a signed notification missing ${field}`, () => expectRefused(f => ({ ...f, [field]: undefined }), reason));
    }

    it('refuses a notification without its sign', () => expectRefused(f => ({ ...f, sign: undefined }), /signature does not verify/, false));

    for (const sql of SQL_LIKE) {
      it(`refuses out_trade_no ${JSON.stringify(sql)}`, () => expectRefused(f => ({ ...f, out_trade_no: sql }), /unknown out_trade_no/));
      it(`refuses transaction_id ${JSON.stringify(sql)}`, () => expectRefused(f => ({ ...f, transaction_id: sql }), /transaction_id is missing or malformed/));
      it(`refuses openid ${JSON.stringify(sql)}`, () => expectRefused(f => ({ ...f, openid: sql }), /openid is not the order owner's/));
    }

    it('stores a SQL-like bank_type verbatim: parameters, never SQL', async () => {
      const bankType = 'CFT\'); DELETE FROM orders; --';
      const [ reply ] = await testEnv.sim.sendNotification(outTradeNo, { copies: 1, mutate: f => ({ ...f, bank_type: bankType }) });
      assert.equal(reply.reply, SUCCESS_XML);
      const order = await app.model.Order.findOne({ where: { outTradeNo } });
      assert.equal(order!.status, 'SUCCESS');
      assert.equal(order!.bankType, bankType);
      await assertTablesIntact(1, 1);
    });

    it('an overlong bank_type still settles the payment (cut to the column) instead of failing forever', async () => {
      const [ reply ] = await testEnv.sim.sendNotification(outTradeNo, { copies: 1, mutate: f => ({ ...f, bank_type: 'B'.repeat(200) }) });
      assert.equal(reply.reply, SUCCESS_XML);
      const order = await app.model.Order.findOne({ where: { outTradeNo } });
      assert.equal(order!.status, 'SUCCESS');
      assert.equal(order!.bankType, 'B'.repeat(32));
    });
  });

  describe('notifications with characters XML 1.0 forbids', () => {
    it('16 KB of control characters beside a real order number and a bad signature: refused, recorded whole, and another payment at the same moment is paid', async () => {
      const { token } = await login();
      const target = (await createOrder(token).expect(200)).body.outTradeNo as string;
      const other = (await createOrder(token).expect(200)).body.outTradeNo as string;
      testEnv.sim.setFault('notify', { kind: 'drop', beforeProcessing: true });
      await testEnv.sim.pay(other);
      const genuine = buildXml(testEnv.sim.buildNotification(other));
      const head = `<xml><return_code>SUCCESS</return_code><appid>${app.config.wechat.appId}</appid><mch_id>${app.config.wechat.mchId}</mch_id>` +
        `<out_trade_no>${target}</out_trade_no><sign>BAD</sign><attach>`;
      const tail = '</attach></xml>';
      const junk = head + '\x01'.repeat(app.config.payment.maxNotifyBytes - head.length - tail.length) + tail;
      assert.equal(Buffer.byteLength(junk), app.config.payment.maxNotifyBytes, 'exactly at the size limit');

      const post = (xml: string) => app.httpRequest().post('/payment/notify').set('Content-Type', 'text/xml')
        .send(xml);
      const [ refused, paid ] = await Promise.all([ post(junk), post(genuine) ]);

      assert.equal(refused.status, 200);
      failReply(refused.text);
      assert.equal(paid.status, 200);
      assert.match(paid.text, /<return_code><!\[CDATA\[SUCCESS\]\]><\/return_code>/);
      const row = (await app.model.PaymentNotification.findOne({ where: { outcome: 'REJECTED' }, raw: true }))!;
      assert.equal(row.rawBody, junk, 'the raw body is kept whole');
      assert.match(row.reason!, /unreadable XML/);
      assert.equal((await app.model.Order.findOne({ where: { outTradeNo: target } }))!.status, 'NOTPAY');
      assert.equal((await app.model.Order.findOne({ where: { outTradeNo: other } }))!.status, 'SUCCESS');
    });
  });

  describe('SQL-like strings in the client API', () => {
    for (const sql of SQL_LIKE) {
      it(`login code ${JSON.stringify(sql)} is refused and writes no user`, async () => {
        const res = await app.httpRequest().post('/api/login').send({ code: sql });
        // Printable ASCII without spaces passes the format check and WeChat refuses it; the rest is 422.
        if (/^[\x21-\x7e]+$/.test(sql)) {
          assert.equal(res.status, 401);
          assert.equal(res.body.code, 'INVALID_LOGIN_CODE');
        } else {
          assert.equal(res.status, 422);
          assert.deepEqual([ res.body.code, res.body.field ], [ 'VALIDATION_FAILED', 'code' ]);
        }
        await assertTablesIntact(0, 0);
      });
    }

    describe('with a logged-in user', () => {
      let token: string;
      let outTradeNo: string;
      beforeEach(async () => {
        ({ token } = await login());
        outTradeNo = (await createOrder(token).expect(200)).body.outTradeNo;
      });

      for (const sql of SQL_LIKE) {
        it(`Idempotency-Key ${JSON.stringify(sql)} gets 422 and no order`, async () => {
          const res = await createOrder(token, [{ productId: 1, quantity: 1 }], sql).expect(422);
          assert.deepEqual([ res.body.code, res.body.field ], [ 'VALIDATION_FAILED', 'Idempotency-Key' ]);
          await assertTablesIntact(1, 1);
        });

        it(`productId ${JSON.stringify(sql)} gets 422 and no order`, async () => {
          const res = await createOrder(token, [{ productId: sql as any, quantity: 1 }]).expect(422);
          assert.deepEqual([ res.body.code, res.body.field ], [ 'VALIDATION_FAILED', 'items[0].productId' ]);
          await assertTablesIntact(1, 1);
        });

        for (const route of [ 'GET /payment/orders/', 'POST /payment/orders/' ]) {
          it(`${route}${JSON.stringify(sql)}${route.startsWith('POST') ? '/pay' : ''} gets 422`, async () => {
            const path = `/payment/orders/${encodeURIComponent(sql)}`;
            const req = route.startsWith('GET') ? app.httpRequest().get(path) : app.httpRequest().post(`${path}/pay`);
            const res = await req.set('Authorization', `Bearer ${token}`).expect(422);
            assert.deepEqual([ res.body.code, res.body.field ], [ 'VALIDATION_FAILED', 'outTradeNo' ]);
            const order = await app.model.Order.findOne({ where: { outTradeNo } });
            assert.equal(order!.status, 'NOTPAY');
            await assertTablesIntact(1, 1);
          });
        }
      }

      it('a product id given as an operator object ({"$gt":0}) gets 422', async () => {
        const res = await createOrder(token, [{ productId: { $gt: 0 } as any, quantity: 1 }]).expect(422);
        assert.equal(res.body.field, 'items[0].productId');
      });
    });
  });

  describe('wrong Content-Type on JSON routes', () => {
    const UNSUPPORTED = { code: 'UNSUPPORTED_MEDIA_TYPE', message: 'send the body as application/json' };

    for (const [ type, body ] of [
      [ 'text/plain', '{"code":"CODE"}' ],
      [ 'application/x-www-form-urlencoded', 'code=CODE' ],
      [ 'text/xml', '<xml><code>CODE</code></xml>' ],
      [ 'multipart/form-data; boundary=x', '--x\r\nContent-Disposition: form-data; name="code"\r\n\r\nCODE\r\n--x--\r\n' ],
    ]) {
      it(`login sent as ${type} gets 415 and the code is not spent`, async () => {
        const code = testEnv.sim.issueLoginCode({});
        const res = await app.httpRequest().post('/api/login').set('Content-Type', type)
          .send(body.replace('CODE', code))
          .expect(415);
        assert.deepEqual(res.body, UNSUPPORTED);
        assert.equal(testEnv.sim.requests('jscode2session').length, 0);
        await app.httpRequest().post('/api/login').send({ code })
          .expect(200);
      });
    }

    it('an order sent as a form gets 415 and creates nothing', async () => {
      const { token } = await login();
      const res = await app.httpRequest().post('/payment/order').set('Authorization', `Bearer ${token}`)
        .set('Content-Type', 'application/x-www-form-urlencoded')
        .send('productId=1&quantity=1')
        .expect(415);
      assert.deepEqual(res.body, UNSUPPORTED);
      assert.equal(await app.model.Order.count(), 0);
    });

    it('application/json with a charset is accepted', async () => {
      const { token } = await login();
      await app.httpRequest().post('/payment/order').set('Authorization', `Bearer ${token}`)
        .set('Content-Type', 'application/json; charset=utf-8')
        .send(JSON.stringify({ productId: 1, quantity: 1 }))
        .expect(200);
    });

    it('a JSON body over 64 KB gets 413 PAYLOAD_TOO_LARGE', async () => {
      const res = await app.httpRequest().post('/api/login').send({ code: 'x', pad: 'y'.repeat(70 * 1024) })
        .expect(413);
      assert.equal(res.body.code, 'PAYLOAD_TOO_LARGE');
    });

    it('deeply nested JSON gets a clear 4xx, not a crash', async () => {
      const { token } = await login();
      const res = await app.httpRequest().post('/payment/order').set('Authorization', `Bearer ${token}`)
        .set('Content-Type', 'application/json')
        .send(`{"items":${'['.repeat(20000)}${']'.repeat(20000)}}`);
      assert.ok(res.status === 422 || res.status === 400, `status ${res.status}`);
      assert.equal(await app.model.Order.count(), 0);
    });
  });

  describe('forged tokens', () => {
    for (const [ label, header ] of [
      [ 'a well-formed token that was never issued', 'Bearer AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' ],
      [ 'SQL in the token', 'Bearer \' OR \'1\'=\'1\' --' ],
      [ 'a Redis key pattern as the token', 'Bearer session:*' ],
      [ 'another scheme', 'Basic dXNlcjpwYXNz' ],
      [ 'an empty bearer', 'Bearer ' ],
      [ 'an overlong token', `Bearer ${'A'.repeat(200)}` ],
    ]) {
      it(`refuses ${label} with 401 and creates nothing`, async () => {
        const res = await app.httpRequest().post('/payment/order').set('Authorization', header)
          .send({ items: [{ productId: 1, quantity: 1 }] })
          .expect(401);
        assert.ok([ 'UNAUTHORIZED', 'SESSION_EXPIRED' ].includes(res.body.code), res.body.code);
        assert.equal(await app.model.Order.count(), 0);
      });
    }

    it('a token that expired in Redis (TTL elapsed) gets 401 SESSION_EXPIRED', async () => {
      const { token } = await login();
      const [ key ] = await app.redis.keys('session:*');
      await app.redis.pexpire(key, 1);
      // Wait for Redis to expire it: poll its TTL, an event we can observe.
      while (await app.redis.exists(key)) await new Promise(resolve => setImmediate(resolve));
      const res = await createOrder(token).expect(401);
      assert.equal(res.body.code, 'SESSION_EXPIRED');
    });
  });
});
