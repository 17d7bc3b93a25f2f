import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { app, mock } from 'egg-mock/bootstrap';
import { BrowserContext, Page } from 'playwright-core';
import { openPage, PNG_SIGNATURE, useChromium, VIEWPORT } from '../support/browser';
import { testEnv } from '../support/env';
import { PRODUCTS, resetWorld } from '../support/fixtures';

/** Kept after the run (logs/ is git-ignored) so a person can look at it. */
const SCREENSHOT_PATH = path.join(__dirname, '..', '..', 'logs', 'web-demo-qr.png');

describe('browser demo, web shop mode (/demo/web): PC web (QR code) and H5, in headless Chromium', function() {
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
    assert.deepEqual(pageErrors, [], 'the page threw');
  });

  async function openShop() {
    await page.goto(`${testEnv.appUrl}/demo/web`);
    await page.locator('body[data-ready="true"]').waitFor();
  }

  it('PC web: the QR code of a NATIVE order is shown (screenshot), scanned in the simulator, and the status turns SUCCESS', async () => {
    await openShop();
    await page.click(`li.product[data-product-id="${PRODUCTS.coffee.id}"] button.buy-qr`);
    await page.locator('#qr-img[data-loaded="true"]').waitFor();
    const outTradeNo = (await page.textContent('#out-trade-no'))!;
    assert.equal(await page.textContent('#status'), 'NOTPAY');
    assert.equal(await page.textContent('#amount'), '¥12.00');
    const order = (await app.model.Order.findOne({ where: { outTradeNo } }))!;
    assert.equal(order.tradeType, 'NATIVE');

    // The screenshot, and in it the QR code: the image's box is neither blank nor solid, as a QR code is.
    const png = await page.screenshot({ fullPage: true });
    await mkdir(path.dirname(SCREENSHOT_PATH), { recursive: true });
    await writeFile(SCREENSHOT_PATH, png);
    assert.ok(png.subarray(0, 8).equals(PNG_SIGNATURE), 'a PNG');
    assert.equal(png.readUInt32BE(16), VIEWPORT.width, 'IHDR width');
    const box = (await page.locator('#qr-img').boundingBox())!;
    assert.ok(box.width >= 200 && box.height >= 200, `QR box ${JSON.stringify(box)}`);
    const dark = await page.evaluate(async ({ b64, box }) => {
      const shot = new Image();
      shot.src = `data:image/png;base64,${b64}`;
      await shot.decode();
      const canvas = document.createElement('canvas');
      canvas.width = Math.round(box.width);
      canvas.height = Math.round(box.height);
      const g = canvas.getContext('2d')!;
      g.drawImage(shot, box.x, box.y, box.width, box.height, 0, 0, canvas.width, canvas.height);
      const data = g.getImageData(0, 0, canvas.width, canvas.height).data;
      let count = 0;
      for (let i = 0; i < data.length; i += 4) if (data[i] < 128 && data[i + 1] < 128 && data[i + 2] < 128) count++;
      return count / (data.length / 4);
    }, { b64: png.toString('base64'), box });
    assert.ok(dark > 0.2 && dark < 0.7, `dark share of the QR code's box in the screenshot: ${dark}`);

    // The payer scans it: the simulator's scan page, picking the waiting code.
    const codeUrl = testEnv.sim.order(outTradeNo)!.codeUrl!;
    const scanPage = await page.getAttribute('#scan-link', 'href');
    assert.equal(scanPage, `${testEnv.sim.url}/simulator/scan`);
    const payer = await context.newPage();
    await payer.goto(scanPage!);
    await payer.check(`input[name="pick"][value="${codeUrl}"]`);
    assert.equal(await payer.inputValue('#code'), codeUrl);
    await payer.click('#pay');
    await payer.locator('#result', { hasText: `Paid ${outTradeNo}` }).waitFor();

    await page.locator('#result.PAID').waitFor();
    assert.equal(await page.textContent('#status'), 'SUCCESS');
    assert.ok(await page.locator('#qr').isHidden());
    assert.equal((await app.model.Order.findOne({ where: { outTradeNo } }))!.status, 'SUCCESS');
  });

  it('H5: the cashier page comes back to the return page, which checks the order with the service before saying paid', async () => {
    mock(app.config.wechat.web, 'h5ReturnUrl', `${testEnv.appUrl}/demo/h5-return`);
    await openShop();
    await page.click(`li.product[data-product-id="${PRODUCTS.croissant.id}"] button.buy-h5`);
    await page.waitForURL(url => url.pathname === '/cgi-bin/mmpayweb-bin/checkmweb');
    await page.locator('text=¥8.50').waitFor();
    const outTradeNo = (await app.model.Order.findOne())!.outTradeNo;

    const checked = page.waitForResponse(res => res.url().endsWith(`/payment/orders/${outTradeNo}`) && res.status() === 200);
    await page.click('#pay');
    await page.waitForURL(url => url.pathname === '/demo/h5-return' && url.searchParams.get('outTradeNo') === outTradeNo);
    // The page asked the service, and only then says paid.
    await checked;
    await page.locator('#return-status[data-state="paid"]').waitFor();
    assert.equal(await page.textContent('#return-status'), 'Paid. Thank you!');
    assert.equal((await app.model.Order.findOne({ where: { outTradeNo } }))!.status, 'SUCCESS');
  });
});
