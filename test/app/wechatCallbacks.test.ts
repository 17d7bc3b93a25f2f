import assert from 'node:assert/strict';
import { app, mock } from 'egg-mock/bootstrap';
import { resetWorld } from '../support/fixtures';

// The callback lane (app/lib/wechatCallbacks.ts): WeChat's notifications are answered before Koa,
// and what Egg's request pipeline would have given them (client IP, log format, status and
// content type) is the same.

const NOT_OURS = '<xml><return_code><![CDATA[SUCCESS]]></return_code><appid><![CDATA[wx-someone-else]]></appid></xml>';
const FAIL_XML = /^<xml><return_code><!\[CDATA\[FAIL\]\]><\/return_code>/;

describe('the callback lane', () => {
  describe('over HTTP', () => {
    beforeEach(resetWorld);
    afterEach(mock.restore);

    it('answers a notification with WeChat\'s XML as text/xml, the query string ignored, and records the sender\'s IP', async () => {
      const res = await app.httpRequest().post('/payment/notify?from=wechat').set('Content-Type', 'text/xml')
        .set('X-Forwarded-For', '6.6.6.6').send(NOT_OURS).expect(200);
      assert.equal(res.headers['content-type'], 'text/xml; charset=utf-8');
      assert.match(res.text, FAIL_XML);
      const rows = await app.model.PaymentNotification.findAll({ raw: true });
      assert.deepEqual(rows.map(r => [ r.outcome, r.remoteIp ]), [[ 'REJECTED', '127.0.0.1' ]]);
    });

    it('records the forwarded IP when the proxy is trusted: the last maxIpsCount addresses, as Egg\'s request.ip', async () => {
      mock(app.config, 'proxy', true);
      const send = (forwarded: string) => app.httpRequest().post('/payment/notify').set('Content-Type', 'text/xml')
        .set('X-Forwarded-For', forwarded).send(NOT_OURS).expect(200);
      await send('203.0.113.9');
      await send('6.6.6.6, 198.51.100.7');
      mock(app.config, 'maxIpsCount', 2);
      await send('6.6.6.6, 198.51.100.7');
      const rows = await app.model.PaymentNotification.findAll({ order: [[ 'id', 'ASC' ]], raw: true });
      assert.deepEqual(rows.map(r => r.remoteIp), [ '203.0.113.9', '198.51.100.7', '6.6.6.6' ]);
    });

    it('leaves other methods on the notification paths to Koa: 404 JSON, nothing recorded', async () => {
      for (const path of [ '/payment/notify', '/payment/refund-notify' ]) {
        const res = await app.httpRequest().get(path).expect(404);
        assert.equal(res.body.code, 'NOT_FOUND');
      }
      assert.equal(await app.model.PaymentNotification.count(), 0);
    });

    it('logs in Egg\'s request format, and a % in the URL is not taken for a placeholder', async () => {
      const lines: string[] = [];
      mock(app.logger, 'error', (message: string, ...args: unknown[]) => { lines.push(require('node:util').format(message, ...args)); });
      await app.httpRequest().post('/payment/notify?x=%25s%25d').set('Content-Type', 'text/xml').send(NOT_OURS).expect(200);
      assert.equal(lines.length, 1);
      assert.match(lines[0], /^\[-\/127\.0\.0\.1\/-\/\d+ms POST \/payment\/notify\?x=%25s%25d\] \[notify\] refused notification: appid /);
    });
  });
});
