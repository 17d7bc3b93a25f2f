import assert from 'node:assert/strict';
import { app, mock } from 'egg-mock/bootstrap';
import { goodsDetail } from '../../../app/domain/unifiedOrderOptions';
import { testEnv } from '../../support/env';
import { login, resetWorld } from '../../support/fixtures';

function create(token: string, body: Record<string, unknown>, key?: string) {
  const req = app.httpRequest().post('/payment/order').set('Authorization', `Bearer ${token}`);
  if (key) req.set('Idempotency-Key', key);
  return req.send({ items: [{ productId: 1, quantity: 1 }], ...body });
}

const lastUnifiedOrder = () => testEnv.sim.requests('unifiedorder').at(-1)!.params;

describe('POST /payment/order: the unified order\'s optional fields (goods_tag, detail, limit_pay, receipt)', () => {
  let token: string;
  beforeEach(async () => {
    await resetWorld();
    ({ token } = await login());
  });
  afterEach(() => { mock.restore(); testEnv.sim.clearFaults(); });

  it('sends none of them for plain products and no receipt asked', async () => {
    await create(token, {}).expect(200);
    const p = lastUnifiedOrder();
    for (const name of [ 'goods_tag', 'detail', 'version', 'limit_pay', 'receipt' ]) assert.equal(p[name], undefined, name);
  });

  it('a tagged product: goods_tag and the single-product detail (version 1.0) built from our prices, kept on the order', async () => {
    await app.model.Product.update({ goodsTag: 'WINTER_2026' }, { where: { id: [ 1, 2 ] } });
    const { outTradeNo } = (await create(token, { items: [{ productId: 1, quantity: 2 }, { productId: 2, quantity: 1 }] }).expect(200)).body;
    const p = lastUnifiedOrder();
    assert.equal(p.goods_tag, 'WINTER_2026');
    assert.equal(p.version, '1.0');
    assert.deepEqual(JSON.parse(p.detail), {
      cost_price: 2 * 1200 + 850,
      goods_detail: [
        { goods_id: '1', goods_name: 'Coffee', quantity: 2, price: 1200 },
        { goods_id: '2', goods_name: 'Croissant', quantity: 1, price: 850 },
      ],
    });
    const order = await app.model.Order.findOne({ where: { outTradeNo } });
    assert.equal(order!.goodsTag, 'WINTER_2026');
    assert.equal(order!.detail, p.detail);

    // A repeated unified order (a new /pay after the prepay is reused) is the same request: WeChat
    // would refuse changed fields under the same out_trade_no as OUT_TRADE_NO_USED.
    await app.model.PaymentAttempt.update({ prepayId: null, status: 'CREATED' }, { where: { orderId: order!.id } });
    await app.httpRequest().post(`/payment/orders/${outTradeNo}/pay`).set('Authorization', `Bearer ${token}`)
      .expect(200);
    const again = lastUnifiedOrder();
    assert.equal(again.out_trade_no, p.out_trade_no);
    assert.equal(again.detail, p.detail);
    assert.equal(again.goods_tag, p.goods_tag);
  });

  it('an order mixing a tagged and an untagged (or differently tagged) product has no goods_tag and no detail', async () => {
    await app.model.Product.update({ goodsTag: 'WINTER_2026' }, { where: { id: 1 } });
    await create(token, { items: [{ productId: 1, quantity: 1 }, { productId: 2, quantity: 1 }] }).expect(200);
    assert.equal(lastUnifiedOrder().goods_tag, undefined);
    assert.equal(lastUnifiedOrder().detail, undefined);
    await app.model.Product.update({ goodsTag: 'OTHER' }, { where: { id: 2 } });
    await create(token, { items: [{ productId: 1, quantity: 1 }, { productId: 2, quantity: 1 }] }).expect(200);
    assert.equal(lastUnifiedOrder().goods_tag, undefined);
  });

  it('a tag WeChat would refuse (over 32 characters, or other characters) is not sent', async () => {
    await app.model.Product.update({ goodsTag: 'bad tag!' }, { where: { id: 1 } });
    await create(token, {}).expect(200);
    assert.equal(lastUnifiedOrder().goods_tag, undefined);
  });

  it('one product that refuses credit cards makes the whole payment limit_pay=no_credit', async () => {
    await app.model.Product.update({ noCredit: true }, { where: { id: 2 } });
    const { outTradeNo } = (await create(token, { items: [{ productId: 1, quantity: 1 }, { productId: 2, quantity: 1 }] }).expect(200)).body;
    assert.equal(lastUnifiedOrder().limit_pay, 'no_credit');
    assert.equal((await app.model.Order.findOne({ where: { outTradeNo } }))!.limitPay, 'no_credit');
    await create(token, { items: [{ productId: 1, quantity: 1 }] }).expect(200);
    assert.equal(lastUnifiedOrder().limit_pay, undefined);
  });

  it('receipt: true asks WeChat for the invoice entry (receipt=Y); false sends nothing', async () => {
    const { outTradeNo } = (await create(token, { receipt: true }).expect(200)).body;
    assert.equal(lastUnifiedOrder().receipt, 'Y');
    assert.equal((await app.model.Order.findOne({ where: { outTradeNo } }))!.receipt, true);
    await create(token, { receipt: false }).expect(200);
    assert.equal(lastUnifiedOrder().receipt, undefined);
  });

  it('refuses a receipt that is not a boolean, before WeChat is asked', async () => {
    const before = testEnv.sim.requests('unifiedorder').length;
    for (const receipt of [ 'Y', 1, null, {}]) {
      const res = await create(token, { receipt }).expect(422);
      assert.equal(res.body.code, 'VALIDATION_FAILED');
      assert.equal(res.body.field, 'receipt');
    }
    assert.equal(testEnv.sim.requests('unifiedorder').length, before);
  });

  it('receipt is part of the idempotent request: the same answers the same order, another is a 409', async () => {
    const first = (await create(token, { receipt: true }, 'key-receipt').expect(200)).body;
    const again = (await create(token, { receipt: true }, 'key-receipt').expect(200)).body;
    assert.equal(again.outTradeNo, first.outTradeNo);
    const res = await create(token, {}, 'key-receipt').expect(409);
    assert.equal(res.body.code, 'IDEMPOTENCY_KEY_REUSED');
  });

  it('the simulator refuses what WeChat would: a malformed detail, a receipt other than Y, an overlong goods_tag', async () => {
    const order = { body: 'x', out_trade_no: 'PTESTOPTIONS0001', total_fee: 100, spbill_create_ip: '127.0.0.1', notify_url: app.config.wechat.notifyUrl, openid: 'o-opt' };
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{ detail: '{"goods_detail":[{"goods_id":"1","quantity":0,"price":1}]}' }, /detail/ ],
      [{ detail: 'not json' }, /detail/ ],
      [{ receipt: 'N' }, /receipt/ ],
      [{ goods_tag: 'x'.repeat(33) }, /goods_tag/ ],
      [{ limit_pay: 'no_debit' }, /limit_pay/ ],
    ];
    for (const [ extra, message ] of cases) {
      await assert.rejects(app.wechatPay.unifiedOrder({ ...order, ...extra } as never), (err: Error & { errCode?: string; errCodeDes?: string }) => {
        assert.equal(err.errCode, 'PARAM_ERROR');
        assert.match(err.errCodeDes!, message);
        return true;
      });
    }
  });

  it('keeps detail within WeChat\'s 6000 bytes by shortening names, then dropping goods from the end', () => {
    const items = Array.from({ length: 60 }, (_, i) => ({ productId: i + 1, name: '长'.repeat(64), unitPriceFen: 100, quantity: 1 }));
    const text = goodsDetail(items, 6000);
    assert.ok(Buffer.byteLength(text, 'utf8') <= 6000);
    const parsed = JSON.parse(text);
    assert.equal(parsed.cost_price, 6000);
    assert.ok(parsed.goods_detail.length >= 1 && parsed.goods_detail.length < 60);
    assert.equal(parsed.goods_detail[0].goods_name, '长'.repeat(32));
  });
});
