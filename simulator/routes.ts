import { BillApi } from './bill';
import { errorPage, renderMwebPage, renderScanPage } from './channelPages';
import { Credentials } from './credentials';
import { systemErrorReply } from './envelope';
import { htmlResponse, jsonObjectBody, jsonResponse, SimResponse } from './http';
import { LoginService } from './login';
import { OAuthService } from './oauth';
import { Notifier } from './notifier';
import { renderPage } from './page';
import { PayApi } from './pay';
import { Payer, PayerError } from './payer';
import { RefundApi } from './refund';
import { Route } from './server';
import { OrderBook } from './state';
import { PayOptions } from './types';

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
        try {
          return jsonResponse(200, d.payer.pay(body.outTradeNo, { result: body.result, bankType: body.bankType }));
        } catch (err) {
          if (err instanceof PayerError) return problem(err.status, err.message);
          throw err;
        }
      },
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
        return payerCall(() => d.payer.scan(body.codeUrl as string, { result: body.result as PayOptions['result'], openid: body.openid as string | undefined }));
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
