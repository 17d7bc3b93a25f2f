import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { app, mock } from 'egg-mock/bootstrap';
import { buildXml, sign } from '../../lib/wechatpay';
import { testEnv } from '../support/env';
import { createOrder, login, PRODUCTS, resetWorld } from '../support/fixtures';
import { assertSupported, resolveRef, validate } from '../support/jsonSchema';
import { seedEvents } from '../support/outboxEvents';
import { ConsoleClient } from '../support/console';
import { addDays, beijingDate } from '../../app/domain/beijingDays';

const SPEC_PATH = path.join(__dirname, '..', '..', 'docs', 'openapi.json');
const spec = JSON.parse(readFileSync(SPEC_PATH, 'utf8'));
const METHODS = [ 'get', 'put', 'post', 'delete', 'patch' ];

/**
 * Routes that are not part of the API on purpose: developer tools registered in local
 * development and tests only (app/router.ts, DEV_TOOL_ENVS), never in production.
 */
const UNDOCUMENTED_DEV_ROUTES = [
  'GET /openapi.json',
  'GET /demo',
  'GET /demo/assets/{file}',
  'GET /demo/config',
  'POST /demo/login-code',
  'POST /demo/pay',
  // Channels (issue 16): the demo's web-shop page and its H5 return page.
  'GET /demo/web',
  'GET /demo/h5-return',
];

/** `METHOD /path/{param}` for every route the app's router has (HEAD rides along with GET). */
function routerRoutes(): string[] {
  const stack: Array<{ path: string; methods: string[] }> = (app.router as any).stack;
  const routes = stack.flatMap(layer => layer.methods
    .filter(m => m !== 'HEAD')
    .map(m => `${m} ${layer.path.replace(/:(\w+)/g, '{$1}')}`));
  return [ ...new Set(routes) ].sort();
}

function documentedOperations(): string[] {
  return Object.entries(spec.paths as Record<string, Record<string, unknown>>)
    .flatMap(([ p, item ]) => METHODS.filter(m => item[m]).map(m => `${m.toUpperCase()} ${p}`))
    .sort();
}

const deref = (node: any) => (node && node.$ref ? resolveRef(spec, node.$ref) : node);

describe('docs/openapi.json', () => {
  it('is served at GET /openapi.json in local development and tests, as it is in the repository', async () => {
    const res = await app.httpRequest().get('/openapi.json').expect(200);
    assert.match(res.headers['content-type'], /^application\/json/);
    assert.deepEqual(res.body, spec);
  });

  it('is OpenAPI 3.1 whose every $ref resolves and whose schemas use only keywords the test validator checks', () => {
    assert.equal(spec.openapi, '3.1.0');
    for (const [ name, schema ] of Object.entries(spec.components.schemas)) assertSupported(schema as any, spec, `#/components/schemas/${name}`);
    for (const op of documentedOperations()) {
      const [ method, p ] = op.split(' ');
      const operation = spec.paths[p][method.toLowerCase()];
      assert.ok(operation.operationId, `${op} has an operationId`);
      for (const param of operation.parameters ?? []) assertSupported(deref(param).schema, spec, `${op} parameter`);
      for (const media of Object.values(deref(operation.requestBody)?.content ?? {})) assertSupported((media as any).schema, spec, `${op} body`);
      for (const [ status, response ] of Object.entries(operation.responses)) {
        assert.match(status, /^[1-5]\d\d$/, `${op}: status ${status}`);
        for (const media of Object.values(deref(response).content ?? {})) assertSupported((media as any).schema, spec, `${op} ${status}`);
      }
    }
  });

  it('documents every route the router has, and no route it lacks', () => {
    const routes = routerRoutes();
    for (const devRoute of UNDOCUMENTED_DEV_ROUTES) assert.ok(routes.includes(devRoute), `allow-listed ${devRoute} still exists`);
    const undocumented = routes.filter(r => !UNDOCUMENTED_DEV_ROUTES.includes(r) && !documentedOperations().includes(r));
    const missing = documentedOperations().filter(op => !routes.includes(op));
    assert.deepEqual(undocumented, [], 'routes missing from docs/openapi.json');
    assert.deepEqual(missing, [], 'documented operations the router does not have');
  });

  it('declares every path parameter of every operation', () => {
    for (const op of documentedOperations()) {
      const [ method, p ] = op.split(' ');
      const declared = (spec.paths[p][method.toLowerCase()].parameters ?? []).map(deref)
        .filter((param: any) => param.in === 'path').map((param: any) => param.name)
        .sort();
      const inPath = [ ...p.matchAll(/\{(\w+)\}/g) ].map(m => m[1]).sort();
      assert.deepEqual(declared, inPath, op);
    }
  });

  describe('the test validator', () => {
    const root = { components: { schemas: { Id: { type: 'integer', minimum: 1 } } } };
    it('refuses wrong types, missing and undocumented properties, patterns, enums, oneOf ambiguity, nulls', () => {
      const schema = {
        type: 'object', required: [ 'id', 'code' ], additionalProperties: false,
        properties: { id: { $ref: '#/components/schemas/Id' }, code: { type: 'string', pattern: '^[A-Z]+$' }, kind: { enum: [ 'a', 'b' ] }, at: { type: [ 'string', 'null' ], format: 'date-time' } },
      };
      assert.deepEqual(validate(schema, { id: 3, code: 'OK', kind: 'a', at: null }, root), []);
      assert.deepEqual(validate(schema, { id: 3, code: 'OK', at: '2026-11-23T09:15:00.000Z' }, root), []);
      assert.deepEqual(validate(schema, { id: 0, code: 'ok', kind: 'c', extra: 1, at: 'yesterday' }, root), [
        '$.id: below 1', '$.code: "ok" does not match ^[A-Z]+$', '$.kind: "c" is not one of ["a","b"]',
        '$: undocumented property "extra"', '$.at: not a date-time',
      ]);
      assert.deepEqual(validate(schema, { id: 1.5 }, root), [ '$: missing required "code"', '$.id: expected integer, got number' ]);
      assert.deepEqual(validate({ oneOf: [{ type: 'integer' }, { type: 'number' }] }, 1, root), [ '$: matches 2 of oneOf, not exactly 1' ]);
      assert.deepEqual(validate({ type: 'array', items: { type: 'string' } }, [ 'a', 2 ], root), [ '$[1]: expected string, got number' ]);
    });
    it('refuses keywords it does not check', () => {
      assert.throws(() => assertSupported({ type: 'string', const: 'x' }, root), /unsupported keyword "const"/);
      assert.throws(() => assertSupported({ properties: { a: { $ref: '#/components/schemas/Nope' } } }, root), /does not resolve/);
    });
  });

  describe('against real replies', () => {
    /** The operations whose replies the running scenario checked; each test starts with its own. */
    let checked = new Set<string>();
    beforeEach(async () => {
      checked = new Set<string>();
      await resetWorld();
    });
    afterEach(() => { mock.restore(); testEnv.sim.clearFaults(); });

    /** Validates a reply against what the spec documents for this operation and status. */
    function conforms(method: string, template: string, res: { status: number; headers: Record<string, string>; body: unknown; text: string }) {
      const operation = spec.paths[template]?.[method.toLowerCase()];
      assert.ok(operation, `${method} ${template} is documented`);
      const response = deref(operation.responses[String(res.status)]);
      assert.ok(response, `${method} ${template} documents status ${res.status} (reply: ${res.text})`);
      const content = response.content ?? {};
      const mediaTypes = Object.keys(content);
      if (mediaTypes.length === 0) {
        assert.equal(res.text, '', `${method} ${template} ${res.status} documents no body`);
      } else {
        const contentType = String(res.headers['content-type'] ?? '').split(';')[0];
        assert.ok(mediaTypes.includes(contentType), `${method} ${template} ${res.status}: content type ${contentType} is one of ${mediaTypes}`);
        const body = contentType === 'application/json' ? res.body : res.text;
        assert.deepEqual(validate(content[contentType].schema, body, spec), [], `${method} ${template} ${res.status}: ${res.text}`);
      }
      checked.add(`${method} ${template}`);
    }

    const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

    /**
     * Scenarios of real requests, each checking every reply against the spec: a test each, and the
     * coverage test below runs them all itself, so no test relies on another having run first.
     */
    const scenarios: Array<[ string, () => Promise<void> ]> = [];
    const scenario = (title: string, run: () => Promise<void>) => {
      scenarios.push([ title, run ]);
      it(title, run);
    };

    scenario('health, products and login', async () => {
      conforms('GET', '/health', await app.httpRequest().get('/health').expect(200));
      const products = await app.httpRequest().get('/api/products').expect(200);
      conforms('GET', '/api/products', products);
      assert.equal(products.body.products.length, 2);

      const code = testEnv.sim.issueLoginCode();
      conforms('POST', '/api/login', await app.httpRequest().post('/api/login').send({ code })
        .expect(200));
      conforms('POST', '/api/login', await app.httpRequest().post('/api/login').send({ code })
        .expect(401));
      conforms('POST', '/api/login', await app.httpRequest().post('/api/login').send({})
        .expect(422));
      conforms('POST', '/api/login', await app.httpRequest().post('/api/login').set('Content-Type', 'application/json')
        .send('{"code":')
        .expect(400));
    });

    scenario('an order from creation to paid, and the errors on the way', async () => {
      const { token } = await login();
      const items = [{ productId: PRODUCTS.coffee.id, quantity: 2 }];
      const created = await createOrder(token, items, 'openapi-1').expect(200);
      conforms('POST', '/payment/order', created);
      conforms('POST', '/payment/order', await createOrder(token, [{ productId: 2, quantity: 1 }], 'openapi-1').expect(409));
      conforms('POST', '/payment/order', await app.httpRequest().post('/payment/order').send({ items })
        .expect(401));
      conforms('POST', '/payment/order', await app.httpRequest().post('/payment/order').set(bearer(token))
        .send({ items, amount: 1 })
        .expect(422));
      testEnv.sim.setFault('unifiedorder', { kind: 'systemerror' });
      conforms('POST', '/payment/order', await createOrder(token, items, 'openapi-busy').expect(503));
      testEnv.sim.clearFaults();

      const { outTradeNo } = created.body;
      const show = (no: string) => app.httpRequest().get(`/payment/orders/${no}`).set(bearer(token));
      const unpaid = await show(outTradeNo).expect(200);
      conforms('GET', '/payment/orders/{outTradeNo}', unpaid);
      assert.equal(unpaid.body.paidAt, null);
      conforms('GET', '/payment/orders/{outTradeNo}', await show('P0000000000000000000000000000').expect(404));
      conforms('GET', '/payment/orders/{outTradeNo}', await show('not*valid*because*it*is*far*too*long').expect(422));
      // Rate limited per user: a window longer than the test, so the second poll is the one refused.
      mock(app.config.rateLimit.statusPerUser, 'limit', 1);
      mock(app.config.rateLimit.statusPerUser, 'windowSeconds', 1_000_000_000);
      await show(outTradeNo).expect(200);
      conforms('GET', '/payment/orders/{outTradeNo}', await show(outTradeNo).expect(429));
      mock.restore();

      conforms('POST', '/payment/orders/{outTradeNo}/pay',
        await app.httpRequest().post(`/payment/orders/${outTradeNo}/pay`).set(bearer(token))
          .expect(200));

      await testEnv.sim.pay(outTradeNo);
      await testEnv.sim.waitForDelivery(outTradeNo, { acknowledged: true });
      const paid = await show(outTradeNo).expect(200);
      conforms('GET', '/payment/orders/{outTradeNo}', paid);
      assert.equal(paid.body.status, 'SUCCESS');
      assert.equal(typeof paid.body.transactionId, 'string');

      conforms('POST', '/payment/orders/{outTradeNo}/pay',
        await app.httpRequest().post(`/payment/orders/${outTradeNo}/pay`).set(bearer(token))
          .expect(409));
      conforms('POST', '/payment/orders/{outTradeNo}/close',
        await app.httpRequest().post(`/payment/orders/${outTradeNo}/close`).set(bearer(token))
          .expect(409));

      const other = await createOrder(token, [{ productId: 2, quantity: 1 }]).expect(200);
      const closed = await app.httpRequest().post(`/payment/orders/${other.body.outTradeNo}/close`).set(bearer(token))
        .expect(200);
      conforms('POST', '/payment/orders/{outTradeNo}/close', closed);
      assert.equal(closed.body.status, 'CLOSED');
      conforms('POST', '/payment/orders/{outTradeNo}/close',
        await app.httpRequest().post('/payment/orders/P0000000000000000000000000000/close').set(bearer(token))
          .expect(404));

      // WeChat's notification of the paid order, again: acknowledged in WeChat's XML.
      const notification = buildXml(testEnv.sim.buildNotification(outTradeNo));
      const ack = await app.httpRequest().post('/payment/notify').set('Content-Type', 'text/xml')
        .send(notification)
        .expect(200);
      conforms('POST', '/payment/notify', ack);
      assert.match(ack.text, /SUCCESS/);
      conforms('POST', '/payment/notify',
        await app.httpRequest().post('/payment/notify').set('Content-Type', 'text/xml')
          .send('<!DOCTYPE x><xml></xml>'));
    });

    scenario('refunds: the admin API and WeChat\'s refund notification', async () => {
      const { token } = await login();
      const created = await createOrder(token).expect(200);
      const { outTradeNo } = created.body;
      await testEnv.sim.pay(outTradeNo);
      await testEnv.sim.waitForDelivery(outTradeNo, { kind: 'payment', acknowledged: true });
      const admin = { Authorization: `Bearer ${app.config.adminToken}` };
      const refunds = `/admin/orders/${outTradeNo}/refunds`;
      const refund = (body: object, key?: string) => {
        const req = app.httpRequest().post(refunds).set(admin);
        return key ? req.set('Idempotency-Key', key).send(body) : req.send(body);
      };

      conforms('POST', '/admin/orders/{outTradeNo}/refunds', await refund({ amount: 200, reason: 'openapi' }, 'openapi-refund').expect(201));
      conforms('POST', '/admin/orders/{outTradeNo}/refunds', await refund({ amount: 200, reason: 'openapi' }, 'openapi-refund').expect(200));
      testEnv.sim.setFault('refund', { kind: 'systemerror' }, 1);
      conforms('POST', '/admin/orders/{outTradeNo}/refunds', await refund({ amount: 100, reason: 'busy' }).expect(202));
      conforms('POST', '/admin/orders/{outTradeNo}/refunds', await refund({ amount: 5000, reason: 'too much' }).expect(409));
      conforms('POST', '/admin/orders/{outTradeNo}/refunds', await refund({ amount: 0, reason: 'none' }).expect(422));
      conforms('POST', '/admin/orders/{outTradeNo}/refunds', await refund({ amount: 1, reason: 'bell\u0007' }).expect(422));
      // A request that cannot be signed never leaves the service: FAILED, 500 REFUND_NOT_SENT.
      const client = app.wechatPay;
      mock(client, 'signed', () => { throw new Error('cannot sign this request'); });
      conforms('POST', '/admin/orders/{outTradeNo}/refunds', await refund({ amount: 1, reason: 'unsigned' }).expect(500));
      mock.restore();
      conforms('POST', '/admin/orders/{outTradeNo}/refunds', await app.httpRequest().post(refunds).set(bearer(token))
        .send({ amount: 1, reason: 'r' })
        .expect(401));
      conforms('POST', '/admin/orders/{outTradeNo}/refunds',
        await app.httpRequest().post('/admin/orders/P0000000000000000000000000000/refunds').set(admin)
          .send({ amount: 1, reason: 'r' })
          .expect(404));
      await testEnv.sim.waitForDelivery(outTradeNo, { kind: 'refund', acknowledged: true });

      const list = await app.httpRequest().get(refunds).set(admin)
        .expect(200);
      conforms('GET', '/admin/orders/{outTradeNo}/refunds', list);
      assert.equal(list.body.refunds.length, 3);
      conforms('GET', '/admin/orders/{outTradeNo}/refunds', await app.httpRequest().get(refunds).expect(401));
      conforms('GET', '/admin/orders/{outTradeNo}/refunds', await app.httpRequest().get('/admin/orders/P0000000000000000000000000000/refunds').set(admin)
        .expect(404));

      // WeChat's refund notification, again: acknowledged; a forged one: FAIL.
      const [ delivery ] = testEnv.sim.deliveries(outTradeNo).filter(d => d.kind === 'refund');
      const ack = await app.httpRequest().post('/payment/refund-notify').set('Content-Type', 'text/xml')
        .send(delivery.body)
        .expect(200);
      conforms('POST', '/payment/refund-notify', ack);
      assert.match(ack.text, /SUCCESS/);
      const forged = buildXml({ return_code: 'SUCCESS', appid: 'wx', mch_id: '1', nonce_str: 'n', req_info: 'AAAAAAAAAAAAAAAAAAAAAA==' });
      conforms('POST', '/payment/refund-notify', await app.httpRequest().post('/payment/refund-notify').set('Content-Type', 'text/xml')
        .send(forged)
        .expect(200));
      conforms('GET', '/payment/orders/{outTradeNo}', await app.httpRequest().get(`/payment/orders/${outTradeNo}`).set(bearer(token))
        .expect(200));
    });

    // NATIVE mode 1: docs/channels.md.
    scenario('a product\'s static code, and WeChat\'s scan callback: answered, refused, failing', async () => {
      const admin = { Authorization: `Bearer ${app.config.adminToken}` };
      for (const suffix of [ '', '.svg' ]) {
        const path = `/admin/products/{productId}/native-code${suffix}`;
        const get = (id: string, headers: Record<string, string> = admin) => app.httpRequest().get(`/admin/products/${id}/native-code${suffix}`).set(headers);
        const ok = await get('1').buffer(true).expect(200);
        // An image: supertest keeps its bytes in body, so the text checked is those bytes.
        conforms('GET', path, suffix ? { ...ok, text: Buffer.from(ok.body).toString('latin1') } : ok);
        conforms('GET', path, await get('1', {}).expect(401));
        conforms('GET', path, await get('777').expect(404));
        conforms('GET', path, await get('abc').expect(422));
        mock(app.config.wechat, 'apps', { ...app.config.wechat.apps, officialAccount: undefined });
        conforms('GET', path, await get('1').expect(409));
        mock.restore();
      }
      const { mchId, apiKey, apps } = app.config.wechat;
      const fields = { appid: apps.officialAccount!.appId, openid: 'o-openapi', mch_id: mchId, is_subscribe: 'N', nonce_str: 'n1', product_id: '1' };
      const post = (xml: string) => app.httpRequest().post('/payment/native-scan').set('Content-Type', 'text/xml')
        .send(xml);
      const signed = (f: Record<string, string>) => buildXml({ ...f, sign: sign(f, apiKey, 'MD5') });
      const answered = await post(signed(fields)).expect(200);
      conforms('POST', '/payment/native-scan', answered);
      assert.match(answered.text, /<prepay_id>/);
      conforms('POST', '/payment/native-scan', await post(signed({ ...fields, product_id: '777' })).expect(200));
      conforms('POST', '/payment/native-scan', await post(buildXml({ ...fields, sign: 'F'.repeat(32) })).expect(200));
      conforms('POST', '/payment/native-scan', await post(`<xml><a>${'x'.repeat(17 * 1024)}</a></xml>`).expect(413));
      mock(app.model.User, 'upsert', async () => { throw new Error('connection lost'); });
      conforms('POST', '/payment/native-scan', await post(signed({ ...fields, nonce_str: 'n2' })).expect(500));
    });

    // POS (payment code): docs/pos.md.
    scenario('POS charges: paid, failed, reversed, replayed, and the errors', async () => {
      const admin = { Authorization: `Bearer ${app.config.adminToken}` };
      const cashier = { Authorization: `Bearer ${app.config.pos.cashierToken}` };
      const charge = (body: object, key: string, headers: Record<string, string> = admin) => app.httpRequest().post('/admin/pos/charges').set(headers)
        .set('Idempotency-Key', key)
        .send(body);
      const paid = await charge({ authCode: testEnv.sim.issuePaymentCode().authCode, items: [{ productId: 1 }], storeInfo: { id: 'S1', areaCode: '440305' } }, 'openapi-pos-1').expect(201);
      conforms('POST', '/admin/pos/charges', paid);
      conforms('POST', '/admin/pos/charges', await charge({ authCode: testEnv.sim.issuePaymentCode().authCode, items: [{ productId: 1 }], storeInfo: { id: 'S1', areaCode: '440305' } }, 'openapi-pos-1').expect(409));
      const failed = await charge({ authCode: testEnv.sim.issuePaymentCode({ behaviour: 'NOTENOUGH' }).authCode, amount: 100 }, 'openapi-pos-2', cashier).expect(201);
      conforms('POST', '/admin/pos/charges', failed);
      assert.equal(failed.body.status, 'FAILED');
      const waiting = testEnv.sim.issuePaymentCode({ behaviour: 'password' }).authCode;
      const reversed = await charge({ authCode: waiting, amount: 100 }, 'openapi-pos-3').expect(201);
      conforms('POST', '/admin/pos/charges', reversed);
      assert.equal(reversed.body.status, 'REVERSED');
      conforms('POST', '/admin/pos/charges', await charge({ authCode: waiting, amount: 100 }, 'openapi-pos-3').expect(200));
      testEnv.sim.setFault('reverse', { kind: 'systemerror' });
      conforms('POST', '/admin/pos/charges', await charge({ authCode: testEnv.sim.issuePaymentCode({ behaviour: 'password' }).authCode, amount: 100 }, 'openapi-pos-4').expect(202));
      testEnv.sim.clearFaults();
      conforms('POST', '/admin/pos/charges', await charge({ authCode: '123', amount: 100 }, 'openapi-pos-5').expect(422));
      conforms('POST', '/admin/pos/charges', await app.httpRequest().post('/admin/pos/charges').set(admin)
        .set('Content-Type', 'application/json')
        .send('{"authCode":')
        .expect(400));
      conforms('POST', '/admin/pos/charges', await charge({ amount: 1 }, 'openapi-pos-6', { Authorization: 'Bearer wrong' }).expect(401));

      const show = (no: string, headers: Record<string, string> = admin) => app.httpRequest().get(`/admin/pos/charges/${no}`).set(headers);
      conforms('GET', '/admin/pos/charges/{outTradeNo}', await show(paid.body.outTradeNo, cashier).expect(200));
      conforms('GET', '/admin/pos/charges/{outTradeNo}', await show(reversed.body.outTradeNo).expect(200));
      conforms('GET', '/admin/pos/charges/{outTradeNo}', await show('M0000000000000000000000000000').expect(404));
      conforms('GET', '/admin/pos/charges/{outTradeNo}', await show('not*valid*because*it*is*far*too*long').expect(422));
      conforms('GET', '/admin/pos/charges/{outTradeNo}', await show(paid.body.outTradeNo, {}).expect(401));
    });

    // Issue 17: the outbox's admin API.
    scenario('events: list and replay (admin API)', async () => {
      const admin = { Authorization: `Bearer ${app.config.adminToken}` };
      const [ dead ] = await seedEvents([ 'DEAD', 'DELIVERED' ]);
      const get = (query: string) => app.httpRequest().get(`/admin/events${query}`).set(admin);
      conforms('GET', '/admin/events', await get('').expect(200));
      conforms('GET', '/admin/events', await get('?status=dead&limit=1').expect(200));
      conforms('GET', '/admin/events', await get('?status=lost').expect(422));
      conforms('GET', '/admin/events', await app.httpRequest().get('/admin/events').expect(401));
      const one = (id: string) => app.httpRequest().post(`/admin/events/${id}/replay`);
      conforms('POST', '/admin/events/{eventId}/replay', await one(dead.eventId).set(admin).expect(200));
      await app.model.OutboxEvent.update({ claimToken: 'relay', lockedUntil: new Date(Date.now() + 60_000) }, { where: { eventId: dead.eventId } });
      conforms('POST', '/admin/events/{eventId}/replay', await one(dead.eventId).set(admin).expect(409));
      conforms('POST', '/admin/events/{eventId}/replay', await one('evt_00000000000000000000000000000000').set(admin).expect(404));
      conforms('POST', '/admin/events/{eventId}/replay', await one('nope').set(admin).expect(422));
      conforms('POST', '/admin/events/{eventId}/replay', await one(dead.eventId).expect(401));
      const range = (body: object) => app.httpRequest().post('/admin/events/replay').set(admin)
        .send(body);
      conforms('POST', '/admin/events/replay', await range({ from: '2020-01-01T00:00:00Z', to: '2100-01-01T00:00:00Z', statuses: [ 'delivered' ] }).expect(200));
      conforms('POST', '/admin/events/replay', await range({ from: '2020-01-01T00:00:00Z' }).expect(422));
      conforms('POST', '/admin/events/replay', await app.httpRequest().post('/admin/events/replay').send({})
        .expect(401));
      await app.model.query('DELETE FROM outbox_events');
    });

    scenario('official-account login', async () => {
      mock(app.config.oauth, 'callbackUrl', `${testEnv.appUrl}/oauth/wechat/callback`);
      mock(app.config.oauth, 'redirectAllowList', [ 'https://shop.example.com/' ]);
      const authorize = (redirect: string) => app.httpRequest().get('/oauth/wechat/authorize').query({ redirect });
      const callback = (query: Record<string, string>) => app.httpRequest().get('/oauth/wechat/callback').query(query);
      conforms('GET', '/oauth/wechat/authorize', await authorize('https://evil.example/').expect(422));
      const started = await authorize('https://shop.example.com/').expect(302);
      conforms('GET', '/oauth/wechat/authorize', started);
      const cookie = (started.headers['set-cookie'] as unknown as string[]).map(c => c.split(';')[0]).join('; ');
      const state = new URL(started.headers.location).searchParams.get('state')!;
      conforms('GET', '/oauth/wechat/callback', await callback({ code: 'x', state }).expect(403));
      const { code } = testEnv.sim.issueOAuthCode({ appId: app.config.wechat.apps.officialAccount!.appId });
      conforms('GET', '/oauth/wechat/callback', await callback({ code, state }).set('Cookie', cookie)
        .expect(302));
    });

    // Channels (issue 16): the web shop's guest session and QR code, the mobile app's login, each trade type's reply.
    scenario('channels: NATIVE, MWEB and APP', async () => {
      const guest = await app.httpRequest().post('/api/web/session').expect(200);
      conforms('POST', '/api/web/session', guest);
      const token = guest.body.token;
      const orderAs = (bearerToken: string, tradeType: string) => app.httpRequest().post('/payment/order').set(bearer(bearerToken))
        .send({ items: [{ productId: PRODUCTS.coffee.id, quantity: 1 }], tradeType });
      const native = await orderAs(token, 'NATIVE').expect(200);
      conforms('POST', '/payment/order', native);
      conforms('POST', '/payment/order', await orderAs(token, 'MWEB').expect(200));
      conforms('POST', '/payment/order', await orderAs(token, 'APP').expect(403));
      // Images: supertest keeps their bytes in body, so the text checked is those bytes.
      for (const format of [ 'svg', 'png' ]) {
        const path = `/payment/orders/{outTradeNo}/qrcode.${format}`;
        const image = await app.httpRequest().get(native.body.qrCode[format]).set(bearer(token))
          .buffer(true)
          .expect(200);
        conforms('GET', path, { ...image, text: Buffer.from(image.body).toString('latin1') });
        conforms('GET', path, await app.httpRequest().get(`/payment/orders/P0000000000000000000000000000/qrcode.${format}`).set(bearer(token))
          .expect(404));
        conforms('GET', path, await app.httpRequest().get(native.body.qrCode[format]).expect(401));
      }

      const { code } = testEnv.sim.issueOAuthCode({ appId: app.config.wechat.apps.app!.appId });
      const appLogin = await app.httpRequest().post('/api/app/login').send({ code })
        .expect(200);
      conforms('POST', '/api/app/login', appLogin);
      conforms('POST', '/api/app/login', await app.httpRequest().post('/api/app/login').send({ code })
        .expect(401));
      conforms('POST', '/api/app/login', await app.httpRequest().post('/api/app/login').send({})
        .expect(422));
      conforms('POST', '/payment/order', await orderAs(appLogin.body.token, 'APP').expect(200));
    });

    // --- issue 18 (metrics, order list) ---
    scenario('your order list, page by page', async () => {
      const { token } = await login();
      await createOrder(token).expect(200);
      await createOrder(token).expect(200);
      const first = await app.httpRequest().get('/payment/orders').query({ limit: '1' })
        .set(bearer(token))
        .expect(200);
      conforms('GET', '/payment/orders', first);
      conforms('GET', '/payment/orders', await app.httpRequest().get('/payment/orders').query({ cursor: first.body.nextCursor })
        .set(bearer(token))
        .expect(200));
      conforms('GET', '/payment/orders', await app.httpRequest().get('/payment/orders').query({ cursor: 'nope' })
        .set(bearer(token))
        .expect(400));
      conforms('GET', '/payment/orders', await app.httpRequest().get('/payment/orders').query({ limit: '0' })
        .set(bearer(token))
        .expect(422));
      conforms('GET', '/payment/orders', await app.httpRequest().get('/payment/orders').expect(401));
    });

    scenario('metrics', async () => {
      conforms('GET', '/metrics', await app.httpRequest().get('/metrics').set(bearer(app.config.metrics.token))
        .expect(200));
      conforms('GET', '/metrics', await app.httpRequest().get('/metrics').expect(401));
      mock(app.config.metrics, 'port', 1);
      conforms('GET', '/metrics', await app.httpRequest().get('/metrics').set(bearer(app.config.metrics.token))
        .expect(404));
    });
    // --- end issue 18

    // --- Operator's console (issue 18): its page, its session, and the admin API behind it.
    scenario('the operator console and the admin API behind it', async () => {
      const { token } = await login();
      const created = await createOrder(token).expect(200);
      const { outTradeNo } = created.body;
      await testEnv.sim.pay(outTradeNo);
      await testEnv.sim.waitForDelivery(outTradeNo, { kind: 'payment', acknowledged: true });
      const unpaid = (await createOrder(token).expect(200)).body.outTradeNo;
      const admin = { Authorization: `Bearer ${app.config.adminToken}` };
      const adminGet = (url: string) => app.httpRequest().get(url).set(admin);
      const adminPost = (url: string) => app.httpRequest().post(url).set(admin);

      conforms('GET', '/admin/', await app.httpRequest().get('/admin/').expect(200));
      conforms('GET', '/admin/assets/{file}', await app.httpRequest().get('/admin/assets/console.js').expect(200));
      conforms('GET', '/admin/assets/{file}', await app.httpRequest().get('/admin/assets/console.css').expect(200));
      conforms('GET', '/admin/assets/{file}', await app.httpRequest().get('/admin/assets/nope.js').expect(404));
      const consoleClient = new ConsoleClient();
      await consoleClient.open();
      conforms('POST', '/admin/session', await consoleClient.request('post', '/admin/session', { csrf: false }).send({ token: 'x' })
        .expect(403));
      conforms('POST', '/admin/session', await consoleClient.request('post', '/admin/session').send({ token: 'wrong' })
        .expect(401));
      conforms('POST', '/admin/session', await consoleClient.request('post', '/admin/session').send({})
        .expect(422));
      conforms('POST', '/admin/session', await consoleClient.request('post', '/admin/session').send({ token: app.config.adminToken })
        .expect(200));
      conforms('GET', '/admin/session', await consoleClient.request('get', '/admin/session').expect(200));
      conforms('GET', '/admin/session', await adminGet('/admin/session').expect(200));

      conforms('GET', '/admin/orders', await consoleClient.request('get', '/admin/orders?status=SUCCESS&limit=1').expect(200));
      conforms('GET', '/admin/orders', await adminGet('/admin/orders?limit=1').expect(200));
      conforms('GET', '/admin/orders', await adminGet('/admin/orders?status=PAID').expect(422));
      conforms('GET', '/admin/orders', await app.httpRequest().get('/admin/orders').expect(401));
      conforms('GET', '/admin/orders/{outTradeNo}', await adminGet(`/admin/orders/${outTradeNo}`).expect(200));
      conforms('GET', '/admin/orders/{outTradeNo}', await adminGet('/admin/orders/P0000000000000000000000000000').expect(404));
      conforms('POST', '/admin/orders/{outTradeNo}/refunds', await consoleClient.request('post', `/admin/orders/${outTradeNo}/refunds`, { csrf: false })
        .send({ amount: 100, reason: 'forged' })
        .expect(403));
      const refund = await consoleClient.request('post', `/admin/orders/${outTradeNo}/refunds`).set('Idempotency-Key', 'openapi-console')
        .send({ amount: 100, reason: 'console' })
        .expect(201);
      conforms('POST', '/admin/orders/{outTradeNo}/refunds', refund);
      await testEnv.sim.waitForDelivery(outTradeNo, { kind: 'refund', acknowledged: true });
      conforms('GET', '/admin/orders/{outTradeNo}/refunds', await consoleClient.request('get', `/admin/orders/${outTradeNo}/refunds`).expect(200));
      conforms('POST', '/admin/refunds/{outRefundNo}/query', await adminPost(`/admin/refunds/${refund.body.outRefundNo}/query`).expect(200));
      conforms('POST', '/admin/refunds/{outRefundNo}/query', await adminPost('/admin/refunds/R0000000000000000/query').expect(404));
      conforms('POST', '/admin/orders/{outTradeNo}/query', await consoleClient.request('post', `/admin/orders/${outTradeNo}/query`).expect(200));
      conforms('POST', '/admin/orders/{outTradeNo}/query', await consoleClient.request('post', `/admin/orders/${outTradeNo}/query`, { csrf: false })
        .expect(403));
      testEnv.sim.setFault('orderquery', { kind: 'systemerror' });
      conforms('POST', '/admin/orders/{outTradeNo}/query', await adminPost(`/admin/orders/${unpaid}/query`).expect(503));
      testEnv.sim.clearFaults();
      conforms('POST', '/admin/orders/{outTradeNo}/close', await adminPost(`/admin/orders/${outTradeNo}/close`).expect(409));
      conforms('POST', '/admin/orders/{outTradeNo}/close', await adminPost(`/admin/orders/${unpaid}/close`).expect(200));

      conforms('GET', '/admin/dashboard', await consoleClient.request('get', '/admin/dashboard?days=7').expect(200));
      conforms('GET', '/admin/dashboard', await adminGet('/admin/dashboard?days=0').expect(422));
      const day = addDays(beijingDate(new Date()), -2);
      conforms('GET', '/admin/reconciliations/{billDate}', await adminGet(`/admin/reconciliations/${day}`).expect(404));
      conforms('POST', '/admin/reconciliations/{billDate}/run', await consoleClient.request('post', `/admin/reconciliations/${day}/run`).expect(200));
      conforms('POST', '/admin/reconciliations/{billDate}/run', await adminPost('/admin/reconciliations/2026-02-30/run').expect(422));
      conforms('GET', '/admin/reconciliations/{billDate}', await adminGet(`/admin/reconciliations/${day}`).expect(200));
      conforms('GET', '/admin/reconciliations', await consoleClient.request('get', '/admin/reconciliations').expect(200));
      conforms('GET', '/admin/reconciliations', await adminGet('/admin/reconciliations?from=x').expect(422));

      conforms('DELETE', '/admin/session', await consoleClient.request('delete', '/admin/session', { csrf: false }).expect(403));
      conforms('DELETE', '/admin/session', await consoleClient.request('delete', '/admin/session').expect(204));
      conforms('GET', '/admin/session', await consoleClient.request('get', '/admin/session').expect(401));
    });
    // --- end of the console's scenario

    it('every documented operation had a real reply checked above', async () => {
      for (const [ title, run ] of scenarios) {
        await resetWorld();
        await run().catch(err => { throw new Error(`scenario "${title}": ${(err as Error).message}`); });
        mock.restore();
        testEnv.sim.clearFaults();
      }
      assert.ok(checked.size > 0);
      const unchecked = documentedOperations().filter(op => !checked.has(op));
      assert.deepEqual(unchecked, [], 'add a request for these to "against real replies" in test/docs/openapi.test.ts');
    });
  });
});
