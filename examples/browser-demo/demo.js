/*
 * The browser demo: plays the mini-program with the example's own modules (window.miniprogram.api,
 * .checkout and .devLogin, served unchanged from examples/miniprogram/lib by /demo/assets) and a
 * `wx` made of browser parts: request() is fetch, storage is sessionStorage, login() takes a code
 * from the WeChat simulator (through /demo/login-code), requestPayment() opens a payment sheet
 * whose buttons act as the payer in the simulator (through /demo/pay, so the page needs no CORS
 * from the simulator's port).
 */
(function() {
  'use strict';

  const { createApi } = window.miniprogram.api;
  const {
    createCheckout, newIdempotencyKey, describeOutcome, resultOf, outcomeOfRefusal, RESULT, NEW_ORDER_CODES,
  } = window.miniprogram.checkout;
  const { devOpenid } = window.miniprogram.devLogin;
  const $ = id => document.getElementById(id);

  const LIVE_WATCH_MS = 1000;

  const state = {
    products: [],
    items: null,
    totalFen: 0,
    idempotencyKey: null,
    outTradeNo: null,
    busy: false,
  };

  // ---- the HTTP log -------------------------------------------------------------------------

  function logCall(method, url, status, body, who) {
    const li = document.createElement('li');
    const m = document.createElement('span');
    m.className = 'method';
    m.textContent = method;
    const s = document.createElement('span');
    s.className = `status s${String(status)[0]}`;
    s.textContent = status === 0 ? 'failed' : String(status);
    const path = document.createElement('code');
    path.textContent = new URL(url, location.href).pathname;
    li.append(m, s, path);
    if (who) {
      const w = document.createElement('span');
      w.className = 'who';
      w.textContent = who;
      li.append(w);
    }
    if (body !== undefined && body !== '') {
      const pre = document.createElement('pre');
      pre.textContent = typeof body === 'string' ? body : JSON.stringify(body, null, 1);
      li.append(pre);
    }
    $('log').prepend(li);
    while ($('log').children.length > 60) $('log').lastChild.remove();
  }

  /** The demo's own calls (simulator through the service), not the mini-program's. */
  async function demoPost(path, body) {
    let res;
    try {
      res = await fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    } catch (err) {
      logCall('POST', path, 0, err.message, 'demo → simulator');
      throw new Error(`network error: ${err.message}`);
    }
    const data = await res.json().catch(() => ({}));
    logCall('POST', path, res.status, data, 'demo → simulator');
    if (!res.ok) throw new Error(data.message || `HTTP ${res.status}`);
    return data;
  }

  // ---- wx, as far as the example uses it -----------------------------------------------------

  const wx = {
    /** The simulated user is the mini-program's dev user (lib/devLogin.js): one per browser tab. */
    login({ success, fail }) {
      demoPost('/demo/login-code', { openid: devOpenid(wx) }).then(
        data => success({ code: data.code, errMsg: 'login:ok' }),
        err => fail({ errMsg: `login:fail ${err.message}` }));
    },

    request({ url, method, data, header, success, fail }) {
      const verb = (method || 'GET').toUpperCase();
      const hasBody = verb !== 'GET' && data !== undefined;
      fetch(url, { method: verb, headers: header, body: hasBody ? JSON.stringify(data) : undefined }).then(async res => {
        const text = await res.text();
        let body = text;
        try { body = JSON.parse(text); } catch (e) { /* not JSON: keep the text, as wx.request does */ }
        logCall(verb, url, res.status, body, 'mini-program');
        success({ statusCode: res.status, data: body, header: {} });
      }, err => {
        logCall(verb, url, 0, err.message, 'mini-program');
        fail({ errMsg: `request:fail ${err.message}` });
      });
    },

    requestPayment(params) {
      openSheet(params);
    },

    getStorageSync(key) {
      return sessionStorage.getItem(key) || '';
    },
    setStorageSync(key, value) {
      if (value) sessionStorage.setItem(key, value);
      else sessionStorage.removeItem(key);
    },
  };

  const api = createApi({ wx, baseUrl: location.origin });
  const checkout = createCheckout({ wx, api, pollIntervalMs: 1000, maxPolls: 15 });

  // ---- the payment sheet: wx.requestPayment() -------------------------------------------------

  let sheet = null;

  function openSheet(params) {
    const fields = $('sheet-fields');
    fields.textContent = '';
    for (const name of [ 'timeStamp', 'nonceStr', 'package', 'signType', 'paySign' ]) {
      const dt = document.createElement('dt');
      dt.textContent = name;
      const dd = document.createElement('dd');
      dd.textContent = params[name];
      fields.append(dt, dd);
    }
    $('sheet-amount').textContent = `¥${yuan(state.totalFen)}`;
    $('sheet-error').hidden = true;
    setSheetButtons(false);
    $('sheet').hidden = false;
    sheet = { params, timer: null };
    watchWhileSheetOpen();
  }

  function closeSheet(outcome) {
    if (!sheet) return;
    const { params, timer } = sheet;
    clearTimeout(timer);
    sheet = null;
    $('sheet').hidden = true;
    if (outcome.ok) params.success({ errMsg: 'requestPayment:ok' });
    else params.fail({ errMsg: outcome.errMsg });
  }

  function setSheetButtons(disabled) {
    for (const id of [ 'sheet-pay', 'sheet-fail', 'sheet-cancel' ]) $(id).disabled = disabled;
  }

  /** Paid in the simulator's own page? The order's status says so: close the sheet as WeChat would. */
  function watchWhileSheetOpen() {
    const current = sheet;
    current.timer = setTimeout(async () => {
      if (sheet !== current) return;
      try {
        const order = await checkout.getOrder(state.outTradeNo);
        showStatus(order.status);
        if (sheet === current && order.status === 'SUCCESS') return closeSheet({ ok: true });
      } catch (e) {
        // A failed look is not the payer's answer: keep the sheet open and look again.
      }
      if (sheet === current) watchWhileSheetOpen();
    }, LIVE_WATCH_MS);
  }

  async function payerActs(result) {
    setSheetButtons(true);
    try {
      await demoPost('/demo/pay', { outTradeNo: state.outTradeNo, result });
      closeSheet(result === 'SUCCESS' ? { ok: true } : { ok: false, errMsg: 'requestPayment:fail insufficient balance' });
    } catch (err) {
      $('sheet-error').textContent = err.message;
      $('sheet-error').hidden = false;
      setSheetButtons(false);
    }
  }

  $('sheet-pay').addEventListener('click', () => payerActs('SUCCESS'));
  $('sheet-fail').addEventListener('click', () => payerActs('FAIL'));
  $('sheet-cancel').addEventListener('click', () => closeSheet({ ok: false, errMsg: 'requestPayment:fail cancel' }));

  // ---- pages ----------------------------------------------------------------------------------

  function yuan(fen) {
    return (fen / 100).toFixed(2);
  }

  function showStatus(status) {
    const badge = $('status');
    badge.textContent = status;
    badge.className = `badge ${status}`;
  }

  function step(text) {
    const li = document.createElement('li');
    li.textContent = text;
    $('steps').append(li);
  }

  function showMessage(id, text, className) {
    $(id).textContent = text;
    $(id).className = className;
    $(id).hidden = !text;
  }

  async function loadProducts() {
    try {
      const { products } = await api.request({ method: 'GET', path: '/api/products', auth: false });
      state.products = products;
      const list = $('products');
      list.textContent = '';
      for (const p of products) {
        const li = document.createElement('li');
        li.className = 'product';
        li.dataset.productId = String(p.id);
        const info = document.createElement('div');
        const name = document.createElement('div');
        name.className = 'name';
        name.textContent = p.name;
        const price = document.createElement('div');
        price.className = 'price';
        price.textContent = `¥${yuan(p.priceFen)}`;
        info.append(name, price);
        const actions = document.createElement('div');
        const quantity = document.createElement('input');
        Object.assign(quantity, { type: 'number', min: '1', max: '99', value: '1', className: 'quantity' });
        quantity.setAttribute('aria-label', `quantity of ${p.name}`);
        const buy = document.createElement('button');
        Object.assign(buy, { type: 'button', className: 'primary buy', textContent: 'Buy' });
        buy.addEventListener('click', () => openOrder(p, Math.max(1, Math.min(99, Number(quantity.value) || 1))));
        actions.append(quantity, buy);
        li.append(info, actions);
        list.append(li);
      }
    } catch (err) {
      $('products').textContent = '';
      showMessage('products-error', `${err.message}`, 'error');
    }
  }

  async function login() {
    $('login').disabled = true;
    try {
      const user = await api.login();
      showSession(user);
    } catch (err) {
      $('session').textContent = `Login failed: ${err.message}`;
    }
    $('login').disabled = false;
  }

  function showSession(user) {
    $('session').textContent = `Logged in as ${user.openid} (user ${user.id})`;
    $('login').textContent = 'Log in again';
  }

  function openOrder(product, quantity) {
    state.items = [{ productId: product.id, quantity }];
    state.totalFen = product.priceFen * quantity;
    // One key per checkout: Pay again after a cancel or an error answers the same order.
    state.idempotencyKey = newIdempotencyKey();
    state.outTradeNo = null;
    $('order-summary').textContent = `${product.name} × ${quantity}`;
    $('order-total').textContent = `¥${yuan(state.totalFen)}`;
    $('out-trade-no').textContent = 'not placed yet';
    showStatus('—');
    $('steps').textContent = '';
    showMessage('result', '', 'result');
    showMessage('error', '', 'error');
    $('pay').textContent = `Pay ¥${yuan(state.totalFen)}`;
    $('pay').hidden = false;
    $('check').hidden = true;
    $('shop').hidden = true;
    $('order').hidden = false;
  }

  function onStep(name, detail) {
    if (name === 'ordering') step(`POST /payment/order (Idempotency-Key ${detail.idempotencyKey})`);
    if (name === 'paying') {
      state.outTradeNo = detail.outTradeNo;
      $('out-trade-no').textContent = detail.outTradeNo;
      showStatus('NOTPAY');
      // The api logs in by itself (wx.login(), POST /api/login) when it has no token yet.
      if (!api.token) $('session').textContent = 'Not logged in.';
      else if ($('session').textContent === 'Not logged in.') {
        $('session').textContent = 'Logged in automatically on the first call.';
        $('login').textContent = 'Log in again';
      }
      step('wx.requestPayment() with timeStamp, nonceStr, package, signType, paySign');
    }
    if (name === 'confirming') step(`payment sheet: ok; polling GET /payment/orders/${detail.outTradeNo}`);
    if (name === 'polled') {
      showStatus(detail.order.status);
      step(`poll ${detail.poll}: ${detail.order.status}`);
    }
  }

  function showOutcome(outcome) {
    if (outcome.order) showStatus(outcome.order.status);
    if (outcome.errMsg) step(`payment sheet: ${outcome.errMsg}`);
    showMessage('result', describeOutcome(outcome), `result ${outcome.result}`);
    const finished = outcome.result === RESULT.PAID || outcome.result === RESULT.CLOSED;
    $('pay').hidden = finished;
    $('pay').textContent = `Pay again ¥${yuan(state.totalFen)}`;
    $('check').hidden = outcome.result !== RESULT.PENDING;
  }

  /** The service's own message; what can be done next depends on its code. */
  function showError(err) {
    const outcome = outcomeOfRefusal(err);
    if (outcome) {
      showOutcome(outcome);
      // The badge shows the order's own status (SUCCESS, or REFUND once refunded), not a guess.
      if (state.outTradeNo) checkout.getOrder(state.outTradeNo).then(order => showStatus(order.status), () => {});
      return;
    }
    // The same order cannot be paid any more: the next Pay places a new one.
    if (NEW_ORDER_CODES.indexOf(err.code) >= 0) state.idempotencyKey = newIdempotencyKey();
    const hint = err.retryable ? ' Press Pay to try again (same order).' : '';
    showMessage('error', `${err.message} (${err.code})${hint}`, 'error');
  }

  async function withBusy(fn) {
    if (state.busy) return;
    state.busy = true;
    for (const id of [ 'pay', 'check', 'back' ]) $(id).disabled = true;
    showMessage('error', '', 'error');
    try {
      await fn();
    } catch (err) {
      showError(err);
    } finally {
      state.busy = false;
      for (const id of [ 'pay', 'check', 'back' ]) $(id).disabled = false;
    }
  }

  $('login').addEventListener('click', login);
  $('pay').addEventListener('click', () => withBusy(async () => {
    showMessage('result', '', 'result');
    const outcome = await checkout.pay({ items: state.items, idempotencyKey: state.idempotencyKey, onStep });
    showOutcome(outcome);
  }));
  $('check').addEventListener('click', () => withBusy(async () => {
    const order = await checkout.pollOrder(state.outTradeNo, (o, poll) => onStep('polled', { order: o, poll }));
    showOutcome({ result: resultOf(order), order });
  }));
  $('back').addEventListener('click', () => {
    $('order').hidden = true;
    $('shop').hidden = false;
  });

  async function start() {
    try {
      const res = await fetch('/demo/config');
      const config = await res.json();
      for (const id of [ 'sim-link', 'sheet-sim-link' ]) $(id).href = config.simulatorPageUrl;
    } catch (e) {
      // Without the link the demo still works: the sheet's buttons reach the simulator through the service.
    }
    await loadProducts();
    document.body.dataset.ready = 'true';
  }

  start();
}());
