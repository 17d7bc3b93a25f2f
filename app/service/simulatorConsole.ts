import { Service } from 'egg';
import { httpRequest } from '../../lib/wechatpay';
import { ServiceUnavailableError, UpstreamRejectedError } from '../lib/errors';

/**
 * The WeChat simulator's payer and developer endpoints (login codes, pay or fail an order), for
 * the browser demo only: the page calls them through the service, so it needs no CORS from the
 * simulator, which runs on another port. Never routed in production (see app/lib/devRoutes.ts).
 */
export default class SimulatorConsoleService extends Service {
  /** The simulator's base URL: WeChat's pay host points at it in local mode and in tests. */
  get simulatorUrl(): string {
    return this.config.wechat.payBaseUrl.replace(/\/+$/, '');
  }

  /** A fresh single-use login code, as wx.login() would return, for the given simulated user. */
  async issueLoginCode(openid?: string): Promise<{ code: string; openid: string }> {
    const reply = await this.post('/simulator/login-code', openid ? { openid } : {});
    return { code: String(reply.code), openid: String(reply.openid) };
  }

  /** Acts as the payer on WeChat's side: pays (SUCCESS) or fails (FAIL) the order's payment. */
  async pay(outTradeNo: string, result: 'SUCCESS' | 'FAIL'): Promise<{ outTradeNo: string; result: string; tradeState: string }> {
    const reply = await this.post('/simulator/pay', { outTradeNo, result });
    return { outTradeNo: String(reply.outTradeNo), result: String(reply.result), tradeState: String(reply.tradeState) };
  }

  private async post(path: string, body: Record<string, unknown>): Promise<Record<string, unknown>> {
    let res;
    try {
      res = await httpRequest({
        method: 'POST',
        url: `${this.simulatorUrl}${path}`,
        body: JSON.stringify(body),
        headers: { 'Content-Type': 'application/json' },
        timeoutMs: this.config.wechat.timeoutMs,
        maxBytes: 64 * 1024,
      });
    } catch (err) {
      throw new ServiceUnavailableError('SIMULATOR_UNAVAILABLE', `the WeChat simulator at ${this.simulatorUrl} did not answer: is it running (npm run dev)?`);
    }
    let parsed: Record<string, unknown> | undefined;
    try {
      parsed = JSON.parse(res.body.toString('utf8'));
    } catch {
      parsed = undefined;
    }
    if (res.status !== 200 || !parsed) {
      const message = parsed && typeof parsed.message === 'string' ? parsed.message : `HTTP ${res.status}`;
      throw new UpstreamRejectedError('SIMULATOR_REFUSED', `the WeChat simulator refused: ${message}`);
    }
    return parsed;
  }
}
