import assert from 'node:assert/strict';
import { app, mock } from 'egg-mock/bootstrap';
import { resetWorld } from '../../support/fixtures';

// WeChat's notifications take Egg's own path (app/router.ts → rawXmlBody → NotifyController): what
// the request pipeline gives them (client IP, log format, status and content type) is checked here;
// the payment rules are in notify.test.ts and settlement.test.ts.

const NOT_OURS = '<xml><return_code><![CDATA[SUCCESS]]></return_code><appid><![CDATA[wx-someone-else]]></appid></xml>';
const FAIL_XML = /^<xml><return_code><!\[CDATA\[FAIL\]\]><\/return_code>/;

describe('NotifyController (POST /payment/notify, POST /payment/refund-notify)', () => {
  beforeEach(resetWorld);
  afterEach(mock.restore);

  it('answers a notification with WeChat\'s XML as text/xml, the query string ignored, and records the sender\'s IP', async () => {
    const res = await app.httpRequest().post('/payment/notify?from=wechat').set('Content-Type', 'text/xml')
      .set('X-Forwarded-For', '6.6.6.6')
      .send(NOT_OURS)
      .expect(200);
    assert.equal(res.headers['content-type'], 'text/xml; charset=utf-8');
    assert.match(res.text, FAIL_XML);
    const rows = await app.model.PaymentNotification.findAll({ raw: true });
    assert.deepEqual(rows.map(r => [ r.outcome, r.remoteIp ]), [[ 'REJECTED', '127.0.0.1' ]]);
  });

  it('records the forwarded IP when the proxy is trusted: the last maxIpsCount addresses, as Egg\'s request.ip', async () => {
    mock(app.config, 'proxy', true);
    const send = (forwarded: string) => app.httpRequest().post('/payment/notify').set('Content-Type', 'text/xml')
      .set('X-Forwarded-For', forwarded)
      .send(NOT_OURS)
      .expect(200);
    await send('203.0.113.9');
    await send('6.6.6.6, 198.51.100.7');
    mock(app.config, 'maxIpsCount', 2);
    await send('6.6.6.6, 198.51.100.7');
    const rows = await app.model.PaymentNotification.findAll({ order: [[ 'id', 'ASC' ]], raw: true });
    assert.deepEqual(rows.map(r => r.remoteIp), [ '203.0.113.9', '198.51.100.7', '6.6.6.6' ]);
  });

  it('other methods on the notification paths are not routes: 404 JSON, nothing recorded', async () => {
    for (const path of [ '/payment/notify', '/payment/refund-notify' ]) {
      const res = await app.httpRequest().get(path).expect(404);
      assert.equal(res.body.code, 'NOT_FOUND');
    }
    assert.equal(await app.model.PaymentNotification.count(), 0);
  });

  it('logs in Egg\'s request format, and a % in the URL is not taken for a placeholder', async () => {
    app.mockLog();
    await app.httpRequest().post('/payment/notify?x=%25s%25d').set('Content-Type', 'text/xml')
      .send(NOT_OURS)
      .expect(200);
    app.expectLog(/\[-\/127\.0\.0\.1\/[^\]]* POST \/payment\/notify\?x=%25s%25d\] \[notify\] refused notification: appid /);
  });

  it('a declared body over the limit is refused with 413 before it is read, in XML, and nothing is recorded', async () => {
    const res = await app.httpRequest().post('/payment/refund-notify').set('Content-Type', 'text/xml')
      .set('Content-Length', String(app.config.payment.maxNotifyBytes + 1))
      .send('x'.repeat(app.config.payment.maxNotifyBytes + 1))
      .expect(413);
    assert.match(res.text, FAIL_XML);
    assert.equal(res.headers['content-type'], 'text/xml; charset=utf-8');
    assert.equal(await app.model.PaymentNotification.count(), 0);
  });

  it('a refund notification that is not ours is refused in XML and recorded as kind refund', async () => {
    const res = await app.httpRequest().post('/payment/refund-notify').set('Content-Type', 'text/xml')
      .send(NOT_OURS)
      .expect(200);
    assert.match(res.text, FAIL_XML);
    const rows = await app.model.PaymentNotification.findAll({ raw: true });
    assert.deepEqual(rows.map(r => [ r.kind, r.outcome, r.reason ]), [[ 'refund', 'REJECTED', 'appid is not ours' ]]);
  });
});
