import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { app, mock } from 'egg-mock/bootstrap';
import { BrowserContext, Page } from 'playwright-core';
import { openPage, PNG_SIGNATURE, useChromium, VIEWPORT } from '../support/browser';
import { addDays, beijingDate, beijingDayWindow } from '../../app/domain/beijingDays';
import { testEnv } from '../support/env';
import { createOrder, login, resetWorld } from '../support/fixtures';
import { paidOrder } from '../support/refunds';

/** Kept after the run (logs/ is git-ignored) so a person can look at them. */
const SCREENSHOT_DIR = path.join(__dirname, '..', '..', 'logs');

describe('operator console (/admin/) in headless Chromium, against the running service and the simulator', function() {
  this.timeout(90000);
  const browser = useChromium();
  let context: BrowserContext;
  let page: Page;
  let pageErrors: string[];

  beforeEach(async () => {
    await resetWorld();
    ({ context, page, pageErrors } = await openPage(browser(), { viewport: VIEWPORT }));
    // A Content-Security-Policy refusal is only a console error, not a page error.
    page.on('console', msg => { if (msg.type() === 'error' && /Content.Security.Policy/i.test(msg.text())) pageErrors.push(msg.text()); });
  });
  afterEach(async () => {
    await context.close();
    mock.restore();
    testEnv.sim.clearFaults();
    assert.deepEqual(pageErrors, [], 'the page threw');
  });

  async function openConsole() {
    await page.goto(`${testEnv.appUrl}/admin/`);
    await page.locator('body[data-ready="true"]').waitFor();
  }

  async function signIn(token = app.config.adminToken) {
    await page.fill('#signin-token', token);
    await page.click('#signin-submit');
  }

  /** A full-page screenshot, kept under logs/, checked to be a PNG of the viewport's width with something drawn on it. */
  async function screenshot(name: string, minBytes: number) {
    const png = await page.screenshot({ fullPage: true });
    await mkdir(SCREENSHOT_DIR, { recursive: true });
    await writeFile(path.join(SCREENSHOT_DIR, `console-${name}.png`), png);
    assert.ok(png.subarray(0, 8).equals(PNG_SIGNATURE), 'a PNG');
    assert.equal(png.readUInt32BE(16), VIEWPORT.width, 'IHDR width');
    assert.ok(png.readUInt32BE(20) >= VIEWPORT.height, 'IHDR height');
    // A blank page of this size compresses to a few kilobytes; text, tables and charts do not.
    assert.ok(png.length > minBytes, `${name} screenshot is ${png.length} bytes`);
  }

  it('a wrong token is refused; the right one signs in without the page ever keeping it; sign-out ends the session', async () => {
    await openConsole();
    assert.equal(await page.getAttribute('body', 'data-view'), 'signin');
    await screenshot('signin', 8_000);

    await signIn('not-the-admin-token');
    await page.locator('#message.error', { hasText: 'Wrong admin token.' }).waitFor();
    assert.equal(await page.getAttribute('body', 'data-view'), 'signin');
    assert.equal(await page.inputValue('#signin-token'), '', 'the typed token is cleared');

    await signIn();
    await page.locator('body[data-loaded="dashboard"]').waitFor();
    assert.equal(await page.inputValue('#signin-token'), '');
    const storage = await page.evaluate(() => ({
      local: JSON.stringify({ ...localStorage }), session: JSON.stringify({ ...sessionStorage }), cookie: document.cookie,
      html: document.documentElement.outerHTML,
    }));
    assert.equal(storage.local, '{}');
    assert.equal(storage.session, '{}');
    assert.ok(!storage.cookie.includes('wxpay_console'), 'the session cookie is HttpOnly');
    assert.ok(!storage.html.includes(app.config.adminToken));
    const cookies = await context.cookies();
    const sessionCookie = cookies.find(c => c.name === 'wxpay_console')!;
    assert.equal(sessionCookie.httpOnly, true);
    assert.equal(sessionCookie.sameSite, 'Strict');
    assert.ok(cookies.every(c => !c.value.includes(app.config.adminToken)));

    // A state-changing call without the CSRF header, from the page itself: refused, nothing closed.
    const { token } = await login();
    const { outTradeNo } = (await createOrder(token).expect(200)).body;
    const forged = await page.evaluate(async no => {
      const res = await fetch(`/admin/orders/${no}/close`, { method: 'POST', credentials: 'same-origin' });
      return { status: res.status, body: await res.json() };
    }, outTradeNo);
    assert.equal(forged.status, 403);
    assert.equal(forged.body.code, 'CSRF_REFUSED');
    assert.equal((await app.model.Order.findOne({ where: { outTradeNo } }))!.status, 'NOTPAY');

    await page.click('#sign-out');
    await page.locator('body[data-view="signin"]').waitFor();
    assert.deepEqual(await app.redis.keys('console:session:*'), []);
    const after = await page.evaluate(async () => (await fetch('/admin/session')).status);
    assert.equal(after, 401);
  });

  it('find an order paid in the test, see its notification in the timeline, refund part of it and see the refund succeed', async () => {
    const { token, openid } = await login();
    const paid = await paidOrder(token, testEnv.sim, 2);
    await createOrder(token).expect(200);
    await openConsole();
    await signIn();
    await page.locator('body[data-loaded="dashboard"]').waitFor();

    await page.click('a[data-nav="orders"]');
    await page.locator('body[data-loaded="orders"]').waitFor();
    assert.equal(await page.locator('#orders-table tbody tr').count(), 2);
    await page.fill('#search-form input[name="openid"]', openid);
    await page.selectOption('#search-form select[name="status"]', 'SUCCESS');
    await page.click('#search-submit');
    await page.locator('#orders-table tbody tr').first().waitFor();
    await page.waitForFunction(() => document.querySelectorAll('#orders-table tbody tr').length === 1);
    assert.equal(await page.getAttribute('#orders-table tbody tr', 'data-order'), paid.outTradeNo);
    await screenshot('orders', 20_000);

    await page.click(`#orders-table a[href="#/orders/${paid.outTradeNo}"]`);
    await page.locator(`body[data-loaded="order:${paid.outTradeNo}"]`).waitFor();
    assert.equal(await page.textContent('#order-status'), 'SUCCESS');
    assert.equal(await page.getAttribute('#amount-paid', 'data-value'), '2400');
    assert.equal(await page.getAttribute('#amount-refundable', 'data-value'), '2400');
    // Paid without coupons: no cash and coupon lines among the facts.
    assert.equal(await page.locator('#order-facts dt', { hasText: /^(cash|coupons|settled)$/ }).count(), 0);
    const notification = page.locator('#timeline li[data-kind="NOTIFICATION"]');
    assert.equal(await notification.count(), 1);
    assert.match((await notification.textContent())!, /payment notification APPLIED/);
    assert.ok(await page.locator('#timeline li[data-kind="EVENT"]', { hasText: 'PAID' }).count() >= 1);

    await page.fill('#refund-amount', '3.50');
    await page.fill('#refund-reason', 'one cup was cold');
    await page.click('#refund-submit');
    await page.locator('#refund-result[data-status="SUCCESS"]').waitFor();
    assert.match((await page.textContent('#refund-result'))!, /of ¥3\.50: SUCCESS/);
    const refunds = await app.model.Refund.findAll();
    assert.equal(refunds.length, 1);
    assert.deepEqual([ refunds[0].amount, refunds[0].status, refunds[0].reason ], [ 350, 'SUCCESS', 'one cup was cold' ]);
    assert.match(refunds[0].idempotencyKey!, /^console-[0-9a-f-]{36}$/);
    assert.equal(await page.getAttribute('#amount-refunded', 'data-value'), '350');
    assert.equal(await page.getAttribute('#amount-refundable', 'data-value'), '2050');
    // The refund notification's audit row is written once its settlement commits, just before
    // WeChat gets its answer: once the simulator has it, the order's page shows it.
    await testEnv.sim.waitForDelivery(paid.outTradeNo, { kind: 'refund', acknowledged: true });
    await page.click('#order-query');
    await page.locator('#message', { hasText: 'Query: the order is' }).waitFor();
    assert.equal(await page.locator('#timeline li[data-kind="NOTIFICATION"]', { hasText: 'refund notification APPLIED' }).count(), 1);
    assert.equal(await page.locator('#timeline li[data-kind="EVENT"]', { hasText: 'QUERIED (admin)' }).count(), 1);
    assert.equal(await page.locator(`#refunds-table tr[data-refund="${refunds[0].outRefundNo}"] .status`).textContent(), 'SUCCESS');
    await screenshot('order', 40_000);

    // More than is left: refused with WeChat never asked, and said so.
    await page.fill('#refund-amount', '20.51');
    await page.fill('#refund-reason', 'too much');
    await page.click('#refund-submit');
    await page.locator('#refund-result.error', { hasText: 'REFUND_EXCEEDS_PAID' }).waitFor();
    assert.equal(await app.model.Refund.count(), 1);
  });

  it('an order paid partly by coupons shows what its payment was made of', async () => {
    const { token } = await login();
    const { outTradeNo } = (await createOrder(token).expect(200)).body;
    const delivered = testEnv.sim.waitForDelivery(outTradeNo, { kind: 'payment', acknowledged: true });
    await testEnv.sim.pay(outTradeNo, { coupons: [{ fee: 200, type: 'CASH' }, { fee: 100, type: 'NO_CASH' }] });
    await delivered;
    await openConsole();
    await signIn();
    await page.locator('body[data-loaded="dashboard"]').waitFor();
    await page.goto(`${testEnv.appUrl}/admin/#/orders/${outTradeNo}`);
    await page.locator(`body[data-loaded="order:${outTradeNo}"]`).waitFor();
    const facts = await page.locator('#order-facts').evaluate(dl =>
      Object.fromEntries([ ...dl.querySelectorAll('dt') ].map(dt => [ dt.textContent, dt.nextElementSibling!.textContent ])));
    assert.deepEqual([ facts.amount, facts.cash, facts.coupons, facts.settled ], [ '¥12.00', '¥9.00', '¥3.00', '¥11.00' ]);
    assert.equal(await page.getAttribute('#amount-refundable', 'data-value'), '1200');
  });

  it('the dashboard\'s figures for today match the database, drawn as charts', async () => {
    const { token } = await login();
    const paid = await paidOrder(token, testEnv.sim, 3);
    await paidOrder(token);
    await createOrder(token).expect(200);
    await app.httpRequest().post(`/admin/orders/${paid.outTradeNo}/refunds`).set('Authorization', `Bearer ${app.config.adminToken}`)
      .send({ amount: 500, reason: 'r' })
      .expect(201);
    await testEnv.sim.waitForDelivery(paid.outTradeNo, { kind: 'refund', acknowledged: true });
    await app.httpRequest().post('/payment/notify').set('Content-Type', 'text/xml')
      .send('<xml><return_code>SUCCESS</return_code></xml>')
      .expect(200);

    await openConsole();
    await signIn();
    await page.locator('body[data-loaded="dashboard"]').waitFor();
    // The database's own figures for the day the page shows (read straight from the tables).
    const day = (await page.textContent('#today-day'))!;
    const { start, end } = beijingDayWindow(day);
    const one = async (sql: string) => Object.values((await app.model.query(sql, { replacements: [ start, end ], plain: true }))!)[0];
    const expected = {
      amountTaken: Number(await one('SELECT COALESCE(SUM(total_fee), 0) FROM orders WHERE paid_at >= ? AND paid_at < ?')),
      payments: Number(await one('SELECT COUNT(*) FROM orders WHERE paid_at >= ? AND paid_at < ?')),
      refundAmount: Number(await one('SELECT COALESCE(SUM(amount), 0) FROM refunds WHERE status = \'SUCCESS\' AND success_at >= ? AND success_at < ?')),
      refunds: Number(await one('SELECT COUNT(*) FROM refunds WHERE status = \'SUCCESS\' AND success_at >= ? AND success_at < ?')),
      ordersCreated: Number(await one('SELECT COUNT(*) FROM orders WHERE created_at >= ? AND created_at < ?')),
      notificationsRefused: Number(await one('SELECT COUNT(*) FROM payment_notifications WHERE outcome IN (\'REJECTED\', \'ERROR\') AND created_at >= ? AND created_at < ?')),
    };
    const shown: Record<string, number> = {};
    for (const key of Object.keys(expected)) shown[key] = Number(await page.getAttribute(`#today-${key}`, 'data-value'));
    assert.deepEqual(shown, expected);
    if (day === beijingDate(new Date())) {
      // Not across a Beijing midnight: today is the day all of it happened.
      assert.deepEqual(expected, { amountTaken: 4800, payments: 2, refundAmount: 500, refunds: 1, ordersCreated: 3, notificationsRefused: 1 });
      assert.equal(await page.textContent('#today-amountTaken'), '¥48.00');
      assert.equal(await page.getAttribute('#today-paidShare', 'data-value'), '0.6667');
    }
    // Four charts, each with 30 days drawn by chart.js.
    const charts = await page.evaluate(() => [ 'chart-amounts', 'chart-payments', 'chart-time', 'chart-refused' ].map(id => {
      const chart = (window as any).Chart.getChart(id);
      return chart ? chart.data.labels.length : 0;
    }));
    assert.deepEqual(charts, [ 30, 30, 30, 30 ]);
    await screenshot('dashboard', 40_000);
  });

  it('reconciliation: run a day again, see its discrepancy and follow the link to the order', async () => {
    const { token } = await login();
    const day = addDays(beijingDate(new Date()), -2);
    const { outTradeNo } = (await createOrder(token).expect(200)).body;
    const noon = new Date(beijingDayWindow(day).start.getTime() + 12 * 3600 * 1000);
    await app.model.query('UPDATE orders SET status = \'SUCCESS\', paid_at = ?, transaction_id = \'4200000000000000000000000003\' WHERE out_trade_no = ?',
      { replacements: [ noon, outTradeNo ] });

    await openConsole();
    await signIn();
    await page.locator('body[data-loaded="dashboard"]').waitFor();
    await page.click('a[data-nav="reconciliations"]');
    await page.locator('body[data-loaded="reconciliations"]').waitFor();
    assert.ok(await page.locator('#reconciliations-empty').isVisible());
    await page.fill('#rerun-day', day);
    await page.click('#rerun-submit');
    await page.locator(`body[data-loaded="reconciliation:${day}"]`).waitFor();
    assert.equal(await page.textContent('#rec-status'), 'MISMATCH');
    const link = page.locator('#discrepancies-table a.order-link');
    assert.equal(await link.textContent(), outTradeNo);
    await screenshot('reconciliation', 20_000);
    assert.equal((await app.model.Reconciliation.findOne({ where: { billDate: day } }))!.status, 'MISMATCH');

    await page.click('a[href="#/reconciliations"]');
    await page.locator('body[data-loaded="reconciliations"]').waitFor();
    assert.equal(await page.getAttribute('#reconciliations-table tbody tr', 'data-day'), day);
    await screenshot('reconciliations', 15_000);

    await page.goto(`${testEnv.appUrl}/admin/#/reconciliations/${day}`);
    await page.locator(`body[data-loaded="reconciliation:${day}"]`).waitFor();
    await page.click('#discrepancies-table a.order-link');
    await page.locator(`body[data-loaded="order:${outTradeNo}"]`).waitFor();
    assert.equal(await page.textContent('#order-no'), outTradeNo);
  });
});
