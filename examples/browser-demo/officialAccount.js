/*
 * The browser demo's official-account mode (/demo?mode=oa): the page plays an H5 shop opened in
 * WeChat's browser. Login is OAuth (GET /oauth/wechat/authorize, through the simulator's authorize
 * page, back with the token in the URL fragment); paying is the unified order's bridge parameters
 * handed to WeixinJSBridge.invoke('getBrandWCPayRequest'), whose stand-in the WeChat simulator
 * serves (/simulator/jsbridge.js). get_brand_wcpay_request:ok is no proof of payment: the page
 * asks the service (GET /payment/orders/:outTradeNo) until the order is SUCCESS.
 * Everything here is this mode's own; the mini-program mode is demo.js.
 */
(function() {
  'use strict';

  if (new URLSearchParams(location.search).get('mode') !== 'oa') return;

  const $ = id => document.getElementById(id);
  const TOKEN_KEY = 'wxpay.oaToken';
  const POLL_MS = 1000;
  const MAX_POLLS = 15;
  const state = { token: sessionStorage.getItem(TOKEN_KEY) || '', product: null, outTradeNo: null, idempotencyKey: null };

  // ---- page chrome --------------------------------------------------------------------------

  function log(method, url, status, body) {
    const li = document.createElement('li');
    const m = Object.assign(document.createElement('span'), { className: 'method', textContent: method });
    const s = Object.assign(document.createElement('span'), { className: `status s${String(status)[0]}`, textContent: status === 0 ? 'failed' : String(status) });
    const p = Object.assign(document.createElement('code'), { textContent: new URL(url, location.href).pathname });
    const w = Object.assign(document.createElement('span'), { className: 'who', textContent: 'official-account page' });
    li.append(m, s, p, w);
    if (body !== undefined && body !== '') li.append(Object.assign(document.createElement('pre'), { textContent: JSON.stringify(body, null, 1) }));
    $('log').prepend(li);
  }

  function show(id, text, className) {
    $(id).textContent = text;
    $(id).className = className;
    $(id).hidden = !text;
  }

  function step(text) {
    $('oa-steps').append(Object.assign(document.createElement('li'), { textContent: text }));
  }

  function showStatus(status) {
    $('oa-status').textContent = status;
    $('oa-status').className = `badge ${status}`;
  }

  const yuan = fen => (fen / 100).toFixed(2);

  // ---- the service ---------------------------------------------------------------------------

  async function call(method, path, body, headers) {
    const res = await fetch(path, {
      method,
      headers: Object.assign({ 'content-type': 'application/json', authorization: `Bearer ${state.token}` }, headers || {}),
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const data = await res.json().catch(() => ({}));
    log(method, path, res.status, data);
    if (!res.ok) throw Object.assign(new Error(data.message || `HTTP ${res.status}`), { code: data.code, status: res.status });
    return data;
  }

  // ---- login: OAuth, the token comes back in the fragment ---------------------------------------

  /** After the callback: #token=...&expiresIn=... Kept for the tab, and cleared from the address bar. */
  function takeTokenFromFragment() {
    const hash = new URLSearchParams(location.hash.slice(1));
    if (!hash.get('token')) return;
    state.token = hash.get('token');
    sessionStorage.setItem(TOKEN_KEY, state.token);
    history.replaceState(null, '', location.pathname + location.search);
  }

  function login() {
    const back = `${location.origin}/demo?mode=oa`;
    location.href = `/oauth/wechat/authorize?redirect=${encodeURIComponent(back)}`;
  }

  // ---- WeixinJSBridge: WeChat's browser has it; here the simulator's script provides it ----------

  function loadBridge(simulatorUrl) {
    return new Promise((resolve, reject) => {
      if (window.WeixinJSBridge) return resolve();
      document.addEventListener('WeixinJSBridgeReady', () => resolve(), { once: true });
      const script = Object.assign(document.createElement('script'), { src: `${simulatorUrl}/simulator/jsbridge.js` });
      script.onerror = () => reject(new Error('the simulator\'s WeixinJSBridge did not load'));
      document.head.append(script);
    });
  }

  /** The documented call, with the reply's six fields as they are. */
  function bridgePay(params) {
    return new Promise(resolve => {
      window.WeixinJSBridge.invoke('getBrandWCPayRequest', {
        appId: params.appId, timeStamp: params.timeStamp, nonceStr: params.nonceStr,
        package: params.package, signType: params.signType, paySign: params.paySign,
      }, res => resolve(res.err_msg));
    });
  }

  // ---- ordering and paying -----------------------------------------------------------------------

  async function pollUntilPaid() {
    for (let poll = 1; poll <= MAX_POLLS; poll++) {
      const order = await call('GET', `/payment/orders/${state.outTradeNo}`);
      showStatus(order.status);
      step(`poll ${poll}: ${order.status}`);
      if (order.status === 'SUCCESS' || order.status === 'REFUND') return order;
      await new Promise(r => setTimeout(r, POLL_MS));
    }
    return null;
  }

  async function pay(first) {
    show('oa-error', '', 'error');
    show('oa-result', '', 'result');
    $('oa-pay').hidden = true;
    try {
      let params;
      if (first) {
        step(`POST /payment/order (Idempotency-Key ${state.idempotencyKey})`);
        params = await call('POST', '/payment/order', { items: [{ productId: state.product.id, quantity: 1 }] }, { 'idempotency-key': state.idempotencyKey });
        state.outTradeNo = params.outTradeNo;
        $('oa-out-trade-no').textContent = params.outTradeNo;
      } else {
        params = await call('POST', `/payment/orders/${state.outTradeNo}/pay`);
      }
      showStatus('NOTPAY');
      step(`WeixinJSBridge.invoke('getBrandWCPayRequest') for appId ${params.appId}`);
      const errMsg = await bridgePay(params);
      step(`bridge: ${errMsg}`);
      if (errMsg === 'get_brand_wcpay_request:ok') {
        const order = await pollUntilPaid();
        if (order) show('oa-result', 'Payment successful.', 'result PAID');
        else show('oa-result', 'WeChat said ok, but the service has not seen the payment yet. Check again later.', 'result PENDING');
      } else if (errMsg === 'get_brand_wcpay_request:cancel') {
        show('oa-result', 'Payment cancelled. You can pay again.', 'result CANCELLED');
      } else {
        show('oa-result', `Payment failed (${errMsg}). You can try again.`, 'result FAILED');
      }
      $('oa-pay').hidden = $('oa-result').classList.contains('PAID');
    } catch (err) {
      show('oa-error', `${err.message}${err.code ? ` (${err.code})` : ''}`, 'error');
      if (err.status === 401) showLoggedOut();
      $('oa-pay').hidden = !state.outTradeNo;
    }
  }

  function buy(product) {
    state.product = product;
    state.outTradeNo = null;
    state.idempotencyKey = `oa-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
    $('oa-order-summary').textContent = `${product.name} × 1`;
    $('oa-order-total').textContent = `¥${yuan(product.priceFen)}`;
    $('oa-out-trade-no').textContent = 'not placed yet';
    $('oa-steps').textContent = '';
    showStatus('—');
    $('oa-shop').hidden = true;
    $('oa-order').hidden = false;
    pay(true);
  }

  async function showProducts() {
    const res = await fetch('/api/products');
    const { products } = await res.json();
    log('GET', '/api/products', res.status, { products });
    const list = $('oa-products');
    list.textContent = '';
    for (const p of products) {
      const li = Object.assign(document.createElement('li'), { className: 'product' });
      li.dataset.productId = String(p.id);
      const info = document.createElement('div');
      info.append(Object.assign(document.createElement('div'), { className: 'name', textContent: p.name }),
        Object.assign(document.createElement('div'), { className: 'price', textContent: `¥${yuan(p.priceFen)}` }));
      const button = Object.assign(document.createElement('button'), { type: 'button', className: 'primary buy', textContent: 'Buy' });
      button.addEventListener('click', () => buy(p));
      li.append(info, button);
      list.append(li);
    }
  }

  function showLoggedOut() {
    state.token = '';
    sessionStorage.removeItem(TOKEN_KEY);
    $('oa-session').textContent = 'Not logged in.';
  }

  async function start() {
    document.querySelectorAll('main > .phone:not(#oa)').forEach(el => { el.hidden = true; });
    $('oa').hidden = false;
    $('oa-login').addEventListener('click', login);
    $('oa-pay').addEventListener('click', () => pay(false));
    $('oa-back').addEventListener('click', () => { $('oa-order').hidden = true; $('oa-shop').hidden = false; });
    takeTokenFromFragment();
    try {
      const config = await (await fetch('/demo/config')).json();
      await loadBridge(config.simulatorUrl);
      if (state.token) {
        $('oa-session').textContent = 'Logged in with WeChat (official account).';
        $('oa-login').textContent = 'Log in again';
        await showProducts();
      }
    } catch (err) {
      show('oa-error', err.message, 'error');
    }
    document.body.dataset.oaReady = 'true';
  }

  start();
}());
