import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import * as http from 'node:http';
import { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { app, mock } from 'egg-mock/bootstrap';
import { BrowserContext, Page } from 'playwright-core';
import { openPage, useChromium } from '../support/browser';
import { testEnv } from '../support/env';
import { PRODUCTS, resetWorld } from '../support/fixtures';

const EXAMPLE_DIR = path.join(__dirname, '..', '..', 'examples', 'official-account');
const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'application/javascript' };

/**
 * The shop's host: examples/official-account unchanged under /shop/, everything else passed to the
 * service, so the page and the API share an origin as in production (a real loopback server:
 * Chromium refuses a page Playwright made up access to the loopback simulator).
 */
async function startShopHost(appUrl: string): Promise<{ url: string; close: () => Promise<void> }> {
  const target = new URL(appUrl);
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://shop');
    if (url.pathname.startsWith('/shop/')) {
      const file = path.basename(url.pathname) || 'index.html';
      const body = await readFile(path.join(EXAMPLE_DIR, file), 'utf8').catch(() => undefined);
      res.writeHead(body === undefined ? 404 : 200, { 'Content-Type': TYPES[path.extname(file)] ?? 'text/plain' });
      res.end(body ?? 'not found');
      return;
    }
    const upstream = http.request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, reply => {
      res.writeHead(reply.statusCode ?? 502, reply.headers);
      reply.pipe(res);
    });
    upstream.on('error', () => { res.writeHead(502); res.end(); });
    req.pipe(upstream);
  });
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>(resolve => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

/**
 * examples/official-account, unchanged, as if served under /shop/ on the service's origin, in a
 * Chromium whose WeixinJSBridge is the simulator's stand-in (WeChat's browser provides the real
 * one): OAuth through the simulator's authorize page, order, bridge, paid.
 */
describe('examples/official-account: the H5 shop page in headless Chromium', function() {
  this.timeout(60000);
  const browser = useChromium();
  let context: BrowserContext;
  let page: Page;
  let pageErrors: string[];

  let shop: { url: string; close: () => Promise<void> };

  before(async () => {
    shop = await startShopHost(testEnv.appUrl);
  });
  after(async () => {
    await shop?.close();
  });
  beforeEach(async () => {
    await resetWorld();
    mock(app.config.oauth, 'callbackUrl', `${shop.url}/oauth/wechat/callback`);
    mock(app.config.oauth, 'redirectAllowList', [ `${shop.url}/shop/` ]);
    // What WeChat's browser has built in: the bridge, here the simulator's stand-in.
    ({ context, page, pageErrors } = await openPage(browser(), {}, `document.addEventListener('DOMContentLoaded', function () {
      var s = document.createElement('script'); s.src = ${JSON.stringify(`${testEnv.sim.url}/simulator/jsbridge.js`)}; document.head.append(s);
    });`));
  });
  afterEach(async () => {
    await context.close();
    mock.restore();
    assert.deepEqual(pageErrors, [], 'the page threw');
  });

  it('logs in by OAuth on first load, orders, pays through getBrandWCPayRequest and confirms with the service', async () => {
    await page.goto(`${shop.url}/shop/index.html`);
    // No token: the page went to the service's OAuth, which sent it to WeChat's authorize page.
    await page.waitForURL(url => url.pathname === '/connect/oauth2/authorize');
    await page.fill('input[name="openid"]', 'oa-h5-payer');
    await page.click('button[type="submit"]');
    await page.waitForURL(url => url.pathname === '/shop/index.html');
    await page.locator(`li[data-product-id="${PRODUCTS.coffee.id}"] button`).waitFor();
    assert.equal(new URL(page.url()).hash, '', 'the token was taken out of the address bar');

    await page.click(`li[data-product-id="${PRODUCTS.coffee.id}"] button`);
    await page.frameLocator('#wechat-cashier').locator('#pay').click();
    await page.locator('#message', { hasText: 'Paid. Thank you!' }).waitFor();

    const order = await app.model.Order.findOne();
    assert.equal(order!.status, 'SUCCESS');
    assert.equal(order!.appid, app.config.wechat.apps.officialAccount!.appId);
    const user = await app.model.User.findByPk(order!.userId!);
    assert.equal(user!.openid, 'oa-h5-payer');
  });

  it('a cancelled payment says so and leaves the order unpaid', async () => {
    await page.goto(`${shop.url}/shop/index.html`);
    await page.waitForURL(url => url.pathname === '/connect/oauth2/authorize');
    await page.click('button[type="submit"]');
    await page.waitForURL(url => url.pathname === '/shop/index.html');
    await page.locator(`li[data-product-id="${PRODUCTS.croissant.id}"] button`).click();
    await page.frameLocator('#wechat-cashier').locator('#cancel').click();
    await page.locator('#message', { hasText: 'Payment cancelled.' }).waitFor();
    const order = await app.model.Order.findOne();
    assert.equal(order!.status, 'NOTPAY');
    assert.equal(testEnv.sim.order(order!.outTradeNo)!.tradeState, 'NOTPAY');
  });
});
