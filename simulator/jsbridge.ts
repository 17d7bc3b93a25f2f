import { fenToYuan, isSignType, sign } from '../lib/wechatpay';
import { Credentials } from './credentials';
import { htmlResponse, SimRequest, SimResponse } from './http';
import { OrderBook } from './state';

/**
 * The WeChat browser's WeixinJSBridge, as far as official-account pay uses it, for pages running
 * in an ordinary browser: GET /simulator/jsbridge.js defines window.WeixinJSBridge (and fires
 * WeixinJSBridgeReady); invoke('getBrandWCPayRequest', params, cb) opens WeChat's cashier
 * (GET /simulator/cashier, in an overlay iframe of the simulator's origin), which checks the
 * parameters as WeChat does (prepay_id known and payable, appId the order's, signType the
 * order's, paySign over exactly appId, nonceStr, package, signType, timeStamp), lets the payer pay
 * (optionally with a coupon), fail or cancel, and reports res.err_msg
 * get_brand_wcpay_request:ok|fail|cancel to the page, as WeChat does. `:ok` is no proof of
 * payment: the page must ask its server.
 */

const BRIDGE_FIELDS = [ 'appId', 'timeStamp', 'nonceStr', 'package', 'signType', 'paySign' ] as const;

/** GET /simulator/jsbridge.js: the bridge stand-in; `simulatorOrigin` is where its cashier is. */
export function bridgeScript(simulatorOrigin: string): SimResponse {
  const js = `/* WeixinJSBridge stand-in served by the WeChat simulator (simulator/jsbridge.ts). */
(function () {
  'use strict';
  var SIMULATOR = ${JSON.stringify(simulatorOrigin)};
  var FIELDS = ${JSON.stringify(BRIDGE_FIELDS)};
  var pending = null;
  function finish(errMsg) {
    var p = pending;
    pending = null;
    if (!p) return;
    p.frame.remove();
    if (typeof p.callback === 'function') p.callback({ err_msg: errMsg });
  }
  function invoke(name, params, callback) {
    if (name !== 'getBrandWCPayRequest') {
      if (typeof callback === 'function') callback({ err_msg: name + ':fail the simulator only has getBrandWCPayRequest' });
      return;
    }
    if (pending) finish('get_brand_wcpay_request:cancel');
    var query = new URLSearchParams();
    FIELDS.forEach(function (k) { query.set(k, params && params[k] != null ? String(params[k]) : ''); });
    query.set('origin', location.origin);
    var frame = document.createElement('iframe');
    frame.id = 'wechat-cashier';
    frame.title = 'WeChat Pay';
    frame.src = SIMULATOR + '/simulator/cashier?' + query.toString();
    frame.style.cssText = 'position:fixed;left:0;right:0;bottom:0;width:100%;height:340px;border:0;z-index:2147483647;background:#fff;box-shadow:0 -4px 24px rgba(0,0,0,.3)';
    document.body.appendChild(frame);
    pending = { frame: frame, callback: callback };
  }
  window.addEventListener('message', function (event) {
    if (event.origin !== SIMULATOR || !pending || event.source !== pending.frame.contentWindow) return;
    var data = event.data || {};
    if (data.source !== 'wechat-cashier' || !/^get_brand_wcpay_request:(ok|fail|cancel)$/.test(data.err_msg)) return;
    finish(data.err_msg);
  });
  window.WeixinJSBridge = { invoke: invoke, on: function () {}, call: function () {} };
  document.dispatchEvent(new Event('WeixinJSBridgeReady'));
}());
`;
  return { status: 200, contentType: 'application/javascript; charset=utf-8', body: js, headers: { 'Cache-Control': 'no-store' } };
}

/** GET /simulator/cashier?appId&timeStamp&nonceStr&package&signType&paySign&origin */
export function cashierPage(req: SimRequest, orders: OrderBook, credentials: Credentials, now: Date): SimResponse {
  const q = req.url.searchParams;
  const params = Object.fromEntries(BRIDGE_FIELDS.map(k => [ k, q.get(k) ?? '' ])) as Record<typeof BRIDGE_FIELDS[number], string>;
  let origin = '';
  try {
    origin = new URL(q.get('origin') ?? '').origin;
  } catch {
    origin = '';
  }
  const problem = (() => {
    if (!origin || origin === 'null') return 'origin 参数错误';
    const missing = BRIDGE_FIELDS.find(k => !params[k]);
    if (missing) return `缺少参数：${missing}`;
    if (!/^\d{1,10}$/.test(params.timeStamp)) return 'timeStamp 参数错误';
    const prepayId = /^prepay_id=(.+)$/.exec(params.package)?.[1];
    const order = prepayId ? orders.all().find(o => o.prepayId === prepayId) : undefined;
    // WeChat's own wording for an unknown or expired prepay_id, or another app's.
    if (!order || order.appId !== params.appId || now >= order.prepayExpiresAt) return '缺少参数：total_fee';
    if (!isSignType(params.signType) || params.signType !== order.signType) return 'signType 与下单时不一致';
    const merchant = credentials.merchant(order.mchId);
    const expected = sign({ appId: params.appId, nonceStr: params.nonceStr, package: params.package, signType: params.signType, timeStamp: params.timeStamp },
      merchant!.apiKey, params.signType);
    if (expected !== params.paySign) return '支付验证签名失败 (paySign)';
    if (order.tradeState === 'SUCCESS' || order.tradeState === 'REFUND') return '该订单已支付';
    if (order.tradeState === 'CLOSED') return '该订单已关闭';
    return { order };
  })();
  if (typeof problem === 'string') {
    const text = problem;
    const res = htmlResponse(cashierHtml(origin, `<p class="error" id="cashier-error">${esc(text)}</p>
<div class="buttons"><button id="close" type="button" data-report="fail">Close</button></div>`));
    return { ...res, status: 400 };
  }
  const { order } = problem;
  return htmlResponse(cashierHtml(origin, `<p class="muted">${esc(order.params.body ?? '')}</p>
<p class="amount" id="cashier-amount">¥${fenToYuan(order.totalFee)}</p>
<p><label>coupon (fen) <input id="coupon" type="number" min="0" step="1" value="0"></label></p>
<p class="error" id="cashier-error" hidden></p>
<div class="buttons">
<button id="pay" type="button" data-result="SUCCESS" data-report="ok" data-order="${esc(order.outTradeNo)}">Pay</button>
<button id="fail" type="button" data-result="FAIL" data-report="fail" data-order="${esc(order.outTradeNo)}">Fail (insufficient balance)</button>
<button id="cancel" type="button" data-report="cancel">Cancel</button>
</div>`));
}

function cashierHtml(origin: string, content: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>WeChat Pay (simulator)</title>
<style>
body { font: 15px system-ui, sans-serif; margin: 1em 1.5em; color: #222; }
h1 { font-size: 1.1em; } .amount { font-size: 2em; margin: .2em 0; } .muted { color: #666; } .error { color: #b42318; }
button { font: inherit; padding: .5em 1em; margin-right: .5em; cursor: pointer; } #pay { background: #07c160; color: #fff; border: 0; }
</style></head>
<body>
<h1>WeChat Pay <small class="muted">(simulator)</small></h1>
${content}
<script>
(function () {
  var ORIGIN = ${JSON.stringify(origin)};
  function report(what) {
    if (ORIGIN) parent.postMessage({ source: 'wechat-cashier', err_msg: 'get_brand_wcpay_request:' + what }, ORIGIN);
  }
  document.addEventListener('click', async function (event) {
    var button = event.target.closest('button[data-report]');
    if (!button) return;
    if (!button.dataset.result) return report(button.dataset.report);
    document.querySelectorAll('button').forEach(function (b) { b.disabled = true; });
    var couponFee = Number(document.getElementById('coupon').value) || 0;
    var body = { outTradeNo: button.dataset.order, result: button.dataset.result };
    if (button.dataset.result === 'SUCCESS' && couponFee > 0) body.coupons = [ { fee: couponFee } ];
    try {
      var res = await fetch('/simulator/pay', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
      var data = await res.json();
      if (!res.ok) throw new Error(data.message || res.statusText);
      report(button.dataset.report);
    } catch (err) {
      var box = document.getElementById('cashier-error');
      box.textContent = err.message;
      box.hidden = false;
      document.querySelectorAll('button').forEach(function (b) { b.disabled = false; });
    }
  });
}());
</script>
</body></html>
`;
}

function esc(text: string): string {
  return text.replace(/[&<>"']/g, c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]!));
}
