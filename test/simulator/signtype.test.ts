import assert from 'node:assert/strict';
import { beijingDay, parseXml, SignType, verifySign, WechatPayClient } from '../../lib/wechatpay';
import { ApiName, WechatSimulator } from '../../simulator';
import { DEV, MerchantServer, orderRequest, payClient, TestClock, useSimulatorWithMerchant } from './helpers';

const DAY = 24 * 3600 * 1000;
const other = (signType: SignType): SignType => (signType === 'MD5' ? 'HMAC-SHA256' : 'MD5');

/**
 * Orders keep the sign type they were created with, so a client configured with one sign type
 * must be able to make every call of an order with the other, and the simulator must answer (and
 * notify) in the sign type the order's requests used.
 */
describe('simulator: per-call sign type', () => {
  const clock = new TestClock();
  const sim = new WechatSimulator({ now: clock.now, retryScale: 0.001, notifyTimeoutMs: 500 });
  const world = useSimulatorWithMerchant(sim, { https: true });
  let merchant: MerchantServer;
  before(() => { merchant = world.merchant; });

  /** The last request the simulator received for an API, as sent. */
  function lastRequest(api: ApiName): Record<string, string> {
    const all = sim.requests(api);
    assert.ok(all.length > 0, `no ${api} request`);
    return all[all.length - 1].params;
  }

  function assertSignedAs(api: ApiName, reply: Record<string, string>, signType: SignType): void {
    const request = lastRequest(api);
    assert.equal(request.sign_type, signType, `${api} request's sign_type`);
    assert.equal(verifySign(request, DEV.apiKey, signType), true, `${api} request signed with ${signType}`);
    assert.equal(verifySign(reply, DEV.apiKey, signType), true, `${api} reply signed with ${signType}`);
    assert.equal(verifySign(reply, DEV.apiKey, other(signType)), false, `${api} reply not signed with ${other(signType)}`);
  }

  for (const configured of [ 'HMAC-SHA256', 'MD5' ] as SignType[]) {
    const perCall = other(configured);
    it(`a client configured ${configured} makes every call of an order with ${perCall} and gets verified replies`, async () => {
      const client = payClient(sim, { signType: configured });
      const secure: WechatPayClient = payClient(sim, { signType: configured, baseUrl: sim.httpsUrl, tls: sim.merchantTls(DEV.mchId) });
      const req = orderRequest(merchant.url, { total_fee: 1500 });

      const ordered = await client.unifiedOrder(req, { signType: perCall });
      assertSignedAs('unifiedorder', ordered, perCall);
      assert.equal(sim.order(req.out_trade_no)!.signType, perCall);

      const unpaid = await client.orderQuery({ out_trade_no: req.out_trade_no }, { signType: perCall });
      assertSignedAs('orderquery', unpaid, perCall);
      assert.equal(unpaid.trade_state, 'NOTPAY');

      const payment = await sim.pay(req.out_trade_no);
      const [ delivery ] = await sim.waitForDelivery(req.out_trade_no, { kind: 'payment', acknowledged: true });
      const notification = parseXml(delivery.body);
      assert.equal(verifySign(notification, DEV.apiKey, perCall), true, 'notification signed with the order\'s sign type');
      assert.equal(verifySign(notification, DEV.apiKey, configured), false);

      const refund = await secure.refund({
        out_trade_no: req.out_trade_no, out_refund_no: `R${req.out_trade_no.slice(1)}`, total_fee: 1500, refund_fee: 500,
      }, { signType: perCall });
      assertSignedAs('refund', refund, perCall);
      assert.equal(refund.refund_fee, '500');

      const refunds = await client.refundQuery({ out_trade_no: req.out_trade_no }, { signType: perCall });
      assertSignedAs('refundquery', refunds, perCall);
      assert.equal(refunds.refund_count, '1');
      assert.equal(refunds.transaction_id, payment.transactionId);

      const closing = orderRequest(merchant.url);
      await client.unifiedOrder(closing, { signType: perCall });
      const closed = await client.closeOrder(closing.out_trade_no, { signType: perCall });
      assertSignedAs('closeorder', closed, perCall);
      assert.equal(sim.order(closing.out_trade_no)!.tradeState, 'CLOSED');

      const day = beijingDay(clock.now());
      clock.advance(DAY);
      const bill = await client.downloadBill(day, 'SUCCESS', { signType: perCall });
      assert.equal(lastRequest('downloadbill').sign_type, perCall);
      assert.equal(verifySign(lastRequest('downloadbill'), DEV.apiKey, perCall), true);
      assert.match(bill, new RegExp(`\`${req.out_trade_no},`));
    });
  }

  it('without a per-call sign type the configured one is used', async () => {
    const req = orderRequest(merchant.url);
    const reply = await payClient(sim, { signType: 'MD5' }).unifiedOrder(req);
    assertSignedAs('unifiedorder', reply, 'MD5');
    assert.equal(sim.order(req.out_trade_no)!.signType, 'MD5');
  });

  it('the notification of an MD5 unified order made by an HMAC-SHA256 client is MD5-signed, without sign_type', async () => {
    const req = orderRequest(merchant.url);
    await payClient(sim, { signType: 'HMAC-SHA256' }).unifiedOrder(req, { signType: 'MD5' });
    await sim.pay(req.out_trade_no);
    const [ delivery ] = await sim.waitForDelivery(req.out_trade_no, { kind: 'payment', acknowledged: true });
    const fields = parseXml(delivery.body);
    assert.equal('sign_type' in fields, false);
    assert.equal(verifySign(fields, DEV.apiKey, 'MD5'), true);
    assert.equal(verifySign(fields, DEV.apiKey, 'HMAC-SHA256'), false);
    assert.equal(verifySign(sim.buildNotification(req.out_trade_no), DEV.apiKey, 'MD5'), true);
  });
});
