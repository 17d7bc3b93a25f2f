/*
 * The web shop's page (/demo/web), and the page WeChat's H5 cashier sends the payer back to
 * (/demo/h5-return?outTradeNo=...). A guest session (POST /api/web/session) in the tab's storage;
 * NATIVE orders show their QR code (fetched with the session, as the route checks the owner) and
 * poll the order's status; MWEB orders go to mweb_url. The return page never takes the return
 * as proof of payment: it asks GET /payment/orders/:outTradeNo, which queries WeChat.
 */
(function() {
  'use strict';
  const TOKEN_KEY = 'wxpay.webToken';
  const $ = id => document.getElementById(id);
  const yuan = fen => '¥' + (fen / 100).toFixed(2);

  async function api(method, path, body, extraHeaders) {
    const headers = Object.assign({ Authorization: 'Bearer ' + sessionStorage.getItem(TOKEN_KEY) }, extraHeaders || {});
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    if (!res.ok) {
      const problem = await res.json().catch(() => ({}));
      const err = new Error(problem.message || res.statusText);
      err.code = problem.code;
      err.status = res.status;
      throw err;
    }
    return res;
  }

  async function ensureSession() {
    if (sessionStorage.getItem(TOKEN_KEY)) {
      $('session').textContent = 'Guest session (this tab).';
      return;
    }
    const res = await fetch('/api/web/session', { method: 'POST' });
    if (!res.ok) throw new Error('could not start a guest session: HTTP ' + res.status);
    sessionStorage.setItem(TOKEN_KEY, (await res.json()).token);
    $('session').textContent = 'Guest session (this tab).';
  }

  function showError(err) {
    $('error').textContent = err.message;
    $('error').hidden = false;
  }

  async function loadProducts() {
    const { products } = await (await fetch('/api/products')).json();
    $('products').innerHTML = '';
    for (const p of products) {
      const li = document.createElement('li');
      li.className = 'product';
      li.dataset.productId = p.id;
      li.innerHTML = '<span><span class="name"></span> <span class="price"></span></span><span class="buttons">' +
        '<button type="button" class="buy-qr primary">Pay by QR code</button> <button type="button" class="buy-h5">Pay on mobile</button></span>';
      li.querySelector('.name').textContent = p.name;
      li.querySelector('.price').textContent = yuan(p.priceFen);
      li.querySelector('.buy-qr').onclick = () => buy(p, 'NATIVE').catch(showError);
      li.querySelector('.buy-h5').onclick = () => buy(p, 'MWEB').catch(showError);
      $('products').appendChild(li);
    }
  }

  function idempotencyKey() {
    return 'web-' + Date.now().toString(36) + '-' + Math.random().toString(36).slice(2, 10);
  }

  async function buy(product, tradeType) {
    $('error').hidden = true;
    const res = await api('POST', '/payment/order', { items: [{ productId: product.id, quantity: 1 }], tradeType },
      { 'Idempotency-Key': idempotencyKey() });
    const order = await res.json();
    if (tradeType === 'MWEB') {
      // WeChat's cashier; it comes back to the configured return page with ?outTradeNo=.
      location.href = order.mwebUrl;
      return;
    }
    $('checkout').hidden = false;
    $('out-trade-no').textContent = order.outTradeNo;
    $('amount').textContent = yuan(product.priceFen);
    $('result').hidden = true;
    setStatus('NOTPAY');
    await showQr(order);
    watch(order.outTradeNo);
  }

  async function showQr(order) {
    const img = $('qr-img');
    const blob = await (await api('GET', order.qrCode.svg)).blob();
    const loaded = new Promise((resolve, reject) => { img.onload = resolve; img.onerror = () => reject(new Error('the QR code did not load')); });
    img.src = URL.createObjectURL(blob);
    await loaded;
    img.dataset.loaded = 'true';
    $('qr-expires').textContent = new Date(order.codeUrlExpiresAt).toLocaleTimeString();
    $('qr').hidden = false;
  }

  function setStatus(status) {
    $('status').textContent = status;
    $('status').className = 'badge ' + status;
  }

  let watching = 0;
  /** Polls the order's status once a second until it is no longer NOTPAY. */
  function watch(outTradeNo) {
    const mine = ++watching;
    const tick = async () => {
      if (mine !== watching) return;
      try {
        const order = await (await api('GET', '/payment/orders/' + encodeURIComponent(outTradeNo))).json();
        setStatus(order.status);
        if (order.status === 'SUCCESS') {
          $('qr').hidden = true;
          $('result').textContent = 'Payment successful.';
          $('result').className = 'result PAID';
          $('result').hidden = false;
          return;
        }
        if (order.status !== 'NOTPAY') return;
      } catch (err) {
        showError(err);
      }
      setTimeout(tick, 1000);
    };
    tick();
  }

  /** The H5 return page: the order's status from the service (which asks WeChat), a few tries, then a button. */
  async function checkReturn(outTradeNo) {
    $('shop').hidden = true;
    $('h5-return').hidden = false;
    $('return-order').textContent = outTradeNo;
    const out = $('return-status');
    out.dataset.state = 'checking';
    out.className = 'result PENDING';
    out.textContent = 'Checking the payment with the shop…';
    $('check-again').hidden = true;
    for (let i = 0; i < 10; i++) {
      try {
        const order = await (await api('GET', '/payment/orders/' + encodeURIComponent(outTradeNo))).json();
        if (order.status === 'SUCCESS') {
          out.dataset.state = 'paid';
          out.className = 'result PAID';
          out.textContent = 'Paid. Thank you!';
          return;
        }
        if (order.status === 'CLOSED') break;
      } catch (err) {
        out.textContent = 'Could not check the payment: ' + err.message;
        break;
      }
      await new Promise(resolve => setTimeout(resolve, 1000));
    }
    out.dataset.state = 'unpaid';
    out.textContent = 'Not paid yet. If you paid, check again in a moment.';
    $('check-again').hidden = false;
    $('check-again').onclick = () => checkReturn(outTradeNo);
  }

  async function main() {
    const config = await (await fetch('/demo/config')).json();
    $('scan-link').href = config.simulatorUrl + '/simulator/scan';
    await ensureSession();
    const back = new URLSearchParams(location.search).get('outTradeNo');
    if (location.pathname === '/demo/h5-return' && back) {
      await checkReturn(back);
    } else {
      await loadProducts();
    }
    document.body.dataset.ready = 'true';
  }

  main().catch(showError);
})();
