import { Application } from 'egg';

/** Where the browser demo and the API description are served: development and tests, never production. */
export const DEV_TOOL_ENVS: readonly string[] = [ 'local', 'unittest' ];

/** The browser demo (/demo) and the OpenAPI description (/openapi.json), in DEV_TOOL_ENVS only. */
export function registerDevRoutes(app: Pick<Application, 'config' | 'router' | 'controller'>): void {
  if (!DEV_TOOL_ENVS.includes(app.config.env)) return;
  const { router, controller } = app;
  router.get('/openapi.json', controller.devtools.openapi);
  router.get('/demo', controller.devtools.demoPage);
  router.get('/demo/assets/:file', controller.devtools.demoAsset);
  router.get('/demo/config', controller.devtools.demoConfig);
  router.post('/demo/login-code', controller.devtools.loginCode);
  router.post('/demo/pay', controller.devtools.pay);
}
