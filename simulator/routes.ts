import { parseStaticCodeUrl } from '../lib/wechatpay';
import { BillApi } from './bill';
import { errorPage, renderMwebPage, renderScanPage } from './channelPages';
import { Credentials } from './credentials';
import { systemErrorReply } from './envelope';
import { htmlResponse, jsonObjectBody, jsonResponse, SimResponse } from './http';
import { LoginService } from './login';
import { MICROPAY_FAILURES, MicropayApi, PaymentCodeOptions } from './micropay';
import { OAuthService } from './oauth';
import { Notifier } from './notifier';
import { renderPage } from './page';
import { bridgeScript, cashierPage } from './jsbridge';
import { PayApi } from './pay';
import { Payer, PayerError } from './payer';
import { RefundApi } from './refund';
import { getSignKey, SANDBOX_PREFIX } from './sandbox';
import { Route } from './server';
import { OrderBook } from './state';
import { StaticCodeScanner } from './staticCode';
import { PayOptions } from './types';

export interface RouteDeps {
  credentials: Credentials;
  login: LoginService;
  oauth: OAuthService;
  payApi: PayApi;
  refundApi: RefundApi;
  billApi: BillApi;
  payer: Payer;
  /** NATIVE mode 1: static codes, whose scan goes through the merchant's callback (simulator/staticCode.ts). */
  staticCodes: StaticCodeScanner;
  orders: OrderBook;
  notifier: Notifier;
  now: () => Date;
  // Payment code and sandbox (simulator/micropay.ts, simulator/sandbox.ts).
  micropay: MicropayApi;
  sandbox: { credentials: Credentials; payApi: PayApi; billApi: BillApi };
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
    {
      path: '/pay/orderquery', api: 'orderquery', systemError: busy,
      // A payer waiting for the password of a payment-code order may have entered it by this query.
      handle: req => { d.micropay.beforeQuery(req); return d.payApi.orderQuery(req); },
    },
    { path: '/pay/closeorder', api: 'closeorder', handle: req => d.payApi.closeOrder(req), systemError: busy },
    { path: '/secapi/pay/refund', api: 'refund', handle: req => d.refundApi.refund(req), systemError: busy },
    { path: '/pay/refundquery', api: 'refundquery', handle: req => d.refundApi.refundQuery(req), systemError: busy },
    { path: '/pay/downloadbill', api: 'downloadbill', handle: req => d.billApi.downloadBill(req), systemError: busy },
    // Payment code (micropay) and its reverse (mutual TLS).
    { path: '/pay/micropay', api: 'micropay', handle: req => d.micropay.micropay(req), systemError: busy },
    { path: '/secapi/pay/reverse', api: 'reverse', handle: req => d.micropay.reverse(req), systemError: busy },
    ...sandboxRoutes(d),
  ];
}

/**
 * WeChat's sandbox: the key exchange, then the APIs under /sandboxnew signed with the sandbox key.
 * Same order book as production, so the payer's page and tests see sandbox orders too.
 */
function sandboxRoutes(d: RouteDeps): Route[] {
  const sb = d.sandbox;
  const busy = (req: Parameters<Route['handle']>[0]) => systemErrorReply(req, sb.credentials);
  return [
    { path: `${SANDBOX_PREFIX}/pay/getsignkey`, api: 'getsignkey', handle: req => getSignKey(req, d.credentials) },
    { path: `${SANDBOX_PREFIX}/pay/unifiedorder`, api: 'unifiedorder', handle: req => sb.payApi.unifiedOrder(req), systemError: busy },
    {
      path: `${SANDBOX_PREFIX}/pay/orderquery`, api: 'orderquery', systemError: busy,
      handle: req => { d.micropay.beforeQuery(req); return sb.payApi.orderQuery(req); },
    },
    { path: `${SANDBOX_PREFIX}/pay/closeorder`, api: 'closeorder', handle: req => sb.payApi.closeOrder(req), systemError: busy },
    { path: `${SANDBOX_PREFIX}/pay/downloadbill`, api: 'downloadbill', handle: req => sb.billApi.downloadBill(req), systemError: busy },
    { path: `${SANDBOX_PREFIX}/pay/micropay`, api: 'micropay', handle: req => d.micropay.micropay(req, sb.credentials), systemError: busy },
    { path: `${SANDBOX_PREFIX}/secapi/pay/reverse`, api: 'reverse', handle: req => d.micropay.reverse(req, sb.credentials), systemError: busy },
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
    // Channels (issue 16): scanning a NATIVE code, and the MWEB cashier page an mweb_url opens.
    {
      path: '/simulator/scan',
      handle: req => {
        if (req.method === 'GET') return htmlResponse(renderScanPage(d.orders.all(), d.now()));
        if (req.method !== 'POST') return methodNotAllowed();
        const body = jsonObjectBody(req);
        if (!body || typeof body.codeUrl !== 'string') return problem(400, 'send JSON {"codeUrl": "weixin://...", "result"?: "SUCCESS"|"FAIL", "openid"?}');
        if (body.result !== undefined && body.result !== 'SUCCESS' && body.result !== 'FAIL') return problem(400, 'result must be SUCCESS or FAIL');
        if (body.openid !== undefined && typeof body.openid !== 'string') return problem(400, 'openid must be a string');
        const options = { result: body.result as PayOptions['result'], openid: body.openid as string | undefined };
        // A static code (mode 1) names a product: its scan asks the merchant for the order first.
        if (parseStaticCodeUrl(body.codeUrl)) return payerCallAsync(() => d.staticCodes.scan(body.codeUrl as string, options));
        return payerCall(() => d.payer.scan(body.codeUrl as string, options));
      },
    },
    {
      path: '/cgi-bin/mmpayweb-bin/checkmweb',
      handle: req => {
        if (req.method !== 'GET') return methodNotAllowed();
        const q = req.url.searchParams;
        const prepayId = q.get('prepay_id') ?? '';
        const pkg = q.get('package') ?? '';
        let order;
        try {
          order = d.payer.mwebOrder(prepayId, pkg);
        } catch (err) {
          if (err instanceof PayerError) return errorPage(err.status === 409 ? 410 : err.status, err.message);
          throw err;
        }
        const domains = d.credentials.merchant(order.mchId)?.h5Domains ?? [];
        // WeChat's H5 checks: the page opening the cashier and the return page are on the registered H5 domain.
        const referer = hostOf(req.headers.referer);
        if (!referer || !domains.includes(referer)) return errorPage(403, '商家参数格式有误，请联系商家解决: the Referer is not on the H5 payment domain');
        const redirect = q.get('redirect_url') ?? undefined;
        if (redirect !== undefined && !domains.includes(hostOf(redirect) ?? '')) {
          return errorPage(400, '商家参数格式有误，请联系商家解决: redirect_url is not on the H5 payment domain');
        }
        return htmlResponse(renderMwebPage(order, { prepayId, pkg, redirectUrl: redirect }));
      },
    },
    {
      path: '/simulator/mweb-pay',
      handle: req => {
        if (req.method !== 'POST') return methodNotAllowed();
        const body = jsonObjectBody(req);
        if (!body || typeof body.prepayId !== 'string' || typeof body.package !== 'string') return problem(400, 'send JSON {"prepayId", "package", "result"?}');
        if (body.result !== undefined && body.result !== 'SUCCESS' && body.result !== 'FAIL') return problem(400, 'result must be SUCCESS or FAIL');
        return payerCall(() => d.payer.pay(d.payer.mwebOrder(body.prepayId as string, body.package as string).outTradeNo, { result: body.result as PayOptions['result'] }));
      },
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
      // Tests and the demo: a payment code for a test payer (PaymentCodeOptions), as the payer's app shows it.
      path: '/simulator/payment-codes',
      handle: req => {
        if (req.method !== 'POST') return methodNotAllowed();
        const body = jsonObjectBody(req);
        if (!body) return problem(400, `send a JSON object {"openid"?, "behaviour"?: "pay"|"password"|${Object.keys(MICROPAY_FAILURES).map(c => `"${c}"`).join('|')}, ...}`);
        try {
          return jsonResponse(200, d.micropay.issueCode(body as PaymentCodeOptions));
        } catch (err) {
          return problem(400, (err as Error).message);
        }
      },
    },
    {
      // The payer enters the password (or gives up) for a payment-code order waiting in USERPAYING.
      path: /^\/simulator\/orders\/([^/]+)\/password$/,
      handle: (req, match) => {
        if (req.method !== 'POST') return methodNotAllowed();
        const body = jsonObjectBody(req);
        if (!body || (body.result !== undefined && body.result !== 'SUCCESS' && body.result !== 'FAIL')) return problem(400, 'send JSON {"result"?: "SUCCESS"|"FAIL"}');
        try {
          const order = d.micropay.confirmPassword(decodeURIComponent(match![1]), body.result as 'SUCCESS' | 'FAIL' | undefined);
          return jsonResponse(200, { outTradeNo: order.outTradeNo, tradeState: order.tradeState });
        } catch (err) {
          return problem(409, (err as Error).message);
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

async function payerCallAsync(fn: () => Promise<unknown>): Promise<SimResponse> {
  try {
    return jsonResponse(200, await fn());
  } catch (err) {
    if (err instanceof PayerError) return problem(err.status, err.message);
    throw err;
  }
}

function payerCall(fn: () => unknown): SimResponse {
  try {
    return jsonResponse(200, fn());
  } catch (err) {
    if (err instanceof PayerError) return problem(err.status, err.message);
    throw err;
  }
}

/** The host of a URL (no port), or undefined for none or a malformed one. */
function hostOf(url: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    return new URL(url).hostname;
  } catch {
    return undefined;
  }
}

function problem(status: number, message: string): SimResponse {
  return jsonResponse(status, { message });
}

function methodNotAllowed(): SimResponse {
  return problem(405, 'method not allowed');
}
