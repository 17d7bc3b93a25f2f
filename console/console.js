'use strict';
// The operator's console (docs/console.md). Plain JavaScript, no build step. Every action is a
// call to the admin API with the session cookie (HttpOnly: this script never sees it) and the
// CSRF token egg-security hands out in the csrfToken cookie, sent back as x-csrf-token. The admin
// token is typed once into the sign-in form, sent, and cleared: never stored.

(function() {
  const $ = selector => document.querySelector(selector);
  const views = [ 'signin', 'dashboard', 'orders', 'order', 'reconciliations', 'reconciliation' ];
  const charts = {};
  let searchCursor = null;
  let searchQuery = '';

  /** The CSRF token egg-security set for the console (cookie csrfToken, path /admin). */
  function csrfToken() {
    const match = /(?:^|;\s*)csrfToken=([^;]*)/.exec(document.cookie);
    return match ? decodeURIComponent(match[1]) : '';
  }

  class ApiError extends Error {
    constructor(status, body) {
      super(body && body.message ? `${body.code}: ${body.message}` : `HTTP ${status}`);
      this.status = status;
      this.code = body && body.code;
    }
  }

  /** A call to the admin API; resolves with the JSON reply (null for 204), rejects with ApiError. */
  async function api(method, url, body, headers) {
    const init = { method, credentials: 'same-origin', headers: Object.assign({ Accept: 'application/json' }, headers) };
    if (method !== 'GET') init.headers['x-csrf-token'] = csrfToken();
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    const res = await fetch(url, init);
    const reply = res.status === 204 ? null : await res.json().catch(() => null);
    if (res.status === 401 && url !== '/admin/session') {
      showSignIn('Your session has ended: sign in again.');
      throw new ApiError(res.status, reply);
    }
    if (!res.ok) throw new ApiError(res.status, reply);
    return { status: res.status, body: reply };
  }

  // --- formatting
  const yuan = fen => `¥${(fen / 100).toFixed(2)}`;
  const percent = value => (value === null ? '–' : `${(value * 100).toFixed(1)}%`);
  const seconds = value => (value === null ? '–' : `${value.toFixed(1)} s`);
  const when = iso => (iso ? new Date(iso).toLocaleString('sv-SE', { timeZone: 'Asia/Shanghai' }) : '–');
  /** "12.34" → 1234 fen, exactly (no floating point); null when not an amount. */
  function toFen(text) {
    const match = /^(\d{1,9})(?:\.(\d{1,2}))?$/.exec(text.trim());
    if (!match) return null;
    return Number(match[1]) * 100 + Number((match[2] || '').padEnd(2, '0'));
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [ key, value ] of Object.entries(attrs || {})) {
      if (key === 'class') node.className = value;
      else if (key === 'dataset') Object.assign(node.dataset, value);
      else node.setAttribute(key, value);
    }
    for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    return node;
  }

  function message(text, isError) {
    const node = $('#message');
    node.hidden = !text;
    node.textContent = text || '';
    node.className = isError ? 'message error' : 'message';
  }

  function show(view) {
    for (const name of views) $(`#view-${name}`).hidden = name !== view;
    document.body.dataset.view = view;
    for (const link of document.querySelectorAll('[data-nav]')) {
      link.classList.toggle('active', view.startsWith(link.dataset.nav.replace(/s$/, '')));
    }
  }

  function showSignIn(text) {
    $('#nav').hidden = true;
    message(text, Boolean(text));
    show('signin');
    $('#signin-token').focus();
  }

  // --- session
  async function signIn(event) {
    event.preventDefault();
    const input = $('#signin-token');
    const token = input.value;
    input.value = '';
    $('#signin-submit').disabled = true;
    try {
      const { body } = await api('POST', '/admin/session', { token });
      signedIn(body.expiresAt);
      message('');
      await route();
    } catch (err) {
      message(err.status === 401 ? 'Wrong admin token.' : `Sign-in failed: ${err.message}`, true);
    } finally {
      $('#signin-submit').disabled = false;
    }
  }

  function signedIn(expiresAt) {
    $('#nav').hidden = false;
    $('#session-expiry').textContent = expiresAt ? `session until ${when(expiresAt)}` : '';
    if (!location.hash || location.hash === '#/signin') location.hash = '#/dashboard';
  }

  async function signOut() {
    await api('DELETE', '/admin/session').catch(() => undefined);
    showSignIn('Signed out.');
  }

  // --- dashboard
  async function dashboard() {
    show('dashboard');
    const { body } = await api('GET', '/admin/dashboard?days=30');
    const today = body.today;
    $('#today-day').textContent = today.day;
    const shown = {
      amountTaken: yuan(today.amountTaken), payments: today.payments, refundAmount: yuan(today.refundAmount), refunds: today.refunds,
      ordersCreated: today.ordersCreated, paidShare: percent(today.paidShare), medianSecondsToPaid: seconds(today.medianSecondsToPaid),
      notificationsRefused: today.notificationsRefused,
    };
    for (const [ key, text ] of Object.entries(shown)) {
      const node = $(`#today-${key}`);
      node.textContent = text;
      node.dataset.value = today[key] === null ? '' : String(today[key]);
    }
    const labels = body.days.map(d => d.day.slice(5));
    drawChart('chart-amounts', 'bar', labels, [
      { label: 'taken', data: body.days.map(d => d.amountTaken / 100), backgroundColor: '#07c160' },
      { label: 'refunded', data: body.days.map(d => d.refundAmount / 100), backgroundColor: '#f0a23b' },
    ]);
    drawChart('chart-payments', 'bar', labels, [
      { label: 'payments', data: body.days.map(d => d.payments), backgroundColor: '#3b7ddd', yAxisID: 'y' },
      { label: 'share paid (%)', type: 'line', data: body.days.map(d => (d.paidShare === null ? null : d.paidShare * 100)), borderColor: '#07c160', yAxisID: 'y1' },
    ], { y1: { position: 'right', min: 0, max: 100, grid: { drawOnChartArea: false } } });
    drawChart('chart-time', 'line', labels, [
      { label: 'median (s)', data: body.days.map(d => d.medianSecondsToPaid), borderColor: '#7a5af8', spanGaps: true },
      { label: 'mean (s)', data: body.days.map(d => d.avgSecondsToPaid), borderColor: '#b9a8fb', borderDash: [ 4, 4 ], spanGaps: true },
    ]);
    drawChart('chart-refused', 'bar', labels, [
      { label: 'refused', data: body.days.map(d => d.notificationsRefused), backgroundColor: '#e05252' },
    ]);
    document.body.dataset.loaded = 'dashboard';
  }

  function drawChart(id, type, labels, datasets, scales) {
    if (charts[id]) charts[id].destroy();
    charts[id] = new window.Chart(document.getElementById(id), {
      type,
      data: { labels, datasets },
      options: { animation: false, responsive: true, maintainAspectRatio: false, scales: Object.assign({ y: { beginAtZero: true } }, scales) },
    });
  }

  // --- orders
  async function orders(query) {
    show('orders');
    const form = $('#search-form');
    const params = new URLSearchParams(query);
    for (const input of form.elements) if (input.name) input.value = params.get(input.name) || '';
    searchQuery = [ ...params ].filter(([ , v ]) => v).map(([ k, v ]) => `${k}=${encodeURIComponent(v)}`).join('&');
    searchCursor = null;
    $('#orders-table tbody').replaceChildren();
    await moreOrders();
  }

  async function moreOrders() {
    const url = `/admin/orders?${searchQuery}${searchCursor ? `${searchQuery ? '&' : ''}cursor=${searchCursor}` : ''}`;
    const { body } = await api('GET', url);
    const tbody = $('#orders-table tbody');
    for (const o of body.orders) {
      tbody.append(el('tr', { dataset: { order: o.outTradeNo } },
        el('td', {}, el('a', { href: `#/orders/${o.outTradeNo}` }, o.outTradeNo)),
        el('td', {}, el('span', { class: `status ${o.status}` }, o.status)),
        el('td', {}, yuan(o.totalFee)), el('td', {}, yuan(o.refundedFee)), el('td', {}, o.tradeType),
        el('td', {}, o.openid || '–'), el('td', {}, when(o.createdAt)), el('td', {}, when(o.paidAt))));
    }
    searchCursor = body.nextCursor;
    $('#orders-more').hidden = !searchCursor;
    $('#orders-empty').hidden = tbody.children.length > 0;
    document.body.dataset.loaded = 'orders';
  }

  function search(event) {
    event.preventDefault();
    const params = new URLSearchParams();
    for (const input of $('#search-form').elements) if (input.name && input.value.trim()) params.set(input.name, input.value.trim());
    const hash = `#/orders${params.toString() ? `?${params}` : ''}`;
    if (location.hash === hash) route();
    else location.hash = hash;
  }

  // --- one order
  let currentOrder = null;

  async function order(outTradeNo) {
    show('order');
    const { body } = await api('GET', `/admin/orders/${encodeURIComponent(outTradeNo)}`);
    renderOrder(body);
  }

  function renderOrder(detail) {
    currentOrder = detail;
    const o = detail.order;
    $('#order-no').textContent = o.outTradeNo;
    $('#order-status').textContent = o.status;
    $('#order-status').className = `status ${o.status}`;
    for (const [ key, value ] of Object.entries(detail.amounts)) {
      const node = $(`#amount-${key}`);
      node.textContent = yuan(value);
      node.dataset.value = String(value);
    }
    // What the order's own payment was made of, when WeChat reported coupons.
    const own = detail.payments.find(p => !p.extra);
    const facts = {
      amount: yuan(o.totalFee), ...(own && own.couponFee ? { cash: yuan(own.cashFee ?? 0), coupons: yuan(own.couponFee), settled: yuan(own.settlementTotalFee ?? o.totalFee) } : {}),
      channel: o.tradeType, appid: o.appid, openid: o.openid || '–', transactionId: o.transactionId || '–',
      created: when(o.createdAt), paid: when(o.paidAt), closed: when(o.closedAt), expires: when(o.expiresAt), body: o.body, attach: o.attach || '–',
    };
    $('#order-facts').replaceChildren(...Object.entries(facts).flatMap(([ k, v ]) => [ el('dt', {}, k), el('dd', {}, v) ]));
    $('#order-close').disabled = o.status !== 'NOTPAY';
    $('#refund-form').hidden = detail.amounts.refundable <= 0;
    $('#refunds-table tbody').replaceChildren(...detail.refunds.map(r => el('tr', { dataset: { refund: r.outRefundNo } },
      el('td', {}, r.outRefundNo), el('td', {}, yuan(r.amount)), el('td', {}, el('span', { class: `status ${r.status}` }, r.status)),
      el('td', { class: 'wrap' }, r.reason), el('td', {}, when(r.createdAt)),
      el('td', {}, r.status === 'PROCESSING' ? el('button', { type: 'button', class: 'refund-query', dataset: { refund: r.outRefundNo } }, 'Query WeChat') : ''))));
    $('#timeline').replaceChildren(...detail.timeline.map(entry => el('li', { class: `entry ${entry.kind}`, dataset: { kind: entry.kind } },
      el('time', { datetime: entry.at }, when(entry.at)), el('span', { class: 'kind' }, entry.kind), el('span', { class: 'summary' }, entry.summary),
      el('span', { class: 'detail' }, JSON.stringify(entry.detail)))));
    document.body.dataset.loaded = `order:${o.outTradeNo}`;
  }

  async function orderAction(path, label) {
    const outTradeNo = currentOrder.order.outTradeNo;
    try {
      const { body } = await api('POST', `/admin/orders/${outTradeNo}/${path}`);
      renderOrder(body);
      message(`${label}: the order is ${body.order.status}.`);
    } catch (err) {
      message(`${label} failed: ${err.message}`, true);
    }
  }

  /** One refund per click: the click makes its Idempotency-Key, so a retried request never refunds twice. */
  async function refund(event) {
    event.preventDefault();
    const outTradeNo = currentOrder.order.outTradeNo;
    const amount = toFen($('#refund-amount').value);
    const result = $('#refund-result');
    if (amount === null || amount < 1) {
      showResult('Enter an amount in yuan, such as 1.50.', true);
      return;
    }
    const key = `console-${crypto.randomUUID()}`;
    $('#refund-submit').disabled = true;
    try {
      const { body } = await api('POST', `/admin/orders/${outTradeNo}/refunds`, { amount, reason: $('#refund-reason').value }, { 'Idempotency-Key': key });
      showResult(`Refund ${body.outRefundNo} of ${yuan(body.amount)}: ${body.status}`);
      result.dataset.refund = body.outRefundNo;
      $('#refund-form').reset();
      await followRefund(outTradeNo, body.outRefundNo);
    } catch (err) {
      showResult(`Refund refused: ${err.message}`, true);
    } finally {
      $('#refund-submit').disabled = false;
    }
  }

  function showResult(text, isError) {
    const result = $('#refund-result');
    result.hidden = false;
    result.textContent = text;
    result.className = isError ? 'result error' : 'result';
    delete result.dataset.status;
  }

  /** Reloads the order until WeChat's answer about the refund arrives (its notification), for up to a minute. */
  async function followRefund(outTradeNo, outRefundNo) {
    const deadline = Date.now() + 60000;
    for (;;) {
      const { body } = await api('GET', `/admin/orders/${outTradeNo}`);
      if (currentOrder && currentOrder.order.outTradeNo !== outTradeNo) return;
      renderOrder(body);
      const found = body.refunds.find(r => r.outRefundNo === outRefundNo);
      if (found && found.status !== 'PROCESSING') {
        showResult(`Refund ${outRefundNo} of ${yuan(found.amount)}: ${found.status}`, found.status !== 'SUCCESS');
        $('#refund-result').dataset.status = found.status;
        return;
      }
      if (Date.now() > deadline) return;
      await new Promise(resolve => setTimeout(resolve, 500));
    }
  }

  async function queryRefund(outRefundNo) {
    try {
      const { body } = await api('POST', `/admin/refunds/${encodeURIComponent(outRefundNo)}/query`);
      message(`Refund ${outRefundNo}: ${body.refund.status}${body.queried ? ' (asked WeChat)' : ''}.`);
      await order(currentOrder.order.outTradeNo);
    } catch (err) {
      message(`Refund query failed: ${err.message}`, true);
    }
  }

  // --- reconciliation
  async function reconciliations() {
    show('reconciliations');
    const { body } = await api('GET', '/admin/reconciliations');
    const tbody = $('#reconciliations-table tbody');
    tbody.replaceChildren(...body.reconciliations.map(r => el('tr', { dataset: { day: r.billDate } },
      el('td', {}, el('a', { href: `#/reconciliations/${r.billDate}` }, r.billDate)),
      el('td', {}, el('span', { class: `status ${r.status}` }, r.status)), el('td', {}, r.discrepancyCount),
      el('td', {}, r.bill ? `${r.bill.paymentCount} · ${yuan(r.bill.paymentTotal)}` : '–'),
      el('td', {}, `${r.local.paymentCount} · ${yuan(r.local.paymentTotal)}`),
      el('td', {}, r.bill ? `${r.bill.refundCount} · ${yuan(r.bill.refundTotal)}` : '–'),
      el('td', {}, `${r.local.refundCount} · ${yuan(r.local.refundTotal)}`), el('td', {}, when(r.finishedAt)))));
    $('#reconciliations-empty').hidden = body.reconciliations.length > 0;
    document.body.dataset.loaded = 'reconciliations';
  }

  function renderReconciliation(r) {
    show('reconciliation');
    $('#rec-day').textContent = r.billDate;
    $('#rec-status').textContent = r.status;
    $('#rec-status').className = `status ${r.status}`;
    $('#rec-error').hidden = !r.error;
    $('#rec-error').textContent = r.error || '';
    const totals = {
      'bill payments': r.bill ? `${r.bill.paymentCount} · ${yuan(r.bill.paymentTotal)}` : 'no bill',
      'our payments': `${r.local.paymentCount} · ${yuan(r.local.paymentTotal)}`,
      'bill refunds': r.bill ? `${r.bill.refundCount} · ${yuan(r.bill.refundTotal)}` : 'no bill',
      'our refunds': `${r.local.refundCount} · ${yuan(r.local.refundTotal)}`,
      'WeChat fees': r.bill ? yuan(r.bill.feeTotal) : '–',
      finished: when(r.finishedAt),
    };
    $('#rec-totals').replaceChildren(...Object.entries(totals).flatMap(([ k, v ]) => [ el('dt', {}, k), el('dd', {}, v) ]));
    $('#discrepancies-table tbody').replaceChildren(...r.discrepancies.map(d => el('tr', {},
      el('td', {}, d.kind), el('td', {}, d.subject),
      el('td', {}, d.orderOutTradeNo ? el('a', { href: `#/orders/${d.orderOutTradeNo}`, class: 'order-link' }, d.orderOutTradeNo) : '–'),
      el('td', {}, d.outRefundNo || d.outTradeNo), el('td', { class: 'wrap' }, d.message))));
    $('#discrepancies-empty').hidden = r.discrepancies.length > 0;
    document.body.dataset.loaded = `reconciliation:${r.billDate}`;
  }

  async function reconciliation(day) {
    const { body } = await api('GET', `/admin/reconciliations/${day}`);
    renderReconciliation(body);
  }

  async function rerun(day) {
    try {
      const { body } = await api('POST', `/admin/reconciliations/${day}/run`);
      message(`${day} reconciled again: ${body.status}.`);
      if (location.hash === `#/reconciliations/${day}`) renderReconciliation(body);
      else location.hash = `#/reconciliations/${day}`;
    } catch (err) {
      message(`Reconciliation of ${day} failed: ${err.message}`, true);
    }
  }

  // --- routing: #/dashboard, #/orders?..., #/orders/<no>, #/reconciliations, #/reconciliations/<day>
  async function route() {
    const hash = location.hash.replace(/^#/, '') || '/dashboard';
    const [ path, query ] = hash.split('?');
    const parts = path.split('/').filter(Boolean);
    try {
      if (parts[0] === 'orders' && parts[1]) await order(decodeURIComponent(parts[1]));
      else if (parts[0] === 'orders') await orders(query || '');
      else if (parts[0] === 'reconciliations' && parts[1]) await reconciliation(parts[1]);
      else if (parts[0] === 'reconciliations') await reconciliations();
      else await dashboard();
    } catch (err) {
      if (err.status !== 401) message(err.message, true);
    }
  }

  async function start() {
    $('#signin-form').addEventListener('submit', signIn);
    $('#sign-out').addEventListener('click', signOut);
    $('#search-form').addEventListener('submit', search);
    $('#orders-more').addEventListener('click', () => moreOrders().catch(err => message(err.message, true)));
    $('#order-query').addEventListener('click', () => orderAction('query', 'Query'));
    $('#order-close').addEventListener('click', () => orderAction('close', 'Close'));
    $('#refund-form').addEventListener('submit', refund);
    $('#refunds-table').addEventListener('click', event => {
      const button = event.target.closest('button.refund-query');
      if (button) queryRefund(button.dataset.refund);
    });
    $('#rerun-form').addEventListener('submit', event => {
      event.preventDefault();
      rerun($('#rerun-day').value);
    });
    $('#rec-rerun').addEventListener('click', () => rerun($('#rec-day').textContent));
    window.addEventListener('hashchange', () => {
      message('');
      if (!$('#nav').hidden) route();
    });
    try {
      const { body } = await api('GET', '/admin/session');
      signedIn(body.expiresAt);
      await route();
    } catch (err) {
      if (err.status === 401) showSignIn('');
      else message(`The console could not start: ${err.message}`, true);
    }
    document.body.dataset.ready = 'true';
  }

  start();
}());
