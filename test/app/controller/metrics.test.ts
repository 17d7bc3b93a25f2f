import assert from 'node:assert/strict';
import * as http from 'node:http';
import { app, mock } from 'egg-mock/bootstrap';
import { MockApplication } from 'egg-mock';
import { buildXml } from '../../../lib/wechatpay';
import { OutboxRepository } from '../../../app/repository/outboxRepository';
import { closedPort } from '../../support/closedPort';
import { testEnv } from '../../support/env';
import { login, resetWorld } from '../../support/fixtures';
import { postXml } from '../../support/postXml';
import { parsePromText, PromText, sample } from '../../support/promText';
import { paidOrder, requestRefund } from '../../support/refunds';
import { startSecondApp, startSecondAppThroughMysqlProxy } from '../../support/secondApp';
import { TcpProxy } from '../../support/tcpProxy';

// GET /metrics of one app instance (single process). Across Egg workers: test/app/metricsCluster.test.ts.

async function scrape(): Promise<PromText> {
  const res = await app.httpRequest().get('/metrics').set('Authorization', `Bearer ${app.config.metrics.token}`)
    .expect(200);
  assert.equal(res.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
  assert.equal(res.headers['cache-control'], 'no-store');
  return parsePromText(res.text);
}

/** The change of each named sample between two scrapes. */
function deltas(before: PromText, after: PromText, keys: string[]): Record<string, number> {
  return Object.fromEntries(keys.map(k => [ k, sample(after, k) - sample(before, k) ]));
}

describe('GET /metrics', () => {
  beforeEach(resetWorld);
  afterEach(() => mock.restore());

  describe('access', () => {
    it('401 METRICS_UNAUTHORIZED without a token, with a wrong one, and with a user\'s session token', async () => {
      const { token } = await login();
      for (const header of [ undefined, 'Bearer wrong-token', `Bearer ${token}`, `Basic ${app.config.metrics.token}` ]) {
        const req = app.httpRequest().get('/metrics');
        if (header) req.set('Authorization', header);
        const res = await req.expect(401);
        assert.deepEqual(res.body, { code: 'METRICS_UNAUTHORIZED', message: 'GET /metrics needs Authorization: Bearer <metrics token>' }, String(header));
      }
    });

    it('in unittest (as in local) the admin token serves when METRICS_TOKEN is unset', () => {
      assert.equal(app.config.metrics.token, app.config.adminToken);
    });

    it('no token configured (production without METRICS_TOKEN): refused whatever is sent', async () => {
      mock(app.config.metrics, 'token', '');
      await app.httpRequest().get('/metrics').set('Authorization', 'Bearer ')
        .expect(401);
      await app.httpRequest().get('/metrics').set('Authorization', `Bearer ${app.config.adminToken}`)
        .expect(401);
    });
  });

  describe('what it counts', () => {
    it('a paid order: created (by trade type), unified order called, notification applied, payment applied; a repeat counts as DUPLICATE', async () => {
      const before = await scrape();
      const { token } = await login();
      const { outTradeNo } = await paidOrder(token);
      await postXml(`${testEnv.appUrl}/payment/notify`, buildXml(testEnv.sim.buildNotification(outTradeNo)), new http.Agent());
      const after = await scrape();
      assert.deepEqual(deltas(before, after, [
        'wxpay_orders_created_total{trade_type="JSAPI"}',
        'wxpay_wechat_calls_total{api="/pay/unifiedorder",code="",result="SUCCESS"}',
        'wxpay_wechat_call_duration_seconds_count{api="/pay/unifiedorder",result="SUCCESS"}',
        'wxpay_wechat_calls_total{api="/sns/jscode2session",code="",result="SUCCESS"}',
        'wxpay_notifications_total{kind="pay",outcome="APPLIED"}',
        'wxpay_notifications_total{kind="pay",outcome="DUPLICATE"}',
        'wxpay_payments_applied_total{event="PAID",source="notify",trade_type="JSAPI"}',
      ]), {
        'wxpay_orders_created_total{trade_type="JSAPI"}': 1,
        'wxpay_wechat_calls_total{api="/pay/unifiedorder",code="",result="SUCCESS"}': 1,
        'wxpay_wechat_call_duration_seconds_count{api="/pay/unifiedorder",result="SUCCESS"}': 1,
        'wxpay_wechat_calls_total{api="/sns/jscode2session",code="",result="SUCCESS"}': 1,
        'wxpay_notifications_total{kind="pay",outcome="APPLIED"}': 1,
        'wxpay_notifications_total{kind="pay",outcome="DUPLICATE"}': 1,
        'wxpay_payments_applied_total{event="PAID",source="notify",trade_type="JSAPI"}': 1,
      });
      assert.equal(after.types.get('wxpay_wechat_call_duration_seconds'), 'histogram');
      assert.equal(after.types.get('wxpay_orders_created_total'), 'counter');
    });

    it('a forged notification counts as REJECTED and applies nothing', async () => {
      const { token } = await login();
      const { outTradeNo } = await paidOrder(token);
      const before = await scrape();
      const forged = { ...testEnv.sim.buildNotification(outTradeNo), total_fee: '1' };
      await postXml(`${testEnv.appUrl}/payment/notify`, buildXml(forged), new http.Agent());
      const after = await scrape();
      assert.deepEqual(deltas(before, after, [
        'wxpay_notifications_total{kind="pay",outcome="REJECTED"}',
        'wxpay_payments_applied_total{event="PAID",source="notify",trade_type="JSAPI"}',
      ]), {
        'wxpay_notifications_total{kind="pay",outcome="REJECTED"}': 1,
        'wxpay_payments_applied_total{event="PAID",source="notify",trade_type="JSAPI"}': 0,
      });
    });

    it('a refund: PROCESSING when requested, SUCCESS when WeChat\'s notification settles it', async () => {
      const { token } = await login();
      const { outTradeNo } = await paidOrder(token);
      const before = await scrape();
      await requestRefund(outTradeNo, { amount: 500, reason: 'metrics test' }).expect(201);
      await testEnv.sim.waitForDelivery(outTradeNo, { kind: 'refund', acknowledged: true });
      const after = await scrape();
      assert.deepEqual(deltas(before, after, [
        'wxpay_refunds_total{status="PROCESSING"}',
        'wxpay_refunds_total{status="SUCCESS"}',
        'wxpay_wechat_calls_total{api="/secapi/pay/refund",code="",result="SUCCESS"}',
        'wxpay_notifications_total{kind="refund",outcome="APPLIED"}',
      ]), {
        'wxpay_refunds_total{status="PROCESSING"}': 1,
        'wxpay_refunds_total{status="SUCCESS"}': 1,
        'wxpay_wechat_calls_total{api="/secapi/pay/refund",code="",result="SUCCESS"}': 1,
        'wxpay_notifications_total{kind="refund",outcome="APPLIED"}': 1,
      });
    });

    it('WeChat unreachable: the call counts as ERROR with its reason', async () => {
      mock(app.config.wechat, 'payBaseUrl', `http://127.0.0.1:${await closedPort()}`);
      const { token } = await login();
      const before = await scrape();
      const res = await app.httpRequest().post('/payment/order').set('Authorization', `Bearer ${token}`)
        .send({ items: [{ productId: 1, quantity: 1 }] });
      assert.ok(res.status >= 500, `status ${res.status}`);
      const after = await scrape();
      assert.equal(sample(after, 'wxpay_wechat_calls_total{api="/pay/unifiedorder",code="network",result="ERROR"}') -
        sample(before, 'wxpay_wechat_calls_total{api="/pay/unifiedorder",code="network",result="ERROR"}'), 1);
    });

    it('scheduled jobs: each run counted by job, a failing run as failure (and still failing for its caller)', async () => {
      const before = await scrape();
      await app.runSchedule('closeExpiredOrders');
      app.mockService('orderJobs', 'queryOverdueOrders', async () => { throw new Error('boom'); });
      await assert.rejects(app.runSchedule('queryOverdueOrders'), /boom/);
      const after = await scrape();
      assert.deepEqual(deltas(before, after, [
        'wxpay_job_runs_total{job="closeExpiredOrders",result="success"}',
        'wxpay_job_runs_total{job="closeExpiredOrders",result="failure"}',
        'wxpay_job_runs_total{job="queryOverdueOrders",result="success"}',
        'wxpay_job_runs_total{job="queryOverdueOrders",result="failure"}',
        'wxpay_job_duration_seconds_count{job="closeExpiredOrders"}',
      ]), {
        'wxpay_job_runs_total{job="closeExpiredOrders",result="success"}': 1,
        'wxpay_job_runs_total{job="closeExpiredOrders",result="failure"}': 0,
        'wxpay_job_runs_total{job="queryOverdueOrders",result="success"}': 0,
        'wxpay_job_runs_total{job="queryOverdueOrders",result="failure"}': 1,
        'wxpay_job_duration_seconds_count{job="closeExpiredOrders"}': 1,
      });
    });

    it('MySQL and Redis up, and this single worker answered', async () => {
      const m = await scrape();
      assert.equal(sample(m, 'wxpay_mysql_up'), 1);
      assert.equal(sample(m, 'wxpay_redis_up'), 1);
      assert.equal(m.samples.get('wxpay_metrics_workers{state="answered"}'), 1);
      assert.equal(m.samples.get('wxpay_metrics_workers{state="missing"}'), 0);
    });
  });

  describe('reconciliation', () => {
    const row = (billDate: string, status: 'OK' | 'MISMATCH', discrepancyCount: number) => ({
      billDate, status, hasBill: true, billPaymentCount: 0, billPaymentTotal: 0, billRefundCount: 0, billRefundTotal: 0, billFeeTotal: 0,
      localPaymentCount: 0, localPaymentTotal: 0, localRefundCount: 0, localRefundTotal: 0, discrepancyCount,
      discrepancies: '[]', error: null, startedAt: new Date(), finishedAt: new Date(),
    });

    it('absent before any day was reconciled', async () => {
      const m = await scrape();
      for (const family of [ 'wxpay_reconciliation_discrepancies', 'wxpay_reconciliation_latest_status', 'wxpay_reconciliation_latest_bill_date_seconds' ]) {
        assert.ok(!m.types.has(family), family);
      }
    });

    it('the latest reconciled day: its discrepancies, status and date', async () => {
      await app.model.Reconciliation.bulkCreate([ row('2026-11-27', 'OK', 0), row('2026-11-28', 'MISMATCH', 3) ]);
      const m = await scrape();
      assert.equal(m.samples.get('wxpay_reconciliation_discrepancies'), 3);
      assert.equal(m.samples.get('wxpay_reconciliation_latest_status{status="MISMATCH"}'), 1);
      assert.ok(!m.samples.has('wxpay_reconciliation_latest_status{status="OK"}'));
      assert.equal(m.samples.get('wxpay_reconciliation_latest_bill_date_seconds'), Date.parse('2026-11-27T16:00:00Z') / 1000);
    });
  });

  describe('outbox backlog', () => {
    // Events of order 1 as the relay would see them; no sink is configured in tests, so they stay as written.
    const insertEvents = (rows: Array<[ status: string, secondsAgo: number ]>) => app.model.query(
      'INSERT INTO outbox_events (event_id, type, order_id, out_trade_no, seq, payload, status, next_attempt_at, created_at, updated_at) VALUES ' +
      rows.map(() => '(?, \'order.paid\', 1, \'P1\', ?, \'{}\', ?, UTC_TIMESTAMP(3), UTC_TIMESTAMP(3) - INTERVAL ? SECOND, UTC_TIMESTAMP(3))').join(', '),
      { replacements: rows.flatMap(([ status, secondsAgo ], n) => [ `evt_metrics_${n}`, n + 1, status, secondsAgo ]) });

    it('absent when the backlog cannot be read', async () => {
      mock(OutboxRepository.prototype, 'backlog', async () => { throw new Error('outbox unreadable'); });
      const m = await scrape();
      assert.ok(!m.types.has('wxpay_outbox_events'));
      assert.ok(!m.types.has('wxpay_outbox_oldest_pending_age_seconds'));
    });

    it('the backlog by status (delivered events not counted) and the oldest pending event\'s age', async () => {
      const m0 = await scrape();
      assert.equal(m0.samples.get('wxpay_outbox_events{status="PENDING"}'), 0);
      assert.equal(m0.samples.get('wxpay_outbox_events{status="DEAD"}'), 0);
      assert.equal(m0.samples.get('wxpay_outbox_oldest_pending_age_seconds'), 0);
      await insertEvents([[ 'PENDING', 120 ], [ 'PENDING', 0 ], [ 'DEAD', 0 ], [ 'DELIVERED', 86400 ]]);
      const m = await scrape();
      assert.equal(m.samples.get('wxpay_outbox_events{status="PENDING"}'), 2);
      assert.equal(m.samples.get('wxpay_outbox_events{status="DEAD"}'), 1);
      assert.ok(!m.samples.has('wxpay_outbox_events{status="DELIVERED"}'));
      const age = m.samples.get('wxpay_outbox_oldest_pending_age_seconds')!;
      assert.ok(age >= 120 && age < 3600, `age ${age}`);
    });
  });

  describe('MySQL unreachable (a second app instance reaching MariaDB through a TCP proxy)', () => {
    let proxy: TcpProxy;
    let app2: MockApplication;
    before(async () => {
      ({ proxy, app: app2 } = await startSecondAppThroughMysqlProxy(app));
    });
    after(async () => {
      await app2?.close();
      await proxy?.stop();
    });

    it('the scrape still answers: mysql_up 0, redis_up 1, the database-read gauges left out; 1 again once it is back', async () => {
      await app.model.Reconciliation.create({
        billDate: '2026-11-28', status: 'OK', hasBill: true, billPaymentCount: 0, billPaymentTotal: 0, billRefundCount: 0, billRefundTotal: 0,
        billFeeTotal: 0, localPaymentCount: 0, localPaymentTotal: 0, localRefundCount: 0, localRefundTotal: 0, discrepancyCount: 0,
        discrepancies: '[]', error: null, startedAt: new Date(), finishedAt: new Date(),
      });
      const scrape2 = async () => parsePromText((await app2.httpRequest().get('/metrics').set('Authorization', `Bearer ${app2.config.metrics.token}`)
        .expect(200)).text);
      await proxy.cut();
      const down = await scrape2();
      assert.equal(down.samples.get('wxpay_mysql_up'), 0);
      assert.equal(down.samples.get('wxpay_redis_up'), 1);
      assert.ok(!down.types.has('wxpay_reconciliation_discrepancies'));
      await proxy.restore();
      const up = await scrape2();
      assert.equal(up.samples.get('wxpay_mysql_up'), 1);
      assert.equal(up.samples.get('wxpay_reconciliation_discrepancies'), 0);
    });
  });

  describe('on a separate port (METRICS_PORT)', () => {
    let app2: MockApplication;
    let port: number;
    before(async () => {
      port = await closedPort();
      app2 = await startSecondApp({ METRICS_PORT: String(port) });
    });
    after(() => app2?.close());

    it('served there without a token; only /metrics; the main port answers 404 even with the token', async () => {
      const res = await fetch(`http://127.0.0.1:${port}/metrics`);
      assert.equal(res.status, 200);
      const m = parsePromText(await res.text());
      assert.equal(sample(m, 'wxpay_mysql_up'), 1);
      const other = await fetch(`http://127.0.0.1:${port}/health`);
      assert.equal(other.status, 404);
      assert.deepEqual(await other.json(), { code: 'NOT_FOUND', message: 'only GET /metrics is served on this port' });
      const main = await app2.httpRequest().get('/metrics').set('Authorization', `Bearer ${app2.config.adminToken}`)
        .expect(404);
      assert.deepEqual(main.body, { code: 'NOT_FOUND', message: 'no such route' });
    });
  });
});
