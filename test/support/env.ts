import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { AddressInfo } from 'node:net';
import { MockApplication } from 'egg-mock';
import { WechatSimulator } from '../../simulator';

// egg-mock's own (untyped) helper behind app.httpRequest(): the app's one cached http.Server.
// eslint-disable-next-line @typescript-eslint/no-var-requires
const mockHttpServer: (app: MockApplication) => http.Server = require('egg-mock/lib/mock_http_server');

/**
 * The test world: the app under test listening on a real port (the simulator delivers
 * notifications to it over HTTP) and the WeChat simulator on another, both on free ports.
 */
class TestEnv {
  sim!: WechatSimulator;
  app!: MockApplication;
  appUrl = '';
  /** The simulator's CA and the merchant's client certificate and key as PEM files (throwaway, made at run time). */
  certDir = '';
  private server?: http.Server;

  async start(app: MockApplication) {
    this.app = app;
    // The server app.httpRequest() uses (egg-mock keeps one per app), listening for the whole run.
    // Left unlistened, each request listens on it and closes it at its end (supertest), and a close
    // resets the connections other requests have open on it meanwhile (Node closes idle ones): tests
    // sending requests at once then failed with ECONNRESET.
    this.server = mockHttpServer(app);
    await new Promise<void>(resolve => this.server!.listen(0, '127.0.0.1', resolve));
    this.appUrl = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    this.sim = new WechatSimulator({ retryScale: 0.001, notifyTimeoutMs: 3000 });
    await this.sim.start(0);
    // Refunds go over HTTPS with the merchant's client certificate, as at WeChat.
    await this.sim.startHttps(0);
    this.certDir = mkdtempSync(path.join(tmpdir(), 'wxpay-test-certs-'));
    const tls = this.sim.merchantTls();
    writeFileSync(path.join(this.certDir, 'ca.pem'), tls.ca);
    writeFileSync(path.join(this.certDir, 'apiclient_cert.pem'), tls.cert);
    writeFileSync(path.join(this.certDir, 'apiclient_key.pem'), tls.key, { mode: 0o600 });
    const wechat = app.config.wechat;
    wechat.payBaseUrl = this.sim.url;
    wechat.loginBaseUrl = this.sim.url;
    wechat.oauthAuthorizeBaseUrl = this.sim.url;
    wechat.notifyUrl = `${this.appUrl}/payment/notify`;
    wechat.refundNotifyUrl = `${this.appUrl}/payment/refund-notify`;
    wechat.timeoutMs = 2000;
    wechat.secapiBaseUrl = this.sim.httpsUrl;
    wechat.clientCert = {
      certPath: path.join(this.certDir, 'apiclient_cert.pem'),
      keyPath: path.join(this.certDir, 'apiclient_key.pem'),
      caPath: path.join(this.certDir, 'ca.pem'),
    };
  }

  async stop() {
    await this.sim?.stop();
    if (this.certDir) rmSync(this.certDir, { recursive: true, force: true });
    await new Promise<void>(resolve => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

export const testEnv = new TestEnv();
