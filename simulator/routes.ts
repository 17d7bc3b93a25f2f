import { BillApi } from './bill';
import { Credentials } from './credentials';
import { systemErrorReply } from './envelope';
import { htmlResponse, jsonObjectBody, jsonResponse, SimResponse } from './http';
import { LoginService } from './login';
import { OAuthService } from './oauth';
import { Notifier } from './notifier';
import { renderPage } from './page';
import { bridgeScript, cashierPage } from './jsbridge';
import { PayApi } from './pay';
import { Payer, PayerError } from './payer';
import { RefundApi } from './refund';
import { Route } from './server';
import { OrderBook } from './state';

export interface RouteDeps {
  credentials: Credentials;
  login: LoginService;
  oauth: OAuthService;
  payApi: PayApi;
  refundApi: RefundApi;
  billApi: BillApi;
  payer: Payer;
  orders: OrderBook;
  notifier: Notifier;
  now: () => Date;
}

/** WeChat's own endpoints, at the paths the real hosts use. */
export function wechatRoutes(d: RouteDeps): Route[] {
  const busy = (req: Parameters<Route['handle']>[0]) => systemErrorReply(req, d.credentials);
  return [
    { path: '/sns/jscode2session', api: 'jscode2session', handle: req => d.login.handle(req), systemError: () => d.login.systemError() },
    { path: '/sns/oauth2/access_token', api: 'oauth2_access_token', handle: req => d.oauth.exchange(req), systemError: () => d.oauth.systemError() },
    // The page the payer's browser is sent to (open.weixin.qq.com at WeChat); not an API, so never faulted.
    { path: '/connect/oauth2/authorize', handle: req => d.oauth.authorize(req) },
    { path: '/pay/unifiedorder', api: 'unifiedorder', handle: req => d.payApi.unifiedOrder(req), systemError: busy },
    { path: '/pay/orderquery', api: 'orderquery', handle: req => d.payApi.orderQuery(req), systemError: busy },
    { path: '/pay/closeorder', api: 'closeorder', handle: req => d.payApi.closeOrder(req), systemError: busy },
    { path: '/secapi/pay/refund', api: 'refund', handle: req => d.refundApi.refund(req), systemError: busy },
    { path: '/pay/refundquery', api: 'refundquery', handle: req => d.refundApi.refundQuery(req), systemError: busy },
    { path: '/pay/downloadbill', api: 'downloadbill', handle: req => d.billApi.downloadBill(req), systemError: busy },
  ];
}

/** The payer's and developer's side: pay buttons, login codes, order state. Not WeChat APIs. */
export function payerRoutes(d: RouteDeps): Route[] {
  return [
    {
      path: '/simulator',
      handle: () => ({ status: 302, contentType: 'text/plain', body: '', headers: { Location: '/simulator/' } }),
    },
    {
      path: '/simulator/',
      handle: req => (req.method === 'GET'
        ? htmlResponse(renderPage({ orders: d.orders.all(), deliveries: d.notifier.list(), now: d.now() }))
        : methodNotAllowed()),
    },
    {
      path: '/simulator/pay',
      handle: req => {
        if (req.method !== 'POST') return methodNotAllowed();
        const body = jsonObjectBody(req);
        if (!body || typeof body.outTradeNo !== 'string') return problem(400, 'send JSON {"outTradeNo": "...", "result"?: "SUCCESS"|"FAIL"}');
        if (body.result !== undefined && body.result !== 'SUCCESS' && body.result !== 'FAIL') return problem(400, 'result must be SUCCESS or FAIL');
        if (body.bankType !== undefined && typeof body.bankType !== 'string') return problem(400, 'bankType must be a string');
        // Coupons: [{ fee (fen), type?: CASH|NO_CASH, id? }], checked by the payer.
        if (body.coupons !== undefined && !Array.isArray(body.coupons)) return problem(400, 'coupons must be a list of {fee, type?, id?}');
        try {
          return jsonResponse(200, d.payer.pay(body.outTradeNo, { result: body.result, bankType: body.bankType, coupons: body.coupons }));
        } catch (err) {
          if (err instanceof PayerError) return problem(err.status, err.message);
          throw err;
        }
      },
    },
    // Official-account pay in an ordinary browser: the WeixinJSBridge stand-in and its cashier (simulator/jsbridge.ts).
    { path: '/simulator/jsbridge.js', handle: req => (req.method === 'GET' ? bridgeScript(`http://${req.headers.host ?? req.url.host}`) : methodNotAllowed()) },
    {
      path: '/simulator/cashier',
      handle: req => (req.method === 'GET' ? cashierPage(req, d.orders, d.credentials, d.now()) : methodNotAllowed()),
    },
    {
      path: '/simulator/login-code',
      handle: req => {
        if (req.method !== 'POST') return methodNotAllowed();
        const body = jsonObjectBody(req);
        if (!body) return problem(400, 'send a JSON object {"openid"?, "unionid"?, "appId"?}');
        for (const name of [ 'appId', 'openid', 'unionid' ]) {
          if (body[name] !== undefined && typeof body[name] !== 'string') return problem(400, `${name} must be a string`);
        }
        try {
          return jsonResponse(200, d.login.issueCode(body as { appId?: string; openid?: string; unionid?: string }));
        } catch (err) {
          return problem(400, (err as Error).message);
        }
      },
    },
    {
      // Tests and tools: an official-account OAuth code without the authorize page.
      path: '/simulator/oauth-code',
      handle: req => {
        if (req.method !== 'POST') return methodNotAllowed();
        const body = jsonObjectBody(req);
        if (!body) return problem(400, 'send a JSON object {"appId"?, "openid"?, "unionid"?}');
        for (const name of [ 'appId', 'openid', 'unionid' ]) {
          if (body[name] !== undefined && typeof body[name] !== 'string') return problem(400, `${name} must be a string`);
        }
        try {
          return jsonResponse(200, d.oauth.issueCode(body as { appId?: string; openid?: string; unionid?: string }));
        } catch (err) {
          return problem(400, (err as Error).message);
        }
      },
    },
    {
      path: /^\/simulator\/orders\/([^/]+)$/,
      handle: (req, match) => {
        if (req.method !== 'GET') return methodNotAllowed();
        let outTradeNo: string;
        try {
          outTradeNo = decodeURIComponent(match![1]);
        } catch {
          return problem(400, 'malformed order number');
        }
        const order = d.orders.find(outTradeNo);
        if (!order) return problem(404, `no order ${outTradeNo}`);
        return jsonResponse(200, { order, deliveries: d.notifier.list(outTradeNo) });
      },
    },
  ];
}

function problem(status: number, message: string): SimResponse {
  return jsonResponse(status, { message });
}

function methodNotAllowed(): SimResponse {
  return problem(405, 'method not allowed');
}
