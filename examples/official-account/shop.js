/*
 * An official-account (公众号) shop page, opened in WeChat's browser. Login: OAuth (snsapi_base)
 * through the service, which sends the browser back here with the session token in the URL
 * fragment. Paying: the service's order reply handed unchanged to WeixinJSBridge's
 * getBrandWCPayRequest. WeChat's "ok" is not proof of payment: the page asks the service.
 * API: docs/official-account.md. Plain browser JavaScript, no build step.
 */
(function() {
  'use strict';

  const API = location.origin; // the service, on the page's origin (the callback domain must be the account's web-authorisation domain)
  const TOKEN_KEY = 'shop.token';
  const $ = function(id) { return document.getElementById(id); };

  function say(text) { $('message').textContent = text; }

  /** The token the OAuth callback put in the fragment: kept for the tab, cleared from the address bar. */
  function token() {
    const hash = new URLSearchParams(location.hash.slice(1));
    if (hash.get('token')) {
      sessionStorage.setItem(TOKEN_KEY, hash.get('token'));
      history.replaceState(null, '', location.pathname + location.search);
    }
    return sessionStorage.getItem(TOKEN_KEY);
  }

  function login() {
    const back = location.origin + location.pathname + location.search;
    location.replace(API + '/oauth/wechat/authorize?redirect=' + encodeURIComponent(back));
  }

  function api(method, path, body, headers) {
    const h = Object.assign({ 'Content-Type': 'application/json', Authorization: 'Bearer ' + token() }, headers || {});
    return fetch(API + path, { method, headers: h, body: body ? JSON.stringify(body) : undefined }).then(function(res) {
      return res.json().then(function(data) {
        if (res.status === 401) { sessionStorage.removeItem(TOKEN_KEY); login(); }
        if (!res.ok) throw new Error(data.message + ' (' + data.code + ')');
        return data;
      });
    });
  }

  /** WeixinJSBridge exists once WeChat's browser fires WeixinJSBridgeReady. */
  function bridge() {
    return new Promise(function(resolve) {
      if (typeof WeixinJSBridge !== 'undefined') return resolve(WeixinJSBridge);
      document.addEventListener('WeixinJSBridgeReady', function() { resolve(WeixinJSBridge); }, false);
    });
  }

  function requestPayment(p) {
    return bridge().then(function(jsBridge) {
      return new Promise(function(resolve) {
        jsBridge.invoke('getBrandWCPayRequest', {
          appId: p.appId, timeStamp: p.timeStamp, nonceStr: p.nonceStr, package: p.package, signType: p.signType, paySign: p.paySign,
        }, function(res) { resolve(res.err_msg); });
      });
    });
  }

  /** The order's status from the service, asked every second for up to 15 s. */
  function waitUntilPaid(outTradeNo, triesLeft) {
    return api('GET', '/payment/orders/' + outTradeNo).then(function(order) {
      if (order.status === 'SUCCESS' || triesLeft <= 1) return order.status;
      return new Promise(function(r) { setTimeout(r, 1000); }).then(function() { return waitUntilPaid(outTradeNo, triesLeft - 1); });
    });
  }

  function buy(productId) {
    say('Ordering…');
    // One Idempotency-Key per purchase: a retried request answers the same order.
    const key = 'h5-' + Date.now().toString(36) + Math.random().toString(36).slice(2, 10);
    let outTradeNo;
    return api('POST', '/payment/order', { items: [{ productId, quantity: 1 }] }, { 'Idempotency-Key': key })
      .then(function(params) { outTradeNo = params.outTradeNo; return requestPayment(params); })
      .then(function(errMsg) {
        if (errMsg === 'get_brand_wcpay_request:cancel') return say('Payment cancelled.');
        if (errMsg !== 'get_brand_wcpay_request:ok') return say('Payment failed, you can try again.');
        say('Checking the payment…');
        return waitUntilPaid(outTradeNo, 15).then(function(status) {
          say(status === 'SUCCESS' ? 'Paid. Thank you!' : 'Payment not confirmed yet: check your order later.');
        });
      })
      .catch(function(err) { say(err.message); });
  }

  function start() {
    if (!token()) return login();
    fetch(API + '/api/products').then(function(res) { return res.json(); }).then(function(data) {
      data.products.forEach(function(p) {
        const li = document.createElement('li');
        li.dataset.productId = String(p.id);
        li.textContent = p.name + ' ¥' + (p.priceFen / 100).toFixed(2) + ' ';
        const button = document.createElement('button');
        button.textContent = 'Buy';
        button.addEventListener('click', function() { buy(p.id); });
        li.append(button);
        $('products').append(li);
      });
    });
  }

  start();
}());
