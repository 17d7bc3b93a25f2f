import assert from 'node:assert/strict';
import { app, mock } from 'egg-mock/bootstrap';
import { buildXml } from '../../../lib/wechatpay';
import { addDays, beijingDate, beijingDayWindow } from '../../../app/domain/beijingDays';
import { testEnv } from '../../support/env';
import { createOrder, login, resetWorld } from '../../support/fixtures';
import { adminHeader, paidOrder, requestRefund } from '../../support/refunds';

const get = (url: string) => app.httpRequest().get(url).set(adminHeader());
const post = (url: string) => app.httpRequest().post(url).set(adminHeader());
const sum = (days: any[], key: string) => days.reduce((total, d) => total + d[key], 0);

describe('admin reports: GET /admin/dashboard, /admin/reconciliations', () => {
  let token: string;
  beforeEach(async () => {
    await resetWorld();
    ({ token } = await login());
  });
  afterEach(() => {
    mock.restore();
    testEnv.sim.clearFaults();
  });

  describe('dashboard', () => {
    it('today: amount taken, payments, refunds, orders and share paid, time to paid, notifications refused', async () => {
      const paid = await paidOrder(token, testEnv.sim, 2);
      await createOrder(token).expect(200);
      await requestRefund(paid.outTradeNo, { amount: 300, reason: 'r' }).expect(201);
      await testEnv.sim.waitForDelivery(paid.outTradeNo, { kind: 'refund', acknowledged: true });
      await app.httpRequest().post('/payment/notify').set('Content-Type', 'text/xml')
        .send(buildXml({ ...testEnv.sim.buildNotification(paid.outTradeNo), sign: 'FORGED' }))
        .expect(200);

      // Two days: whichever Beijing day each step fell on (a run across midnight), the sums hold.
      const asked = beijingDate(new Date());
      const res = await get('/admin/dashboard?days=2').expect(200);
      const { days, today } = res.body;
      assert.equal(days.length, 2);
      assert.deepEqual(today, days[1]);
      assert.ok([ asked, beijingDate(new Date()) ].includes(today.day), today.day);
      assert.equal(days[0].day, addDays(today.day, -1));
      assert.equal(sum(days, 'amountTaken'), 2400);
      assert.equal(sum(days, 'payments'), 1);
      assert.equal(sum(days, 'refundAmount'), 300);
      assert.equal(sum(days, 'refunds'), 1);
      assert.equal(sum(days, 'ordersCreated'), 2);
      assert.equal(sum(days, 'ordersPaid'), 1);
      assert.equal(sum(days, 'notificationsRefused'), 1);
      const order = (await app.model.Order.findOne({ where: { outTradeNo: paid.outTradeNo } }))!;
      const payDay = days.find((d: any) => d.payments === 1);
      // WeChat's time_end has whole seconds: a payment within the order's own second counts 0, never below.
      const expected = Math.round(Math.max(0, order.paidAt!.getTime() - order.createdAt.getTime()) / 100) / 10;
      assert.equal(payDay.avgSecondsToPaid, expected);
      assert.equal(payDay.medianSecondsToPaid, expected);
      const createdDay = days.find((d: any) => d.day === beijingDate(order.createdAt));
      if (createdDay.ordersCreated === 2) assert.equal(createdDay.paidShare, 0.5);
    });

    it('counts each row on its Beijing day: 23:59:59 on the day, 00:00 the next; 30 days by default, empty days zero', async () => {
      const today = beijingDate(new Date());
      const day = addDays(today, -10);
      const { start, end } = beijingDayWindow(day);
      const a = (await createOrder(token).expect(200)).body.outTradeNo;
      const b = (await createOrder(token).expect(200)).body.outTradeNo;
      const lastMs = new Date(end.getTime() - 1);
      await app.model.query('UPDATE orders SET created_at = ?, status = \'SUCCESS\', paid_at = ?, transaction_id = \'4200000000000000000000000001\' WHERE out_trade_no = ?',
        { replacements: [ start, lastMs, a ] });
      await app.model.query('UPDATE orders SET created_at = ? WHERE out_trade_no = ?', { replacements: [ end, b ] });
      const res = await get('/admin/dashboard').expect(200);
      assert.equal(res.body.days.length, 30);
      // Today, or tomorrow if Beijing midnight passed meanwhile: the day checked is in the window either way.
      assert.ok([ today, beijingDate(new Date()) ].includes(res.body.days[29].day), res.body.days[29].day);
      const on = (d: string) => res.body.days.find((x: any) => x.day === d);
      const stored = (await app.model.Order.findOne({ where: { outTradeNo: a } }))!;
      assert.equal(beijingDate(stored.paidAt!), day);
      assert.deepEqual(on(day), {
        day, amountTaken: 1200, payments: 1, refundAmount: 0, refunds: 0, ordersCreated: 1, ordersPaid: 1, paidShare: 1,
        avgSecondsToPaid: Math.round((stored.paidAt!.getTime() - stored.createdAt.getTime()) / 100) / 10,
        medianSecondsToPaid: Math.round((stored.paidAt!.getTime() - stored.createdAt.getTime()) / 100) / 10, notificationsRefused: 0,
      });
      assert.equal(on(addDays(day, 1)).ordersCreated, 1);
      assert.equal(on(addDays(day, 1)).paidShare, 0);
      assert.deepEqual(on(addDays(day, -1)), {
        day: addDays(day, -1), amountTaken: 0, payments: 0, refundAmount: 0, refunds: 0, ordersCreated: 0, ordersPaid: 0, paidShare: null,
        avgSecondsToPaid: null, medianSecondsToPaid: null, notificationsRefused: 0,
      });
    });

    it('time to paid: the median beside the mean, which one slow payer moves and the median does not', async () => {
      const day = addDays(beijingDate(new Date()), -3);
      const { start } = beijingDayWindow(day);
      // Paid 10 s, 20 s, 30 s and an hour after their orders were made, all on the same Beijing day.
      const delays = [ 10, 20, 30, 3600 ];
      for (const [ i, seconds ] of delays.entries()) {
        const { outTradeNo } = (await createOrder(token).expect(200)).body;
        const createdAt = new Date(start.getTime() + i * 60_000);
        await app.model.query('UPDATE orders SET created_at = ?, status = \'SUCCESS\', paid_at = ?, transaction_id = ? WHERE out_trade_no = ?',
          { replacements: [ createdAt, new Date(createdAt.getTime() + seconds * 1000), `42000000000000000000000000${10 + i}`, outTradeNo ] });
      }
      const figures = (await get('/admin/dashboard?days=5').expect(200)).body.days.find((d: any) => d.day === day);
      assert.deepEqual([ figures.payments, figures.avgSecondsToPaid, figures.medianSecondsToPaid ], [ 4, 915, 25 ]);
    });

    it('days must be 1 to 90; 401 without the admin credential', async () => {
      for (const days of [ '0', '91', 'x', '1.5' ]) assert.equal((await get(`/admin/dashboard?days=${days}`).expect(422)).body.field, 'days');
      await app.httpRequest().get('/admin/dashboard').expect(401);
    });
  });

  describe('reconciliations', () => {
    /** An order marked paid here on `day` (Beijing noon) that WeChat never saw: a MISSING_AT_WECHAT discrepancy that day. */
    async function paidOnlyHere(day: string): Promise<string> {
      const { outTradeNo } = (await createOrder(token).expect(200)).body;
      const noon = new Date(beijingDayWindow(day).start.getTime() + 12 * 3600 * 1000);
      await app.model.query('UPDATE orders SET status = \'SUCCESS\', paid_at = ?, transaction_id = \'4200000000000000000000000002\' WHERE out_trade_no = ?',
        { replacements: [ noon, outTradeNo ] });
      return outTradeNo;
    }

    it('run a day again: the report with each discrepancy linked to its order; listed, and readable alone', async () => {
      // Two days back, never today, whatever midnight passes during the test.
      const day = addDays(beijingDate(new Date()), -2);
      const outTradeNo = await paidOnlyHere(day);
      const run = await post(`/admin/reconciliations/${day}/run`).expect(200);
      assert.equal(run.body.billDate, day);
      assert.equal(run.body.status, 'MISMATCH');
      assert.equal(run.body.discrepancyCount, 1);
      assert.deepEqual(run.body.discrepancies.map((d: any) => [ d.kind, d.orderOutTradeNo ]), [[ 'MISSING_AT_WECHAT', outTradeNo ]]);
      assert.equal(testEnv.sim.requests('downloadbill')[0].params.bill_date, day.replace(/-/g, ''));

      const list = await get('/admin/reconciliations').expect(200);
      assert.deepEqual(list.body.reconciliations.map((r: any) => [ r.billDate, r.status, r.discrepancyCount ]), [[ day, 'MISMATCH', 1 ]]);
      const one = await get(`/admin/reconciliations/${day}`).expect(200);
      assert.deepEqual(one.body, run.body);

      // Fixed here: run again, the day is clean (no bill, nothing of ours).
      await app.model.query('UPDATE orders SET status = \'NOTPAY\', paid_at = NULL, transaction_id = NULL WHERE out_trade_no = ?', { replacements: [ outTradeNo ] });
      const again = await post(`/admin/reconciliations/${day}/run`).expect(200);
      assert.equal(again.body.status, 'NO_BILL');
      assert.deepEqual(again.body.discrepancies, []);
      assert.equal(await app.model.Reconciliation.count(), 1);
    });

    it('WeChat failing: the run answers 200 with status ERROR and its reason', async () => {
      const day = addDays(beijingDate(new Date()), -2);
      testEnv.sim.setFault('downloadbill', { kind: 'systemerror' });
      const res = await post(`/admin/reconciliations/${day}/run`).expect(200);
      assert.equal(res.body.status, 'ERROR');
      assert.match(res.body.error, /SYSTEMERROR/);
    });

    it('list by range, newest first; a day not reconciled is 404; bad days 422; today and later cannot be run', async () => {
      const today = beijingDate(new Date());
      for (const back of [ 3, 5 ]) await post(`/admin/reconciliations/${addDays(today, -back)}/run`).expect(200);
      const all = await get('/admin/reconciliations').expect(200);
      assert.deepEqual(all.body.reconciliations.map((r: any) => r.billDate), [ addDays(today, -3), addDays(today, -5) ]);
      const ranged = await get(`/admin/reconciliations?from=${addDays(today, -5)}&to=${addDays(today, -4)}`).expect(200);
      assert.deepEqual(ranged.body.reconciliations.map((r: any) => r.billDate), [ addDays(today, -5) ]);

      assert.equal((await get(`/admin/reconciliations/${addDays(today, -4)}`).expect(404)).body.code, 'RECONCILIATION_NOT_FOUND');
      for (const bad of [ '2026-02-30', '20261123', 'yesterday' ]) {
        assert.equal((await get(`/admin/reconciliations/${bad}`).expect(422)).body.field, 'billDate');
        assert.equal((await post(`/admin/reconciliations/${bad}/run`).expect(422)).body.field, 'billDate');
      }
      assert.equal((await get('/admin/reconciliations?from=2026-11-21&to=2026-11-20').expect(422)).body.field, 'to');
      assert.equal((await get('/admin/reconciliations?from=nope').expect(422)).body.field, 'from');
      const future = await post(`/admin/reconciliations/${addDays(today, 1)}/run`).expect(422);
      assert.match(future.body.message, /only days before today/);
      assert.equal((await post(`/admin/reconciliations/${addDays(today, -400)}/run`).expect(422)).body.field, 'billDate');
      await app.httpRequest().post(`/admin/reconciliations/${addDays(today, -3)}/run`).expect(401);
      await app.httpRequest().get('/admin/reconciliations').expect(401);
    });
  });
});
