import * as http from 'node:http';
import { AddressInfo } from 'node:net';
import { MockApplication } from 'egg-mock';
import { WechatSimulator } from '../../simulator';

/**
 * The test world: the app under test listening on a real port (the simulator delivers
 * notifications to it over HTTP) and the WeChat simulator on another, both on free ports.
 */
class TestEnv {
  sim!: WechatSimulator;
  app!: MockApplication;
  appUrl = '';
  private server?: http.Server;

  async start(app: MockApplication) {
    this.app = app;
    this.server = http.createServer(app.callback());
    await new Promise<void>(resolve => this.server!.listen(0, '127.0.0.1', resolve));
    this.appUrl = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    this.sim = new WechatSimulator({ retryScale: 0.001, notifyTimeoutMs: 3000 });
    await this.sim.start(0);
    const wechat = app.config.wechat;
    wechat.payBaseUrl = this.sim.url;
    wechat.loginBaseUrl = this.sim.url;
    wechat.notifyUrl = `${this.appUrl}/payment/notify`;
    wechat.refundNotifyUrl = `${this.appUrl}/payment/refund-notify`;
    wechat.timeoutMs = 2000;
  }

  async stop() {
    await this.sim?.stop();
    await new Promise<void>(resolve => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

export const testEnv = new TestEnv();
