import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { app, mock } from 'egg-mock/bootstrap';
import { beijingDay, fromBeijing } from '../../../lib/wechatpay';
import { WechatSimulator } from '../../../simulator';
import * as QRCode from 'qrcode';
import { closedUrl } from '../../support/closedPort';
import { testEnv } from '../../support/env';
import { login, PRODUCTS, resetWorld } from '../../support/fixtures';
import { requestRefund } from '../../support/refunds';

const PNG_SIGNATURE = Buffer.from([ 0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a ]);
const OA = () => app.config.wechat.apps.officialAccount!.appId;
const MOBILE = () => app.config.wechat.apps.app!.appId;

/** A web-shop guest's bearer token (NATIVE, MWEB). */
export async function webGuest(): Promise<string> {
  const res = await app.httpRequest().post('/api/web/session').expect(200);
  assert.equal(res.headers['cache-control'], 'no-store');
  return res.body.token;
}

/** The mobile app's user, logged in with an Open Platform code (APP). */
export async function appUser(openid?: string): Promise<{ token: string; openid: string; userId: number }> {
  const { code } = testEnv.sim.issueOAuthCode({ appId: MOBILE(), openid });
  const res = await app.httpRequest().post('/api/app/login').send({ code })
    .expect(200);
  return { token: res.body.token, openid: res.body.user.openid, userId: res.body.user.id };
}

export function order(token: string, tradeType?: string, extra: { headers?: Record<string, string>; items?: unknown } = {}) {
  const req = app.httpRequest().post('/payment/order').set('Authorization', `Bearer ${token}`);
  for (const [ k, v ] of Object.entries(extra.headers ?? {})) req.set(k, v);
  return req.send({ items: extra.items ?? [{ productId: PRODUCTS.coffee.id, quantity: 2 }], ...(tradeType ? { tradeType } : {}) });
}

const get = (path: string, token: string) => app.httpRequest().get(path).set('Authorization', `Bearer ${token}`);
const lastUnifiedOrder = () => testEnv.sim.requests('unifiedorder').at(-1)!.params;

/** The WeChat app SDK's sign, from the documented rule: sorted k=v of the six fields, &key=, MD5 or HMAC-SHA256, upper case. */
function independentAppSign(p: Record<string, string>, key: string, signType: string): string {
  const text = [ 'appid', 'noncestr', 'package', 'partnerid', 'prepayid', 'timestamp' ].map(k => `${k}=${p[k]}`).join('&') + `&key=${key}`;
  const digest = signType === 'HMAC-SHA256' ? createHmac('sha256', key).update(text, 'utf8') : createHash('md5').update(text, 'utf8');
  return digest.digest('hex').toUpperCase();
}

async function paidByWechat(outTradeNo: string, pay: () => Promise<unknown>) {
  const delivered = testEnv.sim.waitForDelivery(outTradeNo, { kind: 'payment', acknowledged: true });
  await pay();
  await delivered;
  return (await app.model.Order.findOne({ where: { outTradeNo } }))!;
}

describe('channels: NATIVE, MWEB and APP on the one order path', () => {
  beforeEach(resetWorld);
  afterEach(() => { mock.restore(); testEnv.sim.clearFaults(); });

  describe('NATIVE (a QR code on a PC web page)', () => {
    it('orders with product_id and no openid under the official account, answers code_url and QR links, and the scanned code pays the order', async () => {
      const token = await webGuest();
      const res = await order(token, 'NATIVE').expect(200);
      const { outTradeNo } = res.body;
      assert.deepEqual(Object.keys(res.body).sort(), [ 'codeUrl', 'codeUrlExpiresAt', 'outTradeNo', 'qrCode', 'tradeType' ]);
      assert.equal(res.body.tradeType, 'NATIVE');
      assert.match(res.body.codeUrl, /^weixin:\/\/wxpay\/bizpayurl\?pr=/);
      assert.deepEqual(res.body.qrCode, { svg: `/payment/orders/${outTradeNo}/qrcode.svg`, png: `/payment/orders/${outTradeNo}/qrcode.png` });
      const expiresIn = Date.parse(res.body.codeUrlExpiresAt) - Date.now();
      // 2 hours at WeChat, capped by the order's own expiry (30 minutes by default).
      assert.ok(expiresIn > 0 && expiresIn <= app.config.payment.orderTtlSeconds * 1000, `${expiresIn}`);

      const sent = lastUnifiedOrder();
      assert.equal(sent.trade_type, 'NATIVE');
      assert.equal(sent.product_id, String(PRODUCTS.coffee.id));
      assert.equal(sent.openid, undefined);
      assert.equal(sent.appid, OA());
      const row = (await app.model.Order.findOne({ where: { outTradeNo } }))!;
      assert.deepEqual([ row.tradeType, row.appid ], [ 'NATIVE', OA() ]);

      const paid = await paidByWechat(outTradeNo, () => testEnv.sim.scan(res.body.codeUrl));
      assert.equal(paid.status, 'SUCCESS');
      // The payer (whoever scanned) is not the guest; the payment is the order's all the same.
      assert.notEqual(testEnv.sim.order(outTradeNo)!.openid, '');
      const view = await get(`/payment/orders/${outTradeNo}`, token).expect(200);
      assert.equal(view.body.status, 'SUCCESS');
    });

    it('serves the code_url as an SVG and a PNG QR code to the owner only', async () => {
      const token = await webGuest();
      const { body } = await order(token, 'NATIVE').expect(200);
      const svg = await get(body.qrCode.svg, token).expect(200);
      assert.match(svg.headers['content-type'], /^image\/svg\+xml/);
      assert.equal(svg.headers['cache-control'], 'private, no-store');
      // Exactly the QR code of code_url, unchanged (computed here with the same library and options).
      const expected = await QRCode.toString(body.codeUrl, { type: 'svg', errorCorrectionLevel: 'M', margin: 4 });
      assert.equal(svg.body.toString(), expected);
      const png = await get(body.qrCode.png, token).expect(200).buffer(true);
      assert.match(png.headers['content-type'], /^image\/png/);
      assert.ok((png.body as Buffer).subarray(0, 8).equals(PNG_SIGNATURE));
      assert.equal((png.body as Buffer).readUInt32BE(16), 256, 'IHDR width');

      // Another guest, or a mini-program user: exactly like a missing order.
      const other = await webGuest();
      const theirs = await get(body.qrCode.svg, other).expect(404);
      assert.deepEqual(theirs.body, { code: 'ORDER_NOT_FOUND', message: 'no such order' });
      await get(body.qrCode.png, (await login()).token).expect(404);
      await app.httpRequest().get(body.qrCode.svg).expect(401);
    });

    it('an expired code_url: the QR route answers 409 and /pay issues a new code under a new number, the old one closed at WeChat', async () => {
      const token = await webGuest();
      const { body } = await order(token, 'NATIVE').expect(200);
      await app.model.query(
        'UPDATE payment_attempts a JOIN orders o ON o.current_attempt_id = a.id SET a.prepay_expires_at = ? WHERE o.out_trade_no = ?',
        { replacements: [ new Date(Date.now() - 1000), body.outTradeNo ] });
      const expired = await get(body.qrCode.svg, token).expect(409);
      assert.equal(expired.body.code, 'QR_CODE_EXPIRED');

      const again = await app.httpRequest().post(`/payment/orders/${body.outTradeNo}/pay`).set('Authorization', `Bearer ${token}`)
        .expect(200);
      assert.equal(again.body.tradeType, 'NATIVE');
      assert.notEqual(again.body.codeUrl, body.codeUrl);
      assert.deepEqual(testEnv.sim.requests('closeorder').map(r => r.params.out_trade_no), [ body.outTradeNo ]);
      await get(body.qrCode.svg, token).expect(200);
      // The old code is closed at WeChat: scanning it no longer pays.
      await assert.rejects(testEnv.sim.scan(body.codeUrl), /closed/);
    });

    it('a paid order, or an order of another trade type, has no QR code (409)', async () => {
      const token = await webGuest();
      const { body } = await order(token, 'NATIVE').expect(200);
      await paidByWechat(body.outTradeNo, () => testEnv.sim.scan(body.codeUrl));
      assert.equal((await get(body.qrCode.png, token).expect(409)).body.code, 'QR_CODE_UNAVAILABLE');
      const h5 = await order(token, 'MWEB').expect(200);
      assert.equal((await get(`/payment/orders/${h5.body.outTradeNo}/qrcode.svg`, token).expect(409)).body.code, 'NOT_A_QR_ORDER');
    });

    it('repeating /pay while the code is valid gives the same code_url, without a new unified order', async () => {
      const token = await webGuest();
      const { body } = await order(token, 'NATIVE').expect(200);
      const again = await app.httpRequest().post(`/payment/orders/${body.outTradeNo}/pay`).set('Authorization', `Bearer ${token}`)
        .expect(200);
      assert.equal(again.body.codeUrl, body.codeUrl);
      assert.equal(testEnv.sim.requests('unifiedorder').length, 1);
    });
  });

  describe('MWEB (H5, a mobile browser outside WeChat)', () => {
    it('sends the H5 site as scene_info and the payer\'s IP as Egg computes it (TRUST_PROXY), and answers mweb_url with our return page appended', async () => {
      mock(app.config, 'proxy', true);
      const token = await webGuest();
      const res = await order(token, 'MWEB', { headers: { 'X-Forwarded-For': '203.0.113.7' } }).expect(200);
      const { outTradeNo } = res.body;
      assert.deepEqual(Object.keys(res.body).sort(), [ 'mwebUrl', 'mwebUrlExpiresAt', 'outTradeNo', 'tradeType' ]);
      const sent = lastUnifiedOrder();
      assert.equal(sent.trade_type, 'MWEB');
      assert.equal(sent.spbill_create_ip, '203.0.113.7');
      assert.equal(sent.appid, OA());
      assert.equal(sent.openid, undefined);
      const { web } = app.config.wechat;
      assert.deepEqual(JSON.parse(sent.scene_info), { h5_info: { type: 'Wap', wap_url: web.wapUrl, wap_name: web.wapName } });

      const url = new URL(res.body.mwebUrl);
      assert.equal(url.pathname, '/cgi-bin/mmpayweb-bin/checkmweb');
      assert.equal(url.searchParams.get('redirect_url'), `${web.h5ReturnUrl}?outTradeNo=${outTradeNo}`);
      // Appended URL-encoded, as WeChat documents.
      assert.ok(res.body.mwebUrl.endsWith(`&redirect_url=${encodeURIComponent(`${web.h5ReturnUrl}?outTradeNo=${outTradeNo}`)}`));
      const ttl = Date.parse(res.body.mwebUrlExpiresAt) - Date.now();
      assert.ok(ttl > 4 * 60 * 1000 && ttl <= 5 * 60 * 1000, `${ttl}`);
    });

    it('without TRUST_PROXY a forwarded address is ignored: spbill_create_ip is the connection\'s', async () => {
      const token = await webGuest();
      await order(token, 'MWEB', { headers: { 'X-Forwarded-For': '203.0.113.7' } }).expect(200);
      assert.equal(lastUnifiedOrder().spbill_create_ip, '127.0.0.1');
    });

    it('the simulator serves mweb_url as the cashier page (Referer and redirect_url on the H5 domain) and paying it pays the order', async () => {
      const token = await webGuest();
      const { body } = await order(token, 'MWEB').expect(200);
      const page = await fetch(body.mwebUrl, { headers: { Referer: 'http://127.0.0.1:7001/shop' } });
      assert.equal(page.status, 200);
      assert.match(await page.text(), /¥24\.00/);

      const noReferer = await fetch(body.mwebUrl);
      assert.equal(noReferer.status, 403);
      const foreign = new URL(body.mwebUrl);
      foreign.searchParams.set('redirect_url', 'https://evil.example/back');
      const badRedirect = await fetch(foreign, { headers: { Referer: 'http://127.0.0.1/' } });
      assert.equal(badRedirect.status, 400);
      assert.match(await badRedirect.text(), /redirect_url is not on the H5 payment domain/);

      const url = new URL(body.mwebUrl);
      const paid = await paidByWechat(body.outTradeNo, async () => {
        const res = await fetch(`${testEnv.sim.url}/simulator/mweb-pay`, {
          method: 'POST', headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ prepayId: url.searchParams.get('prepay_id'), package: url.searchParams.get('package') }),
        });
        assert.equal(res.status, 200);
      });
      assert.equal(paid.status, 'SUCCESS');
    });

    it('is off (404 CHANNEL_NOT_CONFIGURED) when no H5 site is configured, as in production without WECHAT_H5_*', async () => {
      mock(app.config.wechat.web, 'wapUrl', '');
      const token = await webGuest();
      const res = await order(token, 'MWEB').expect(404);
      assert.equal(res.body.code, 'CHANNEL_NOT_CONFIGURED');
      assert.equal(await app.model.Order.count(), 0);
      assert.equal(testEnv.sim.requests('unifiedorder').length, 0);
    });
  });

  describe('APP (the Open Platform mobile app)', () => {
    for (const signType of [ 'MD5', 'HMAC-SHA256' ] as const) {
      it(`answers the app SDK's fields signed for the mobile app's appid with the order's sign type (${signType})`, async () => {
        mock(app.config.wechat, 'signType', signType);
        const { token } = await appUser();
        const res = await order(token).expect(200);
        const p = res.body;
        assert.deepEqual(Object.keys(p).sort(), [ 'appid', 'noncestr', 'outTradeNo', 'package', 'partnerid', 'prepayid', 'sign', 'timestamp', 'tradeType' ]);
        assert.equal(p.tradeType, 'APP');
        assert.equal(p.appid, MOBILE());
        assert.equal(p.partnerid, app.config.wechat.mchId);
        assert.equal(p.package, 'Sign=WXPay');
        assert.match(p.timestamp, /^\d{10}$/);
        assert.match(p.noncestr, /^[A-Za-z0-9]{1,32}$/);
        const sent = lastUnifiedOrder();
        assert.equal(sent.trade_type, 'APP');
        assert.equal(sent.appid, MOBILE());
        assert.equal(sent.sign_type, signType);
        assert.equal(sent.openid, undefined);
        assert.equal(p.prepayid, testEnv.sim.order(p.outTradeNo)!.prepayId);
        assert.equal(p.sign, independentAppSign(p, app.config.wechat.apiKey, signType));

        const paid = await paidByWechat(p.outTradeNo, () => testEnv.sim.pay(p.outTradeNo));
        assert.equal(paid.status, 'SUCCESS');
      });
    }

    it('the app login: a used or unknown code is 401, another app\'s code is refused, and the user is (mobile appid, openid)', async () => {
      const { code } = testEnv.sim.issueOAuthCode({ appId: MOBILE(), openid: 'app-user-1' });
      const first = await app.httpRequest().post('/api/app/login').send({ code })
        .expect(200);
      assert.equal(first.headers['cache-control'], 'no-store');
      const user = (await app.model.User.findByPk(first.body.user.id))!;
      assert.deepEqual([ user.appid, user.openid ], [ MOBILE(), 'app-user-1' ]);
      assert.equal((await app.httpRequest().post('/api/app/login').send({ code })
        .expect(401)).body.code, 'OAUTH_CODE_USED');
      assert.equal((await app.httpRequest().post('/api/app/login').send({ code: 'nope' })
        .expect(401)).body.code, 'INVALID_OAUTH_CODE');
      const oaCode = testEnv.sim.issueOAuthCode({ appId: OA() }).code;
      assert.equal((await app.httpRequest().post('/api/app/login').send({ code: oaCode })
        .expect(401)).body.code, 'INVALID_OAUTH_CODE');
      assert.equal((await app.httpRequest().post('/api/app/login').send({})
        .expect(422)).body.field, 'code');
    });

    it('without a configured mobile app, its login answers 404', async () => {
      const { code } = testEnv.sim.issueOAuthCode({ appId: MOBILE() });
      mock(app.config.wechat, 'apps', { miniProgram: app.config.wechat.apps.miniProgram, officialAccount: app.config.wechat.apps.officialAccount });
      assert.equal((await app.httpRequest().post('/api/app/login').send({ code })
        .expect(404)).body.code, 'CHANNEL_NOT_CONFIGURED');
    });
  });

  describe('sessions and the channel they may order with', () => {
    it('refuses a trade type the session\'s channel does not have (403), before any order or WeChat call', async () => {
      const guest = await webGuest();
      const mini = (await login()).token;
      const mobile = (await appUser()).token;
      for (const [ token, tradeType ] of [
        [ mini, 'NATIVE' ], [ mini, 'MWEB' ], [ mini, 'APP' ], [ guest, 'JSAPI' ], [ guest, 'APP' ], [ mobile, 'NATIVE' ], [ mobile, 'JSAPI' ],
      ]) {
        const res = await order(token, tradeType).expect(403);
        assert.equal(res.body.code, 'TRADE_TYPE_NOT_ALLOWED', `${tradeType}`);
      }
      assert.equal(await app.model.Order.count(), 0);
      assert.equal(testEnv.sim.requests('unifiedorder').length, 0);
    });

    it('refuses an unknown trade type with 422 on the field', async () => {
      const res = await order(await webGuest(), 'MICROPAY').expect(422);
      assert.equal(res.body.field, 'tradeType');
    });

    it('defaults: a guest orders NATIVE, the app APP, the mini-program JSAPI (its reply unchanged)', async () => {
      assert.equal((await order(await webGuest()).expect(200)).body.tradeType, 'NATIVE');
      assert.equal((await order((await appUser()).token).expect(200)).body.tradeType, 'APP');
      const mini = await order((await login()).token).expect(200);
      assert.equal(mini.body.tradeType, undefined);
      assert.match(mini.body.package, /^prepay_id=/);
    });

    it('guest sessions are rate limited per IP like logins, and need the official account', async () => {
      mock(app.config.rateLimit.loginPerIp, 'limit', 1);
      await app.httpRequest().post('/api/web/session').expect(200);
      assert.equal((await app.httpRequest().post('/api/web/session').expect(429)).body.code, 'RATE_LIMITED');
      mock.restore();
      mock(app.config.wechat, 'apps', { miniProgram: app.config.wechat.apps.miniProgram, app: app.config.wechat.apps.app });
      assert.equal((await app.httpRequest().post('/api/web/session').expect(404)).body.code, 'CHANNEL_NOT_CONFIGURED');
    });

    it('an Idempotency-Key reused for another trade type is a conflict', async () => {
      const token = await webGuest();
      await order(token, 'NATIVE', { headers: { 'Idempotency-Key': 'k1' } }).expect(200);
      assert.equal((await order(token, 'MWEB', { headers: { 'Idempotency-Key': 'k1' } }).expect(409)).body.code, 'IDEMPOTENCY_KEY_REUSED');
    });
  });

  describe('close, expiry, active query and refunds, unchanged for every channel', () => {
    const CHANNELS = [
      { tradeType: 'NATIVE', session: webGuest, appId: OA },
      { tradeType: 'MWEB', session: webGuest, appId: OA },
      { tradeType: 'APP', session: async () => (await appUser()).token, appId: MOBILE },
    ];
    for (const channel of CHANNELS) {
      describe(channel.tradeType, () => {
        it('close: closed at WeChat under the order\'s appid, then here', async () => {
          const token = await channel.session();
          const { body } = await order(token, channel.tradeType).expect(200);
          const res = await app.httpRequest().post(`/payment/orders/${body.outTradeNo}/close`).set('Authorization', `Bearer ${token}`)
            .expect(200);
          assert.equal(res.body.status, 'CLOSED');
          const [ close ] = testEnv.sim.requests('closeorder');
          assert.deepEqual([ close.params.out_trade_no, close.params.appid ], [ body.outTradeNo, channel.appId() ]);
          assert.equal(testEnv.sim.order(body.outTradeNo)!.tradeState, 'CLOSED');
        });

        it('expiry: the job closes it at WeChat and here', async () => {
          const token = await channel.session();
          const { body } = await order(token, channel.tradeType).expect(200);
          await app.model.query('UPDATE orders SET expires_at = ? WHERE out_trade_no = ?', { replacements: [ new Date(Date.now() - 60_000), body.outTradeNo ] });
          assert.deepEqual(await app.runSchedule('closeExpiredOrders'), { ran: true, result: { closed: 1, paid: 0, failed: 0 } });
          assert.equal((await app.model.Order.findOne({ where: { outTradeNo: body.outTradeNo } }))!.status, 'CLOSED');
          assert.equal(testEnv.sim.requests('closeorder')[0].params.appid, channel.appId());
        });

        it('active query: a payment whose notification never came is found by the status poll', async () => {
          mock(app.config.wechat, 'notifyUrl', await closedUrl('/payment/notify'));
          const token = await channel.session();
          const { body } = await order(token, channel.tradeType).expect(200);
          mock.restore();
          await testEnv.sim.pay(body.outTradeNo);
          const view = await get(`/payment/orders/${body.outTradeNo}`, token).expect(200);
          assert.equal(view.body.status, 'SUCCESS');
          const [ query ] = testEnv.sim.requests('orderquery');
          assert.equal(query.params.appid, channel.appId());
          const events = await app.model.OrderEvent.findAll();
          assert.deepEqual(events.map(e => [ e.type, e.source ]), [[ 'PAID', 'query' ]]);
        });

        it('refund: the admin refunds it under the order\'s appid, and the refund notification settles it', async () => {
          const token = await channel.session();
          const { body } = await order(token, channel.tradeType).expect(200);
          await paidByWechat(body.outTradeNo, () => testEnv.sim.pay(body.outTradeNo));
          const refunded = testEnv.sim.waitForDelivery(body.outTradeNo, { kind: 'refund', acknowledged: true });
          const res = await requestRefund(body.outTradeNo, { amount: 1000, reason: 'test' }).expect(201);
          await refunded;
          assert.equal(testEnv.sim.requests('refund')[0].params.appid, channel.appId());
          const refund = (await app.model.Refund.findOne({ where: { outRefundNo: res.body.outRefundNo } }))!;
          assert.equal(refund.status, 'SUCCESS');
          assert.equal((await app.model.Order.findOne({ where: { outTradeNo: body.outTradeNo } }))!.refundedFee, 1000);
        });
      });
    }
  });

  describe('reconciliation: a day with payments in every channel', () => {
    // A simulator of our own whose clock the test sets: a day's bill exists from 10:00 the next day.
    let offsetMs = 0;
    const sim = new WechatSimulator({ now: () => new Date(Date.now() + offsetMs), retryScale: 0.001, notifyTimeoutMs: 3000 });
    let saved: { sim: WechatSimulator; payBaseUrl: string; loginBaseUrl: string };
    before(async () => {
      await sim.start();
      saved = { sim: testEnv.sim, payBaseUrl: app.config.wechat.payBaseUrl, loginBaseUrl: app.config.wechat.loginBaseUrl };
      testEnv.sim = sim;
      app.config.wechat.payBaseUrl = sim.url;
      app.config.wechat.loginBaseUrl = sim.url;
    });
    after(async () => {
      testEnv.sim = saved.sim;
      app.config.wechat.payBaseUrl = saved.payBaseUrl;
      app.config.wechat.loginBaseUrl = saved.loginBaseUrl;
      await sim.stop();
    });
    afterEach(() => { offsetMs = 0; });

    it('JSAPI, NATIVE, MWEB, APP and payment-code (MICROPAY) payments of one day: the bill lists each trade type and reconciles with no discrepancy', async () => {
      await resetWorld();
      const guest = await webGuest();
      const placed = [
        (await order((await login()).token).expect(200)).body.outTradeNo,
        (await order(guest, 'NATIVE').expect(200)).body,
        (await order(guest, 'MWEB').expect(200)).body.outTradeNo,
        (await order((await appUser()).token, 'APP').expect(200)).body.outTradeNo,
      ];
      await paidByWechat(placed[0], () => sim.pay(placed[0]));
      await paidByWechat(placed[1].outTradeNo, () => sim.scan(placed[1].codeUrl));
      await paidByWechat(placed[2], () => sim.pay(placed[2]));
      await paidByWechat(placed[3], () => sim.pay(placed[3]));
      const charge = await app.httpRequest().post('/admin/pos/charges').set({ Authorization: `Bearer ${app.config.adminToken}` })
        .set('Idempotency-Key', 'every-channel-pos')
        .send({ authCode: sim.issuePaymentCode().authCode, amount: 1500 })
        .expect(201);
      assert.equal(charge.body.status, 'PAID');
      const day = beijingDay(new Date());
      const billDay = `${day.slice(0, 4)}-${day.slice(4, 6)}-${day.slice(6, 8)}`;
      // Two days on, noon: the day's bill is ready.
      offsetMs = fromBeijing(`${day}120000`)!.getTime() + 2 * 24 * 3600 * 1000 - Date.now();
      const report = await app.createAnonymousContext().service.reconciliation.reconcile(billDay);
      assert.equal(report.status, 'OK');
      assert.deepEqual(report.discrepancies, []);
      assert.equal(report.bill!.paymentCount, 5);
      assert.equal(report.local.paymentCount, 5);
      assert.equal(report.bill!.paymentTotal, report.local.paymentTotal);
      const bill = await app.wechatPay.downloadBill(day);
      for (const [ outTradeNo, tradeType ] of [[ placed[0], 'JSAPI' ], [ placed[1].outTradeNo, 'NATIVE' ], [ placed[2], 'MWEB' ], [ placed[3], 'APP' ], [ charge.body.outTradeNo, 'MICROPAY' ]]) {
        assert.match(bill, new RegExp(`\`${outTradeNo},\`[^,]*,\`${tradeType},`), `${tradeType} line of ${outTradeNo}`);
      }
    });
  });
});
