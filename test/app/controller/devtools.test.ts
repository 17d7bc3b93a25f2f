import assert from 'node:assert/strict';
import * as vm from 'node:vm';
import { app, mock } from 'egg-mock/bootstrap';
import registerRoutes from '../../../app/router';
import { closedUrl } from '../../support/closedPort';
import { testEnv } from '../../support/env';
import { createOrder, login, resetWorld } from '../../support/fixtures';

describe('developer tools: /demo and its simulator calls', () => {
  beforeEach(resetWorld);
  afterEach(() => mock.restore());

  describe('the router\'s developer routes', () => {
    /** The routes app/router.ts declares in `env` that a devtools controller method serves. */
    function routesFor(env: string): string[] {
      const routes: string[] = [];
      const isDevtools = (h: unknown) => typeof h === 'object' && h !== null && 'devtools' in h;
      const record = (method: string) => (p: string, ...handlers: unknown[]) => {
        if (handlers.some(isDevtools)) routes.push(`${method} ${p}`);
      };
      const router = { get: record('GET'), post: record('POST'), delete: record('DELETE') };
      // Every other controller method and middleware is a stand-in; devtools methods are marked.
      const stub: any = new Proxy({}, { get: () => () => undefined });
      const devtools = new Proxy({}, { get: (_t, name) => ({ devtools: name }) });
      const controller = new Proxy({}, { get: (_t, name) => (name === 'devtools' ? devtools : stub) });
      registerRoutes({ config: { env }, router, controller, middleware: stub } as any);
      return routes;
    }

    it('registers nothing in production or any other environment', () => {
      assert.deepEqual(routesFor('prod'), []);
      assert.deepEqual(routesFor('default'), []);
      assert.deepEqual(routesFor('test'), []);
    });

    it('registers the demo and /openapi.json in local development and in tests', () => {
      const expected = [ 'GET /openapi.json', 'GET /demo', 'GET /demo/assets/:file', 'GET /demo/web', 'GET /demo/h5-return', 'GET /demo/config', 'POST /demo/login-code', 'POST /demo/pay' ];
      assert.deepEqual(routesFor('local'), expected);
      assert.deepEqual(routesFor('unittest'), expected);
    });
  });

  describe('GET /demo and its assets', () => {
    it('serves the page, uncached', async () => {
      const res = await app.httpRequest().get('/demo').expect(200);
      assert.match(res.headers['content-type'], /^text\/html/);
      assert.equal(res.headers['cache-control'], 'no-store');
      for (const script of [ '/demo/assets/api.js', '/demo/assets/checkout.js', '/demo/assets/demo.js' ]) {
        assert.ok(res.text.includes(`<script src="${script}"></script>`), script);
      }
    });

    it("serves the mini-program's modules unchanged, wrapped so their exports land on window.miniprogram", async () => {
      const res = await app.httpRequest().get('/demo/assets/checkout.js').expect(200);
      assert.match(res.headers['content-type'], /^application\/javascript/);
      const window: any = {};
      vm.runInNewContext(res.text, { window, setTimeout });
      assert.equal(typeof window.miniprogram.checkout.createCheckout, 'function');
      assert.equal(window.miniprogram.checkout.RESULT.PAID, 'PAID');
      const api = await app.httpRequest().get('/demo/assets/api.js').expect(200);
      vm.runInNewContext(api.text, { window });
      assert.equal(typeof window.miniprogram.api.createApi, 'function');
    });

    it('serves nothing but its own list of files', async () => {
      for (const file of [ 'index.html', 'config.js', '..%2F..%2Fconfig%2Fenv.ts', '%2e%2e%2fpackage.json', 'constructor', '__proto__' ]) {
        const res = await app.httpRequest().get(`/demo/assets/${file}`).expect(404);
        assert.deepEqual(res.body, { code: 'NOT_FOUND', message: 'no such demo file' }, file);
      }
    });

    it('GET /demo/config names the simulator the service talks to', async () => {
      const res = await app.httpRequest().get('/demo/config').expect(200);
      assert.deepEqual(res.body, { simulatorUrl: testEnv.sim.url, simulatorPageUrl: `${testEnv.sim.url}/simulator/` });
    });
  });

  describe('POST /demo/login-code', () => {
    it('answers a code from the simulator that logs in as the given openid', async () => {
      const res = await app.httpRequest().post('/demo/login-code').send({ openid: 'odemo-user_1' })
        .expect(200);
      assert.deepEqual(Object.keys(res.body).sort(), [ 'code', 'openid' ]);
      assert.equal(res.body.openid, 'odemo-user_1');
      const session = await app.httpRequest().post('/api/login').send({ code: res.body.code })
        .expect(200);
      assert.equal(session.body.user.openid, 'odemo-user_1');
    });

    it('refuses a malformed openid with 422 before calling the simulator', async () => {
      const res = await app.httpRequest().post('/demo/login-code').send({ openid: 'not an openid' })
        .expect(422);
      assert.equal(res.body.field, 'openid');
    });

    it('answers 503 SIMULATOR_UNAVAILABLE when the simulator does not answer', async () => {
      const nowhere = await closedUrl();
      mock(app.config.wechat, 'payBaseUrl', nowhere);
      const res = await app.httpRequest().post('/demo/login-code').send({})
        .expect(503);
      assert.deepEqual(res.body, {
        code: 'SIMULATOR_UNAVAILABLE',
        message: `the WeChat simulator at ${nowhere} did not answer: is it running (npm run dev)?`,
      });
    });
  });

  describe('POST /demo/pay', () => {
    it('pays or fails the order in the simulator, as the payer', async () => {
      const { token } = await login();
      const paid = await createOrder(token).expect(200);
      const failed = await createOrder(token, [{ productId: 2, quantity: 1 }]).expect(200);

      const payRes = await app.httpRequest().post('/demo/pay').send({ outTradeNo: paid.body.outTradeNo, result: 'SUCCESS' })
        .expect(200);
      assert.deepEqual(payRes.body, { outTradeNo: paid.body.outTradeNo, result: 'SUCCESS', tradeState: 'SUCCESS' });
      const failRes = await app.httpRequest().post('/demo/pay').send({ outTradeNo: failed.body.outTradeNo, result: 'FAIL' })
        .expect(200);
      assert.deepEqual(failRes.body, { outTradeNo: failed.body.outTradeNo, result: 'FAIL', tradeState: 'PAYERROR' });
      assert.equal(testEnv.sim.order(paid.body.outTradeNo)!.tradeState, 'SUCCESS');
      assert.equal(testEnv.sim.order(failed.body.outTradeNo)!.tradeState, 'PAYERROR');
    });

    it("answers 502 SIMULATOR_REFUSED with the simulator's reason", async () => {
      const res = await app.httpRequest().post('/demo/pay').send({ outTradeNo: 'P0000000000000000000000000000', result: 'SUCCESS' })
        .expect(502);
      assert.deepEqual(res.body, { code: 'SIMULATOR_REFUSED', message: 'the WeChat simulator refused: no order P0000000000000000000000000000' });
    });

    it('refuses a result other than SUCCESS or FAIL, and a malformed order number, with 422', async () => {
      const bad = await app.httpRequest().post('/demo/pay').send({ outTradeNo: 'P1', result: 'MAYBE' })
        .expect(422);
      assert.equal(bad.body.field, 'result');
      const malformed = await app.httpRequest().post('/demo/pay').send({ outTradeNo: 'P 1', result: 'FAIL' })
        .expect(422);
      assert.equal(malformed.body.field, 'outTradeNo');
    });
  });
});
