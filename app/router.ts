import { Application } from 'egg';

export default (app: Application) => {
  const { controller, router, middleware } = app;
  const auth = middleware.auth();

  router.get('/health', controller.home.health);

  router.post('/api/login', controller.auth.login);
  router.get('/api/products', controller.product.list);

  router.post('/payment/order', auth, controller.payment.create);
  router.post('/payment/orders/:outTradeNo/pay', auth, controller.payment.pay);
  router.get('/payment/orders/:outTradeNo', auth, controller.payment.show);
  router.post('/payment/orders/:outTradeNo/close', auth, controller.payment.close);

  router.post('/payment/notify', controller.notify.payment);
};
