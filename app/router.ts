import { Application } from 'egg';

/** Where the browser demo and the API description are served: development and tests, never production. */
export const DEV_TOOL_ENVS: readonly string[] = [ 'local', 'unittest' ];

/** Every route the service answers. */
export default (app: Application) => {
  const { controller, router, middleware } = app;
  const auth = middleware.auth();
  // Login fails closed when Redis cannot count (it needs Redis for the session anyway); order
  // creation and status polling fail open. docs/operations.md "Rate limits".
  const loginPerIp = middleware.rateLimit({ rule: 'loginPerIp', per: 'ip', whenCounterDown: 'refuse' });
  const orderPerUser = middleware.rateLimit({ rule: 'orderPerUser', per: 'user', whenCounterDown: 'allow' });
  const statusPerUser = middleware.rateLimit({ rule: 'statusPerUser', per: 'user', whenCounterDown: 'allow' });
  const json = middleware.jsonBody();
  const rawXml = middleware.rawXmlBody();

  router.get('/health', controller.home.health);

  router.post('/api/login', loginPerIp, json, controller.auth.login);
  router.get('/api/products', controller.product.list);

  // Official-account login in the payer's WeChat browser (docs/official-account.md).
  router.get('/oauth/wechat/authorize', loginPerIp, controller.oauth.authorize);
  router.get('/oauth/wechat/callback', loginPerIp, controller.oauth.callback);

  // Channels (issue 16, docs/channels.md): the web shop's guest session (NATIVE, MWEB), the mobile
  // app's login (APP), and a NATIVE order's QR code.
  router.post('/api/web/session', loginPerIp, controller.channelLogin.webSession);
  router.post('/api/app/login', loginPerIp, json, controller.channelLogin.appLogin);
  router.get('/payment/orders/:outTradeNo/qrcode.svg', auth, statusPerUser, controller.order.qrCodeSvg);
  router.get('/payment/orders/:outTradeNo/qrcode.png', auth, statusPerUser, controller.order.qrCodePng);

  router.post('/payment/order', json, auth, orderPerUser, controller.order.create);
  router.post('/payment/orders/:outTradeNo/pay', auth, orderPerUser, controller.order.pay);
  router.get('/payment/orders', auth, statusPerUser, controller.order.list);
  router.get('/payment/orders/:outTradeNo', auth, statusPerUser, controller.order.show);
  router.post('/payment/orders/:outTradeNo/close', auth, controller.order.close);

  // WeChat's server-to-server notifications: raw XML in, XML out.
  router.post('/payment/notify', rawXml, controller.notify.payment);
  router.post('/payment/refund-notify', rawXml, controller.notify.refund);
  // NATIVE mode 1: WeChat's scan callback when a payer scans a product's static code (docs/channels.md).
  router.post('/payment/native-scan', rawXml, controller.nativeScan.callback);

  // Admin API: ADMIN_TOKEN only, never a user's session (docs/refunds.md).
  const adminAuth = middleware.adminAuth();
  router.post('/admin/orders/:outTradeNo/refunds', adminAuth, json, controller.adminRefund.create);
  router.get('/admin/orders/:outTradeNo/refunds', adminAuth, controller.adminRefund.list);
  // Issue 17: the event outbox, for operators (docs/events.md).
  router.get('/admin/events', adminAuth, controller.adminEvents.list);
  router.post('/admin/events/replay', adminAuth, json, controller.adminEvents.replayRange);
  router.post('/admin/events/:eventId/replay', adminAuth, controller.adminEvents.replayOne);

  // POS (payment code): the admin token or the cashier token, which opens these routes only (docs/pos.md).
  const posAuth = middleware.posAuth();
  router.post('/admin/pos/charges', posAuth, json, controller.pos.create);
  router.get('/admin/pos/charges/:outTradeNo', posAuth, controller.pos.show);
  // NATIVE mode 1: a product's static code, to print (docs/channels.md).
  router.get('/admin/products/:productId/native-code', adminAuth, controller.nativeScan.staticCode);
  router.get('/admin/products/:productId/native-code.svg', adminAuth, controller.nativeScan.staticCodeSvg);

  // --- metrics (issue 18): Prometheus, METRICS_TOKEN or the metrics port (docs/operations.md "Metrics").
  router.get('/metrics', middleware.metricsAuth(), controller.metrics.show);
  // --- end metrics

  // --- Operator's console (issue 18, docs/console.md): served in every environment. The same admin
  // API, with the bearer token or the console's cookie session (CSRF-checked: config.security).
  router.get('/admin/', controller.adminConsole.page);
  router.get('/admin/assets/:file', controller.adminConsole.asset);
  const adminSignInPerIp = middleware.rateLimit({ rule: 'adminSignInPerIp', per: 'ip', whenCounterDown: 'refuse' });
  router.post('/admin/session', adminSignInPerIp, json, controller.adminConsole.signIn);
  router.get('/admin/session', adminAuth, controller.adminConsole.show);
  router.delete('/admin/session', controller.adminConsole.signOut);
  router.get('/admin/orders', adminAuth, controller.adminOrders.search);
  router.get('/admin/orders/:outTradeNo', adminAuth, controller.adminOrders.show);
  router.post('/admin/orders/:outTradeNo/query', adminAuth, controller.adminOrders.query);
  router.post('/admin/orders/:outTradeNo/close', adminAuth, controller.adminOrders.close);
  router.post('/admin/refunds/:outRefundNo/query', adminAuth, controller.adminOrders.queryRefund);
  router.get('/admin/dashboard', adminAuth, controller.adminReports.dashboard);
  router.get('/admin/reconciliations', adminAuth, controller.adminReports.list);
  router.get('/admin/reconciliations/:billDate', adminAuth, controller.adminReports.show);
  router.post('/admin/reconciliations/:billDate/run', adminAuth, controller.adminReports.run);
  // --- end of the console's routes

  // Local development and tests only: the API description and the browser demo.
  if (DEV_TOOL_ENVS.includes(app.config.env)) {
    router.get('/openapi.json', controller.devtools.openapi);
    router.get('/demo', controller.devtools.demoPage);
    router.get('/demo/assets/:file', controller.devtools.demoAsset);
    router.get('/demo/web', controller.devtools.webPage);
    router.get('/demo/h5-return', controller.devtools.webPage);
    router.get('/demo/config', controller.devtools.demoConfig);
    router.post('/demo/login-code', controller.devtools.loginCode);
    router.post('/demo/pay', controller.devtools.pay);
  }
};
