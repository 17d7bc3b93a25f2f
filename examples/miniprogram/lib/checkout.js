'use strict';
/**
 * The payment steps of a checkout, without any page code: place the order (with an
 * Idempotency-Key), hand the returned fields to wx.requestPayment(), then poll the order until the
 * service confirms the payment, a bounded number of times. `wx` and the api client are passed in.
 *
 * What wx.requestPayment() reports is not proof of payment (WeChat says so too): the order's
 * status on the service, which the service learns from WeChat's notification or order query, is.
 */

const DEFAULT_POLL_INTERVAL_MS = 1500;
const DEFAULT_MAX_POLLS = 8;

/** Final outcomes of pay(). */
const RESULT = {
  PAID: 'PAID',
  /** The user closed the payment sheet; the order stays payable. */
  CANCELLED: 'CANCELLED',
  /** WeChat refused the payment (e.g. balance too low); the order stays payable. */
  FAILED: 'FAILED',
  /** Paid as far as the client knows, not confirmed yet after every poll: check again later. */
  PENDING: 'PENDING',
  /** The order was closed (expired or cancelled) and can no longer be paid. */
  CLOSED: 'CLOSED',
};

/** An order stays paid when (partly or wholly) refunded: REFUND is PAID too. */
const RESULT_BY_STATUS = { SUCCESS: RESULT.PAID, REFUND: RESULT.PAID, CLOSED: RESULT.CLOSED };

/**
 * Error codes after which the same order can no longer be paid: the next attempt must place a new
 * order, with a new Idempotency-Key.
 */
const NEW_ORDER_CODES = [ 'ORDER_EXPIRED', 'ORDER_CLOSED', 'IDEMPOTENCY_KEY_REUSED' ];

/** What an order the service returned means for the checkout: PAID, CLOSED, or PENDING (NOTPAY). */
function resultOf(order) {
  return RESULT_BY_STATUS[order.status] || RESULT.PENDING;
}

/**
 * The outcome a refused checkout still has: { result: PAID } when the service refused because the
 * order is already paid (ORDER_ALREADY_PAID), null when the refusal is just an error.
 */
function outcomeOfRefusal(err) {
  return err && err.code === 'ORDER_ALREADY_PAID' ? { result: RESULT.PAID } : null;
}

/** A key for one checkout: retrying the same checkout with it answers the same order. */
function newIdempotencyKey() {
  return `mp-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 12)}`;
}

/**
 * wx.requestPayment() with exactly the five fields it takes from the service's reply; resolves
 * { ok: true } or { ok: false, cancelled, errMsg } (never rejects).
 */
function requestPayment(wx, params) {
  return new Promise(resolve => {
    wx.requestPayment({
      timeStamp: params.timeStamp,
      nonceStr: params.nonceStr,
      package: params.package,
      signType: params.signType,
      paySign: params.paySign,
      success: () => resolve({ ok: true }),
      fail: err => {
        const errMsg = (err && err.errMsg) || 'requestPayment:fail';
        resolve({ ok: false, cancelled: /cancel/i.test(errMsg), errMsg });
      },
    });
  });
}

function defaultSleep(ms) {
  return new Promise(resolve => setTimeout(resolve, ms));
}

/**
 * @param {object} options
 * @param {object} options.wx the WeChat API object (requestPayment is used)
 * @param {object} options.api a client from createApi()
 * @param {number} [options.pollIntervalMs] between status polls, default 1500
 * @param {number} [options.maxPolls] status polls after payment, default 8
 * @param {(ms: number) => Promise<void>} [options.sleep]
 */
function createCheckout(options) {
  const wx = options.wx;
  const api = options.api;
  const pollIntervalMs = options.pollIntervalMs === undefined ? DEFAULT_POLL_INTERVAL_MS : options.pollIntervalMs;
  const maxPolls = options.maxPolls || DEFAULT_MAX_POLLS;
  const sleep = options.sleep || defaultSleep;

  function getOrder(outTradeNo) {
    return api.request({ method: 'GET', path: `/payment/orders/${encodeURIComponent(outTradeNo)}` });
  }

  /** Polls until the order leaves NOTPAY or maxPolls is reached; resolves the last order seen. */
  async function pollOrder(outTradeNo, onPoll) {
    let order;
    for (let poll = 1; poll <= maxPolls; poll++) {
      order = await getOrder(outTradeNo);
      if (onPoll) onPoll(order, poll);
      if (order.status !== 'NOTPAY') break;
      if (poll < maxPolls) await sleep(pollIntervalMs);
    }
    return order;
  }

  /**
   * Runs one checkout. Rejects with the api's ApiError when the service refuses (the message is
   * the service's); resolves { result, outTradeNo, order?, errMsg? } otherwise.
   *
   * @param {object} input
   * @param {Array<{productId: number, quantity: number}>} input.items
   * @param {string} [input.idempotencyKey] reuse it to retry the same checkout
   * @param {(step: string, detail?: object) => void} [input.onStep] ordering, paying, confirming, polled, done
   */
  async function pay(input) {
    const onStep = input.onStep || (() => {});
    const idempotencyKey = input.idempotencyKey || newIdempotencyKey();

    onStep('ordering', { idempotencyKey });
    const params = await api.request({
      method: 'POST',
      path: '/payment/order',
      data: { items: input.items },
      header: { 'Idempotency-Key': idempotencyKey },
    });
    const outTradeNo = params.outTradeNo;

    onStep('paying', { outTradeNo });
    const payment = await requestPayment(wx, params);
    let outcome;
    if (payment.ok) {
      onStep('confirming', { outTradeNo });
      const order = await pollOrder(outTradeNo, (o, poll) => onStep('polled', { outTradeNo, order: o, poll }));
      outcome = { result: resultOf(order), outTradeNo, order };
    } else if (payment.cancelled) {
      outcome = { result: RESULT.CANCELLED, outTradeNo, errMsg: payment.errMsg };
    } else {
      // A failure on the client is not always a failure at WeChat: the service has the last word.
      const order = await getOrder(outTradeNo);
      const result = resultOf(order);
      outcome = result !== RESULT.PENDING
        ? { result, outTradeNo, order }
        : { result: RESULT.FAILED, outTradeNo, order, errMsg: payment.errMsg };
    }
    onStep('done', outcome);
    return outcome;
  }

  return { pay, pollOrder, getOrder };
}

/** A sentence for the user about an outcome of pay(). */
function describeOutcome(outcome) {
  switch (outcome.result) {
    case RESULT.PAID: return 'Payment successful.';
    case RESULT.CANCELLED: return 'Payment cancelled. You can pay again.';
    case RESULT.FAILED: return `Payment failed (${outcome.errMsg}). You can try again.`;
    case RESULT.PENDING: return 'Payment is being confirmed. Check the order again in a moment.';
    case RESULT.CLOSED: return 'This order is closed and can no longer be paid.';
    default: return `Unexpected result ${outcome.result}.`;
  }
}

module.exports = {
  createCheckout, requestPayment, newIdempotencyKey, describeOutcome, resultOf, outcomeOfRefusal, RESULT, NEW_ORDER_CODES,
};
