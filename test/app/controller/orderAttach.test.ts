import assert from 'node:assert/strict';
import { app, mock } from 'egg-mock/bootstrap';
import { parseXml } from '../../../lib/wechatpay';
import { testEnv } from '../../support/env';
import { login, resetWorld } from '../../support/fixtures';

function create(token: string, body: Record<string, unknown>, key?: string) {
  const req = app.httpRequest().post('/payment/order').set('Authorization', `Bearer ${token}`);
  if (key) req.set('Idempotency-Key', key);
  return req.send({ items: [{ productId: 1, quantity: 1 }], ...body });
}

describe('POST /payment/order attach (merchant data WeChat echoes)', () => {
  let token: string;
  beforeEach(async () => {
    await resetWorld();
    ({ token } = await login());
  });
  afterEach(() => { mock.restore(); testEnv.sim.clearFaults(); });

  it('stores it, sends it with the unified order, and WeChat echoes it in the notification and the order query', async () => {
    const attach = '门店=上海#12;table=7';
    const { outTradeNo } = (await create(token, { attach }).expect(200)).body;
    const order = await app.model.Order.findOne({ where: { outTradeNo } });
    assert.equal(order!.attach, attach);
    assert.equal(testEnv.sim.requests('unifiedorder').at(-1)!.params.attach, attach);

    await testEnv.sim.pay(outTradeNo);
    const [ delivery ] = await testEnv.sim.waitForDelivery(outTradeNo, { acknowledged: true });
    assert.equal(parseXml(delivery.body).attach, attach);
    const reply = await app.wechatPay.orderQuery({ out_trade_no: outTradeNo }, { appId: order!.appid });
    assert.equal(reply.attach, attach);

    const view = await app.httpRequest().get(`/payment/orders/${outTradeNo}`).set('Authorization', `Bearer ${token}`)
      .expect(200);
    assert.equal(view.body.status, 'SUCCESS');
    assert.equal(view.body.attach, attach);
  });

  it('is optional: none is sent, and the view says null', async () => {
    const { outTradeNo } = (await create(token, {}).expect(200)).body;
    assert.equal(testEnv.sim.requests('unifiedorder').at(-1)!.params.attach, undefined);
    const view = await app.httpRequest().get(`/payment/orders/${outTradeNo}`).set('Authorization', `Bearer ${token}`)
      .expect(200);
    assert.equal(view.body.attach, null);
  });

  it('accepts exactly 127 bytes of UTF-8 and refuses 128 (WeChat counts bytes, not characters)', async () => {
    await create(token, { attach: 'a'.repeat(127) }).expect(200);
    // 42 Chinese characters are 126 bytes; one more is 129.
    await create(token, { attach: '中'.repeat(42) }).expect(200);
    for (const attach of [ 'a'.repeat(128), '中'.repeat(43) ]) {
      const res = await create(token, { attach }).expect(422);
      assert.equal(res.body.field, 'attach');
      assert.match(res.body.message, /127 bytes/);
    }
  });

  it('refuses a non-string, an empty string and control characters, before WeChat is asked', async () => {
    const before = testEnv.sim.requests('unifiedorder').length;
    for (const attach of [ 12, '', null, { a: 1 }, 'line\nbreak', 'nul\u0000' ]) {
      const res = await create(token, { attach }).expect(422);
      assert.equal(res.body.field, 'attach', JSON.stringify(attach));
    }
    assert.equal(testEnv.sim.requests('unifiedorder').length, before);
  });

  it('is part of the idempotent request: the same attach answers the same order, another one is a 409', async () => {
    const first = await create(token, { attach: 'x=1' }, 'attach-key-1').expect(200);
    const again = await create(token, { attach: 'x=1' }, 'attach-key-1').expect(200);
    assert.equal(again.body.outTradeNo, first.body.outTradeNo);
    assert.equal((await create(token, { attach: 'x=2' }, 'attach-key-1').expect(409)).body.code, 'IDEMPOTENCY_KEY_REUSED');
    assert.equal((await create(token, {}, 'attach-key-1').expect(409)).body.code, 'IDEMPOTENCY_KEY_REUSED');
  });
});
