'use strict';
// Order page: places the order, opens WeChat's payment sheet, then shows the status the service
// confirms. The steps themselves live in lib/checkout.js.
const {
  createCheckout, newIdempotencyKey, describeOutcome, resultOf, outcomeOfRefusal, RESULT, NEW_ORDER_CODES,
} = require('../../lib/checkout');

const app = getApp();

const STEP_LABELS = {
  ordering: 'Placing the order…',
  paying: 'Waiting for the payment…',
  confirming: 'Confirming the payment with the server…',
};

Page({
  data: {
    name: '', quantity: 1, total: '0.00',
    outTradeNo: '', step: '', message: '', error: '', result: '',
    paying: false, finished: false,
  },

  onLoad(query) {
    const quantity = Number(query.quantity) || 1;
    this.items = [{ productId: Number(query.productId), quantity }];
    // One key per checkout: tapping Pay again after a cancel or a network error answers the same
    // order instead of creating a second one.
    this.idempotencyKey = newIdempotencyKey();
    this.checkout = createCheckout({ wx, api: app.api });
    this.setData({
      name: decodeURIComponent(query.name || ''),
      quantity,
      // Shown only: the server prices the order itself, and refuses an amount sent by the client.
      total: ((Number(query.priceFen) || 0) * quantity / 100).toFixed(2),
    });
  },

  async onPay() {
    if (this.data.paying) return;
    this.setData({ paying: true, message: '', error: '', result: '' });
    try {
      const outcome = await this.checkout.pay({
        items: this.items,
        idempotencyKey: this.idempotencyKey,
        onStep: (step, detail) => this.showStep(step, detail),
      });
      this.showOutcome(outcome);
    } catch (err) {
      this.showError(err);
    }
  },

  /** After PENDING: one more round of polling. */
  async onRefresh() {
    this.setData({ paying: true, error: '' });
    try {
      const order = await this.checkout.pollOrder(this.data.outTradeNo, o => this.showStep('polled', { order: o }));
      this.showOutcome({ result: resultOf(order), outTradeNo: order.outTradeNo, order });
    } catch (err) {
      this.showError(err);
    }
  },

  onBack() {
    wx.navigateBack();
  },

  showStep(step, detail) {
    if (detail && detail.outTradeNo) this.setData({ outTradeNo: detail.outTradeNo });
    if (step === 'polled') this.setData({ step: `Order status: ${detail.order.status}` });
    else if (STEP_LABELS[step]) this.setData({ step: STEP_LABELS[step] });
  },

  showOutcome(outcome) {
    const finished = outcome.result === RESULT.PAID || outcome.result === RESULT.CLOSED;
    this.setData({ paying: false, step: '', result: outcome.result, message: describeOutcome(outcome), finished });
    if (outcome.result === RESULT.PAID) wx.showToast({ title: 'Paid', icon: 'success' });
  },

  /** The service's message, as it sent it; what the user can do next depends on the code. */
  showError(err) {
    const outcome = outcomeOfRefusal(err);
    if (outcome) {
      this.showOutcome(outcome);
      return;
    }
    // The same order cannot be paid any more: the next tap places a new one.
    if (NEW_ORDER_CODES.indexOf(err.code) >= 0) this.idempotencyKey = newIdempotencyKey();
    const hint = err.retryable ? ' Tap Pay to try again.' : '';
    this.setData({ paying: false, step: '', error: `${err.message}${hint}` });
  },
});
