import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { app, mock } from 'egg-mock/bootstrap';
import { BrowserContext, Page } from 'playwright-core';
import { openPage, PNG_SIGNATURE, useChromium, VIEWPORT } from '../support/browser';
import { closedUrl } from '../support/closedPort';
import { testEnv } from '../support/env';
import { PRODUCTS, resetWorld } from '../support/fixtures';

/** Kept after the run (logs/ is git-ignored) so a person can look at it. */
const SCREENSHOT_PATH = path.join(__dirname, '..', '..', 'logs', 'browser-demo.png');

describe('browser demo (/demo) in headless Chromium, against the running service and the simulator', function() {
  this.timeout(60000);
  const browser = useChromium();
  let context: BrowserContext;
  let page: Page;
  let pageErrors: string[];

  beforeEach(async () => {
    await resetWorld();
    ({ context, page, pageErrors } = await openPage(browser(), { viewport: VIEWPORT }));
  });
  afterEach(async () => {
    await context.close();
    mock.restore();
    testEnv.sim.clearFaults();
    assert.deepEqual(pageErrors, [], 'the page threw');
  });

  async function openDemo() {
    await page.goto(`${testEnv.appUrl}/demo`);
    await page.locator('body[data-ready="true"]').waitFor();
  }

  async function buy(productId: number, quantity: number) {
    const product = page.locator(`li.product[data-product-id="${productId}"]`);
    await product.locator('input.quantity').fill(String(quantity));
    await product.locator('button.buy').click();
  }

  /** Presses Pay and waits for the payment sheet; answers the order number the page shows. */
  async function payAndOpenSheet(): Promise<string> {
    await page.click('#pay');
    await page.locator('#sheet').waitFor({ state: 'visible' });
    return (await page.textContent('#out-trade-no'))!;
  }

  async function orderRow(outTradeNo: string) {
    const order = await app.model.Order.findOne({ where: { outTradeNo } });
    assert.ok(order, `order ${outTradeNo} is in the database`);
    return order;
  }

  it('from product to paid: log in with a test code, order, pay in the sheet, watch the status turn SUCCESS', async () => {
    await openDemo();
    assert.deepEqual(await page.locator('li.product .name').allTextContents(), [ PRODUCTS.coffee.name, PRODUCTS.croissant.name ]);

    await page.click('#login');
    await page.locator('#session', { hasText: 'Logged in as ' }).waitFor();
    const openid = /Logged in as (\S+)/.exec((await page.textContent('#session'))!)![1];
    // The simulated user is the mini-program's dev user (lib/devLogin.js), kept in the tab's storage.
    assert.equal(await page.evaluate(() => sessionStorage.getItem('wxpay.devOpenid')), openid);

    await buy(PRODUCTS.coffee.id, 2);
    assert.equal(await page.textContent('#order-total'), '¥24.00');
    const outTradeNo = await payAndOpenSheet();
    assert.equal(await page.textContent('#sheet-amount'), '¥24.00');
    assert.deepEqual(await page.locator('#sheet-fields dt').allTextContents(), [ 'timeStamp', 'nonceStr', 'package', 'signType', 'paySign' ]);
    assert.equal(await page.textContent('#status'), 'NOTPAY');

    await page.click('#sheet-pay');
    await page.locator('#result.PAID').waitFor();
    assert.equal(await page.textContent('#result'), 'Payment successful.');
    assert.equal(await page.textContent('#status'), 'SUCCESS');
    assert.ok(await page.locator('#sheet').isHidden());
    assert.ok(await page.locator('#pay').isHidden());

    const order = await orderRow(outTradeNo);
    assert.equal(order.status, 'SUCCESS');
    assert.equal(order.totalFee, 2 * PRODUCTS.coffee.priceFen);
    assert.ok(order.idempotencyKey, 'the page sent an Idempotency-Key');
    const user = await app.model.User.findByPk(order.userId!);
    assert.equal(user!.openid, openid, 'the order belongs to the user the page logged in as');

    const png = await page.screenshot({ fullPage: true });
    await mkdir(path.dirname(SCREENSHOT_PATH), { recursive: true });
    await writeFile(SCREENSHOT_PATH, png);
    assert.ok(png.subarray(0, 8).equals(PNG_SIGNATURE), 'a PNG');
    assert.equal(png.readUInt32BE(16), VIEWPORT.width, 'IHDR width');
    assert.ok(png.readUInt32BE(20) >= VIEWPORT.height, 'IHDR height');
    // A blank page of this size compresses to a few kilobytes; text, buttons and the log do not.
    assert.ok(png.length > 30_000, `screenshot is ${png.length} bytes`);
  });

  it("paying in the simulator's own payer page: the demo's sheet closes once the service sees the order paid", async () => {
    await openDemo();
    await buy(PRODUCTS.croissant.id, 1);
    const outTradeNo = await payAndOpenSheet();
    const simulatorPage = await page.getAttribute('#sheet-sim-link', 'href');
    assert.equal(simulatorPage, `${testEnv.sim.url}/simulator/`);

    const payer = await context.newPage();
    await payer.goto(simulatorPage!);
    await payer.click(`button[data-action="pay"][data-order="${outTradeNo}"]`);

    await page.locator('#result.PAID').waitFor();
    assert.equal(await page.textContent('#status'), 'SUCCESS');
    assert.ok(await page.locator('#sheet').isHidden());
    assert.equal((await orderRow(outTradeNo)).status, 'SUCCESS');
  });

  it('Check again shows a refunded (REFUND) order as paid, as the mini-program does (checkout.resultOf)', async () => {
    await openDemo();
    await buy(PRODUCTS.coffee.id, 1);
    const outTradeNo = await payAndOpenSheet();
    await page.click('#sheet-pay');
    await page.locator('#result.PAID').waitFor();
    await app.model.Order.update({ status: 'REFUND' }, { where: { outTradeNo } });

    // The button a PENDING outcome shows; the result is cleared so only the new one can show.
    await page.evaluate(() => {
      document.getElementById('check')!.hidden = false;
      Object.assign(document.getElementById('result')!, { hidden: true, className: 'result', textContent: '' });
    });
    await page.click('#check');
    await page.locator('#result:not([hidden])').waitFor();
    assert.equal(await page.getAttribute('#result', 'class'), 'result PAID');
    assert.equal(await page.textContent('#result'), 'Payment successful.');
    assert.equal(await page.textContent('#status'), 'REFUND');
  });

  it('a failed payment is shown as such, the order stays NOTPAY, and Pay again pays the same order', async () => {
    await openDemo();
    await buy(PRODUCTS.coffee.id, 1);
    const outTradeNo = await payAndOpenSheet();
    await page.click('#sheet-fail');

    await page.locator('#result.FAILED').waitFor();
    assert.equal(await page.textContent('#result'), 'Payment failed (requestPayment:fail insufficient balance). You can try again.');
    assert.equal(await page.textContent('#status'), 'NOTPAY');
    assert.equal((await orderRow(outTradeNo)).status, 'NOTPAY');
    assert.equal(testEnv.sim.order(outTradeNo)!.tradeState, 'PAYERROR');

    assert.equal(await payAndOpenSheet(), outTradeNo);
    await page.click('#sheet-pay');
    await page.locator('#result.PAID').waitFor();
    assert.equal((await orderRow(outTradeNo)).status, 'SUCCESS');
    assert.equal(await app.model.Order.count(), 1);
  });

  it('cancelling the sheet: CANCELLED, the order stays NOTPAY and WeChat has no payment', async () => {
    await openDemo();
    await buy(PRODUCTS.coffee.id, 1);
    const outTradeNo = await payAndOpenSheet();
    await page.click('#sheet-cancel');

    await page.locator('#result.CANCELLED').waitFor();
    assert.equal(await page.textContent('#result'), 'Payment cancelled. You can pay again.');
    assert.ok(await page.locator('#pay').isVisible());
    assert.equal((await orderRow(outTradeNo)).status, 'NOTPAY');
    assert.equal(testEnv.sim.order(outTradeNo)!.tradeState, 'NOTPAY');
  });

  it("shows the service's error when WeChat is busy; Pay again then pays the same order", async () => {
    testEnv.sim.setFault('unifiedorder', { kind: 'systemerror' });
    await openDemo();
    await buy(PRODUCTS.coffee.id, 1);
    await page.click('#pay');

    await page.locator('#error', { hasText: 'WECHAT_BUSY' }).waitFor();
    assert.equal(await page.textContent('#error'),
      'WeChat Pay is busy, retry the same request shortly (WECHAT_BUSY) Press Pay to try again (same order).');
    assert.ok(await page.locator('#sheet').isHidden());

    testEnv.sim.clearFaults();
    const outTradeNo = await payAndOpenSheet();
    await page.click('#sheet-pay');
    await page.locator('#result.PAID').waitFor();
    assert.equal(await app.model.Order.count(), 1, 'the retry reused the order (same Idempotency-Key)');
    assert.equal((await orderRow(outTradeNo)).status, 'SUCCESS');
  });

  it('a login the simulator cannot serve shows why', async () => {
    const nowhere = await closedUrl();
    mock(app.config.wechat, 'payBaseUrl', nowhere);
    await openDemo();
    await page.click('#login');
    await page.locator('#session', { hasText: 'Login failed' }).waitFor();
    assert.ok((await page.textContent('#session'))!.startsWith(`Login failed: wx.login failed: login:fail the WeChat simulator at ${nowhere} did not answer`),
      (await page.textContent('#session'))!);
    assert.equal(await app.model.User.count(), 0);
  });

  // ---- official-account mode (/demo?mode=oa, examples/browser-demo/officialAccount.js) ----

  describe('official-account mode: OAuth through the simulator\'s authorize page, WeixinJSBridge served by the simulator', () => {
    const OA_SCREENSHOT_PATH = path.join(__dirname, '..', '..', 'logs', 'browser-demo-official-account.png');
    const OA = () => app.config.wechat.apps.officialAccount!.appId;

    beforeEach(() => {
      mock(app.config.oauth, 'callbackUrl', `${testEnv.appUrl}/oauth/wechat/callback`);
      mock(app.config.oauth, 'redirectAllowList', [ `${testEnv.appUrl}/demo` ]);
    });

    /** Opens the mode, logs in through WeChat's (the simulator's) authorize page as `openid`, back on the shop. */
    async function loginInOfficialAccount(openid: string) {
      await page.goto(`${testEnv.appUrl}/demo?mode=oa`);
      await page.locator('body[data-oa-ready="true"]').waitFor();
      assert.ok(await page.locator('section.phone:not(#oa)').isHidden(), 'the mini-program is not shown in this mode');
      await page.click('#oa-login');
      await page.waitForURL(url => url.pathname === '/connect/oauth2/authorize');
      assert.equal(new URL(page.url()).origin, testEnv.sim.url);
      await page.fill('input[name="openid"]', openid);
      await page.click('button[type="submit"]');
      await page.waitForURL(url => url.pathname === '/demo');
      await page.locator('body[data-oa-ready="true"]').waitFor();
      await page.locator('#oa-products li.product').first().waitFor();
      // The token came in the fragment and was taken out of the address bar.
      assert.equal(new URL(page.url()).hash, '');
      assert.ok(await page.evaluate(() => sessionStorage.getItem('wxpay.oaToken')));
      assert.equal(await page.textContent('#oa-session'), 'Logged in with WeChat (official account).');
    }

    const cashier = () => page.frameLocator('#wechat-cashier');

    it('logs in, orders and pays through the bridge; the page polls the service until SUCCESS; screenshot', async () => {
      await loginInOfficialAccount('oa-demo-payer');
      await page.locator(`#oa-products li.product[data-product-id="${PRODUCTS.coffee.id}"] button.buy`).click();
      await cashier().locator('#pay').waitFor();
      assert.equal(await cashier().locator('#cashier-amount').textContent(), '¥12.00');
      const outTradeNo = (await page.textContent('#oa-out-trade-no'))!;
      assert.equal(await page.textContent('#oa-status'), 'NOTPAY');

      const png = await page.screenshot({ fullPage: true });
      await mkdir(path.dirname(OA_SCREENSHOT_PATH), { recursive: true });
      await writeFile(OA_SCREENSHOT_PATH, png);
      assert.ok(png.subarray(0, 8).equals(PNG_SIGNATURE), 'a PNG');
      assert.equal(png.readUInt32BE(16), VIEWPORT.width, 'IHDR width');
      assert.ok(png.length > 30_000, `screenshot is ${png.length} bytes`);

      await cashier().locator('#pay').click();
      await page.locator('#oa-result.PAID').waitFor();
      assert.equal(await page.textContent('#oa-status'), 'SUCCESS');
      assert.ok(await page.locator('#wechat-cashier').count() === 0, 'the cashier closed');
      const steps = await page.locator('#oa-steps li').allTextContents();
      assert.ok(steps.includes(`WeixinJSBridge.invoke('getBrandWCPayRequest') for appId ${OA()}`), steps.join(' | '));
      assert.ok(steps.includes('bridge: get_brand_wcpay_request:ok'), steps.join(' | '));
      // ':ok' was not taken as proof: the page asked the service afterwards.
      assert.ok(steps.indexOf('bridge: get_brand_wcpay_request:ok') < steps.findIndex(s => /^poll \d+: SUCCESS$/.test(s)), steps.join(' | '));

      const order = await orderRow(outTradeNo);
      assert.equal(order.status, 'SUCCESS');
      assert.equal(order.appid, OA());
      const user = await app.model.User.findByPk(order.userId!);
      assert.deepEqual([ user!.appid, user!.openid ], [ OA(), 'oa-demo-payer' ]);
      assert.equal(testEnv.sim.order(outTradeNo)!.appId, OA());
    });

    it('cancel and fail in the cashier leave the order unpaid; Pay again then pays the same order', async () => {
      await loginInOfficialAccount('oa-demo-canceller');
      await page.locator(`#oa-products li.product[data-product-id="${PRODUCTS.croissant.id}"] button.buy`).click();
      await cashier().locator('#cancel').click();
      await page.locator('#oa-result.CANCELLED').waitFor();
      const outTradeNo = (await page.textContent('#oa-out-trade-no'))!;
      assert.equal((await orderRow(outTradeNo)).status, 'NOTPAY');
      assert.equal(testEnv.sim.order(outTradeNo)!.tradeState, 'NOTPAY');

      await page.click('#oa-pay');
      await cashier().locator('#fail').click();
      await page.locator('#oa-result.FAILED').waitFor();
      assert.equal(await page.textContent('#oa-result'), 'Payment failed (get_brand_wcpay_request:fail). You can try again.');
      assert.equal((await orderRow(outTradeNo)).status, 'NOTPAY');

      await page.click('#oa-pay');
      await cashier().locator('#pay').click();
      await page.locator('#oa-result.PAID').waitFor();
      assert.equal((await orderRow(outTradeNo)).status, 'SUCCESS');
      assert.equal(await app.model.Order.count(), 1);
    });
  });
});
