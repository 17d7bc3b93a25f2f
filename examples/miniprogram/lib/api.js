'use strict';
/**
 * The mini-program's HTTP client for the payment service. Plain CommonJS with no WeChat global:
 * `wx` is passed in, so the same code runs in the mini-program, in the browser demo and in tests.
 *
 * - sends `Authorization: Bearer <token>` on authenticated calls, logging in first when needed;
 * - on 401 UNAUTHORIZED or SESSION_EXPIRED logs in again once and retries the call once;
 * - turns every failure into an ApiError carrying the service's { code, message, field }.
 */

const TOKEN_STORAGE_KEY = 'wxpay.token';
const RELOGIN_CODES = [ 'UNAUTHORIZED', 'SESSION_EXPIRED' ];

class ApiError extends Error {
  /**
   * @param {number} status HTTP status, 0 when the request never got an answer
   * @param {string} code the service's stable error code (NETWORK_ERROR, BAD_REPLY: client-side)
   * @param {string} message the service's message, fit to show to the user
   * @param {string} [field] the offending input field, for VALIDATION_FAILED
   */
  constructor(status, code, message, field) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    if (field) this.field = field;
    // 503s (WeChat busy, session store down) and lost requests may be retried as they are.
    this.retryable = status === 0 || status === 503;
  }
}

/** wx.login() as a promise of the code. */
function wxLoginCode(wx) {
  return new Promise((resolve, reject) => {
    wx.login({
      success: res => (res && res.code ? resolve(res.code) : reject(new ApiError(0, 'WX_LOGIN_FAILED', 'wx.login returned no code'))),
      fail: err => reject(new ApiError(0, 'WX_LOGIN_FAILED', `wx.login failed: ${(err && err.errMsg) || 'unknown error'}`)),
    });
  });
}

/**
 * @param {object} options
 * @param {object} options.wx the WeChat API object (or a stand-in with request, login, and optionally getStorageSync/setStorageSync)
 * @param {string} options.baseUrl e.g. https://pay.example.com (no trailing slash needed)
 * @param {() => Promise<string>} [options.getLoginCode] where login codes come from; wx.login() by default
 * @param {number} [options.timeoutMs] per request, default 10000
 */
function createApi(options) {
  const wx = options.wx;
  const baseUrl = String(options.baseUrl).replace(/\/+$/, '');
  const getLoginCode = options.getLoginCode || (() => wxLoginCode(wx));
  const timeoutMs = options.timeoutMs || 10000;
  let token = readStoredToken();
  let loginInFlight = null;

  function readStoredToken() {
    try {
      return typeof wx.getStorageSync === 'function' ? wx.getStorageSync(TOKEN_STORAGE_KEY) || null : null;
    } catch (e) {
      return null;
    }
  }

  function storeToken(value) {
    token = value;
    try {
      if (typeof wx.setStorageSync === 'function') wx.setStorageSync(TOKEN_STORAGE_KEY, value || '');
    } catch (e) {
      // Storage full or unavailable: the token still lives in memory for this run.
    }
  }

  /** One wx.request as a promise of { statusCode, data }; transport failures become NETWORK_ERROR. */
  function send(method, path, data, header) {
    return new Promise((resolve, reject) => {
      wx.request({
        url: baseUrl + path,
        method,
        data,
        header: Object.assign({ 'content-type': 'application/json' }, header),
        timeout: timeoutMs,
        success: res => resolve(res),
        fail: err => reject(new ApiError(0, 'NETWORK_ERROR', `network error, try again (${(err && err.errMsg) || 'request failed'})`)),
      });
    });
  }

  function toError(res) {
    const body = res.data && typeof res.data === 'object' ? res.data : null;
    if (body && typeof body.code === 'string' && typeof body.message === 'string') {
      return new ApiError(res.statusCode, body.code, body.message, body.field);
    }
    return new ApiError(res.statusCode, 'BAD_REPLY', `unexpected reply from the server (HTTP ${res.statusCode})`);
  }

  /** Exchanges a fresh login code for a session token; concurrent callers share one login. */
  function login() {
    if (!loginInFlight) {
      loginInFlight = (async () => {
        const code = await getLoginCode();
        const res = await send('POST', '/api/login', { code });
        if (res.statusCode !== 200) throw toError(res);
        storeToken(res.data.token);
        return res.data.user;
      })();
      loginInFlight.then(() => { loginInFlight = null; }, () => { loginInFlight = null; });
    }
    return loginInFlight;
  }

  /**
   * @param {object} req
   * @param {string} req.method GET, POST...
   * @param {string} req.path e.g. /payment/order
   * @param {object} [req.data] JSON body
   * @param {object} [req.header] extra headers, e.g. { 'Idempotency-Key': '...' }
   * @param {boolean} [req.auth] send the bearer token (default true)
   * @return {Promise<any>} the reply's JSON body on 2xx; rejects with an ApiError otherwise
   */
  async function request(req) {
    const auth = req.auth !== false;
    let sentToken = null;
    const attempt = () => {
      const header = Object.assign({}, req.header);
      if (auth) {
        sentToken = token;
        header.authorization = `Bearer ${token}`;
      }
      return send(req.method || 'GET', req.path, req.data, header);
    };
    if (auth && !token) await login();
    let res = await attempt();
    if (auth && res.statusCode === 401 && res.data && RELOGIN_CODES.indexOf(res.data.code) >= 0) {
      // The token expired or was revoked: one fresh login and one retry, never a loop. A login
      // another call already started (or finished) since this one was sent counts as ours.
      if (loginInFlight) await loginInFlight;
      else if (!token || token === sentToken) {
        storeToken(null);
        await login();
      }
      res = await attempt();
    }
    if (res.statusCode < 200 || res.statusCode >= 300) throw toError(res);
    return res.data;
  }

  return {
    login,
    request,
    get token() { return token; },
    logout() { storeToken(null); },
  };
}

module.exports = { createApi, ApiError };
