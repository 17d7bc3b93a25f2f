import { httpRequest } from '../../lib/wechatpay';
import { ServiceUnavailableError, UpstreamRejectedError } from '../common/errors';

/**
 * Development only: a client of the WeChat simulator's payer and developer endpoints (login
 * codes, pay or fail an order), for the browser demo, which calls them through the service so it
 * needs no CORS from the simulator on its other port. Only the devtools controller uses it, and
 * app/router.ts routes that in local development and tests only.
 */
export class SimulatorConsole {
  /** `payBaseUrl`: WeChat's pay host, which points at the simulator in local mode and in tests. */
  constructor(payBaseUrl: string, private readonly timeoutMs: number) {
    this.simulatorUrl = payBaseUrl.replace(/\/+$/, '');
  }

  readonly simulatorUrl: string;

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
        timeoutMs: this.timeoutMs,
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
