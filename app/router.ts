import { Application } from 'egg';
import { registerDevRoutes } from './lib/devRoutes';

export default (app: Application) => {
  const { controller, router, middleware } = app;
  const auth = middleware.auth();
  // Login fails closed when Redis cannot count (it needs Redis for the session anyway); order
  // creation and status polling fail open. README "Rate limits".
  const loginPerIp = middleware.rateLimit({ rule: 'loginPerIp', per: 'ip', whenCounterDown: 'refuse' });
  const orderPerUser = middleware.rateLimit({ rule: 'orderPerUser', per: 'user', whenCounterDown: 'allow' });
  const statusPerUser = middleware.rateLimit({ rule: 'statusPerUser', per: 'user', whenCounterDown: 'allow' });
  const json = middleware.jsonBody();

  router.get('/health', controller.home.health);

  router.post('/api/login', loginPerIp, json, controller.auth.login);
  router.get('/api/products', controller.product.list);

  router.post('/payment/order', json, auth, orderPerUser, controller.payment.create);
  router.post('/payment/orders/:outTradeNo/pay', auth, orderPerUser, controller.payment.pay);
  router.get('/payment/orders/:outTradeNo', auth, statusPerUser, controller.payment.show);
  router.post('/payment/orders/:outTradeNo/close', auth, controller.payment.close);

  // WeChat's notifications (/payment/notify, /payment/refund-notify) are answered before Koa: app/lib/wechatCallbacks.ts.

  // Admin API: ADMIN_TOKEN only, never a user's session (README "Refunds").
  const adminAuth = middleware.adminAuth();
  router.post('/admin/orders/:outTradeNo/refunds', adminAuth, json, controller.adminRefund.create);
  router.get('/admin/orders/:outTradeNo/refunds', adminAuth, controller.adminRefund.list);

  // Local development and tests only: the browser demo (/demo) and /openapi.json.
  registerDevRoutes(app);
};
