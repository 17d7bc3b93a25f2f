import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { Controller } from 'egg';
import { OUT_TRADE_NO_PATTERN } from '../../lib/wechatpay';
import { NotFoundError, ValidationError } from '../common/errors';
import { requireObject, requireString } from '../common/validate';
import { SimulatorConsole } from '../infra/simulatorConsole';

interface DemoAsset {
  file: string;
  type: string;
  /** Set for the mini-program's CommonJS modules: the name they get under window.miniprogram. */
  module?: string;
}

/** What /demo/assets/ serves, by name: the page's own files and the mini-program's modules, unchanged. */
const DEMO_ASSETS: Record<string, DemoAsset> = {
  'demo.js': { file: 'examples/browser-demo/demo.js', type: 'application/javascript' },
  'demo.css': { file: 'examples/browser-demo/demo.css', type: 'text/css' },
  // The demo's official-account mode (OAuth login, WeixinJSBridge from the simulator).
  'officialAccount.js': { file: 'examples/browser-demo/officialAccount.js', type: 'application/javascript' },
  // The web shop's page (issue 16: NATIVE and MWEB).
  'web.js': { file: 'examples/browser-demo/web.js', type: 'application/javascript' },
  'web.css': { file: 'examples/browser-demo/web.css', type: 'text/css' },
  'api.js': { file: 'examples/miniprogram/lib/api.js', type: 'application/javascript', module: 'api' },
  'checkout.js': { file: 'examples/miniprogram/lib/checkout.js', type: 'application/javascript', module: 'checkout' },
  'devLogin.js': { file: 'examples/miniprogram/lib/devLogin.js', type: 'application/javascript', module: 'devLogin' },
};

/**
 * Developer tools, routed in local development and tests only (app/router.ts): the
 * browser demo, which plays the mini-program with the example's own modules, and the OpenAPI
 * description of the API.
 */
export default class DevtoolsController extends Controller {
  /** GET /openapi.json */
  async openapi() {
    this.ctx.type = 'application/json';
    this.ctx.body = await this.read('docs/openapi.json');
  }

  /** GET /demo */
  async demoPage() {
    this.ctx.set('Cache-Control', 'no-store');
    this.ctx.type = 'text/html';
    this.ctx.body = await this.read('examples/browser-demo/index.html');
  }

  /** GET /demo/web, and GET /demo/h5-return (where WeChat's H5 cashier sends the payer back): the web shop's page. */
  async webPage() {
    this.ctx.set('Cache-Control', 'no-store');
    this.ctx.type = 'text/html';
    this.ctx.body = await this.read('examples/browser-demo/web.html');
  }

  /** GET /demo/assets/:file */
  async demoAsset() {
    const asset = Object.prototype.hasOwnProperty.call(DEMO_ASSETS, this.ctx.params.file) ? DEMO_ASSETS[this.ctx.params.file] : undefined;
    if (!asset) throw new NotFoundError('NOT_FOUND', 'no such demo file');
    const source = await this.read(asset.file);
    this.ctx.set('Cache-Control', 'no-store');
    this.ctx.type = asset.type;
    this.ctx.body = asset.module ? asBrowserScript(asset.module, asset.file, source) : source;
  }

  /** GET /demo/config: where the simulator's payer page is, for the demo's link to it. */
  async demoConfig() {
    const simulatorUrl = this.simulator().simulatorUrl;
    this.ctx.body = { simulatorUrl, simulatorPageUrl: `${simulatorUrl}/simulator/` };
  }

  /** POST /demo/login-code { openid? }: a login code from the simulator, as wx.login() gives. */
  async loginCode() {
    const body = requireObject(this.ctx.request.body);
    const openid = body.openid === undefined ? undefined : requireString(body.openid, 'openid', { max: 64, pattern: /^[A-Za-z0-9_-]+$/ });
    this.ctx.body = await this.simulator().issueLoginCode(openid);
  }

  /** POST /demo/pay { outTradeNo, result: SUCCESS | FAIL }: the payer's action in the simulator. */
  async pay() {
    const body = requireObject(this.ctx.request.body);
    const outTradeNo = requireString(body.outTradeNo, 'outTradeNo', { max: 32, pattern: OUT_TRADE_NO_PATTERN });
    if (body.result !== 'SUCCESS' && body.result !== 'FAIL') throw new ValidationError('result', 'result must be SUCCESS or FAIL');
    // The payer pays the order's live number, as WeChat's sheet pays the prepay_id it was given.
    const liveNumber = await this.service.order.liveOutTradeNo(outTradeNo) ?? outTradeNo;
    this.ctx.body = await this.simulator().pay(liveNumber, body.result);
  }

  /** The simulator WeChat's pay host points at (read from config on each call: tests start it on a free port). */
  private simulator(): SimulatorConsole {
    return new SimulatorConsole(this.config.wechat.payBaseUrl, this.config.wechat.timeoutMs);
  }

  private read(relative: string): Promise<string> {
    return fs.readFile(path.join(this.app.baseDir, relative), 'utf8');
  }
}

/**
 * A CommonJS module as a plain script: it runs with its own `module`, and its exports land on
 * window.miniprogram[name], so the page uses the mini-program's code as it is.
 */
function asBrowserScript(name: string, file: string, source: string): string {
  return `// ${file}, wrapped for the browser by /demo/assets\n(function () {\n` +
    'var module = { exports: {} }, exports = module.exports;\n' +
    'var require = function (p) { return window.miniprogram[p.replace(/^.*\\//, "").replace(/\\.js$/, "")]; };\n' +
    `${source}\n` +
    'window.miniprogram = window.miniprogram || {};\n' +
    `window.miniprogram[${JSON.stringify(name)}] = module.exports;\n})();\n`;
}
