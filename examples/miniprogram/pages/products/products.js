'use strict';
// Product page: the catalog from GET /api/products (no login needed), a quantity per product,
// and Buy, which opens the order page.
const app = getApp();
const MAX_QUANTITY = 99;

Page({
  data: { products: [], loading: true, error: '' },

  onLoad() {
    this.load();
  },

  onPullDownRefresh() {
    this.load().then(() => wx.stopPullDownRefresh());
  },

  async load() {
    this.setData({ loading: true, error: '' });
    try {
      const { products } = await app.api.request({ method: 'GET', path: '/api/products', auth: false });
      this.setData({
        loading: false,
        products: products.map(p => ({ id: p.id, name: p.name, priceFen: p.priceFen, price: yuan(p.priceFen), quantity: 1 })),
      });
    } catch (err) {
      // err.message is the service's own message (or a network error): fit to show as is.
      this.setData({ loading: false, error: err.message });
    }
  },

  onQuantity(event) {
    const { index, delta } = event.currentTarget.dataset;
    const current = this.data.products[index].quantity;
    const quantity = Math.min(MAX_QUANTITY, Math.max(1, current + Number(delta)));
    this.setData({ [`products[${index}].quantity`]: quantity });
  },

  onBuy(event) {
    const p = this.data.products[event.currentTarget.dataset.index];
    const query = `productId=${p.id}&quantity=${p.quantity}&name=${encodeURIComponent(p.name)}&priceFen=${p.priceFen}`;
    wx.navigateTo({ url: `/pages/order/order?${query}` });
  },
});

function yuan(fen) {
  return (fen / 100).toFixed(2);
}
