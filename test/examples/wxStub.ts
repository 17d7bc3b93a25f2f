import { app } from 'egg-mock/bootstrap';
import { sign, SignType } from '../../lib/wechatpay';
import { testEnv } from '../support/env';

/** How the stub's wx.requestPayment() behaves, as the user and WeChat would. */
export type PaymentBehaviour =
  /** The user pays: the simulator marks the order paid and notifies the service. */
  | 'pay'
  /** WeChat refuses the payment (balance too low): the simulator records a failed payment. */
  | 'fail'
  /** The user closes the payment sheet. */
  | 'cancel'
  /** The sheet reports success but WeChat has no payment (a client that lies, or is early). */
  | 'success-unpaid';

export interface RecordedRequest {
  method: string;
  url: string;
  header: Record<string, string>;
  data: unknown;
  statusCode?: number;
}

type Callbacks = { success?: (res: any) => void; fail?: (err: { errMsg: string }) => void };

/**
 * A stand-in for the mini-program's `wx`: request() does real HTTP, login() hands out codes the
 * simulator issued, requestPayment() checks paySign as WeChat's client does and then acts on the
 * simulator as the payer.
 */
export function createWxStub(options: { payment?: PaymentBehaviour; loginCode?: () => string } = {}) {
  const storage = new Map<string, unknown>();
  const calls = {
    login: 0,
    requests: [] as RecordedRequest[],
    requestPayment: [] as Array<Record<string, unknown>>,
  };
  const settle = (cb: Callbacks, outcome: { ok: true; res: any } | { ok: false; errMsg: string }) => {
    // WeChat calls back asynchronously, never inside the call.
    setImmediate(() => (outcome.ok ? cb.success?.(outcome.res) : cb.fail?.({ errMsg: outcome.errMsg })));
  };

  const wx = {
    payment: options.payment ?? 'pay' as PaymentBehaviour,

    login(cb: Callbacks) {
      calls.login++;
      const code = options.loginCode ? options.loginCode() : testEnv.sim.issueLoginCode();
      settle(cb, { ok: true, res: { code, errMsg: 'login:ok' } });
    },

    request(req: Callbacks & { url: string; method?: string; data?: unknown; header?: Record<string, string>; timeout?: number }) {
      const method = (req.method ?? 'GET').toUpperCase();
      const header = { ...(req.header ?? {}) };
      const recorded: RecordedRequest = { method, url: req.url, header, data: req.data };
      calls.requests.push(recorded);
      const hasBody = method !== 'GET' && method !== 'HEAD' && req.data !== undefined;
      fetch(req.url, {
        method,
        headers: header,
        body: hasBody ? JSON.stringify(req.data) : undefined,
        signal: AbortSignal.timeout(req.timeout ?? 10000),
      }).then(async res => {
        const text = await res.text();
        let data: unknown = text;
        // wx.request's default dataType 'json': parse when it parses, the string otherwise.
        try { data = JSON.parse(text); } catch { /* keep the text */ }
        recorded.statusCode = res.status;
        settle(req, { ok: true, res: { statusCode: res.status, data, header: Object.fromEntries(res.headers) } });
      }, (err: Error) => settle(req, { ok: false, errMsg: `request:fail ${err.message}` }));
    },

    requestPayment(params: Callbacks & Record<string, any>) {
      const { success, fail, complete, ...fields } = params;
      calls.requestPayment.push(fields);
      payAsWechat(fields, wx.payment).then(
        outcome => settle(params, outcome),
        (err: Error) => settle(params, { ok: false, errMsg: `requestPayment:fail ${err.message}` }),
      );
    },

    getStorageSync(key: string) {
      return storage.has(key) ? storage.get(key) : '';
    },
    setStorageSync(key: string, value: unknown) {
      storage.set(key, value);
    },
  };
  return { wx, calls, storage };
}

/** What WeChat's client and payer do with the fields of wx.requestPayment(). */
async function payAsWechat(fields: Record<string, any>, behaviour: PaymentBehaviour): Promise<{ ok: true; res: any } | { ok: false; errMsg: string }> {
  const { appId, apiKey } = app.config.wechat;
  const expected = sign({
    appId, timeStamp: fields.timeStamp, nonceStr: fields.nonceStr, package: fields.package, signType: fields.signType,
  }, apiKey, fields.signType as SignType);
  if (fields.paySign !== expected) return { ok: false, errMsg: 'requestPayment:fail paySign is invalid' };
  const outTradeNo = outTradeNoOfPackage(String(fields.package));
  switch (behaviour) {
    case 'pay':
      await testEnv.sim.pay(outTradeNo);
      return { ok: true, res: { errMsg: 'requestPayment:ok' } };
    case 'fail':
      await testEnv.sim.pay(outTradeNo, { result: 'FAIL' });
      return { ok: false, errMsg: 'requestPayment:fail 余额不足' };
    case 'cancel':
      return { ok: false, errMsg: 'requestPayment:fail cancel' };
    case 'success-unpaid':
      return { ok: true, res: { errMsg: 'requestPayment:ok' } };
    default:
      throw new Error(`unknown payment behaviour ${String(behaviour)}`);
  }
}

/** The simulator's order behind a `prepay_id=...` package, as WeChat knows it. */
function outTradeNoOfPackage(pkg: string): string {
  const prepayId = pkg.replace(/^prepay_id=/, '');
  for (const request of testEnv.sim.requests('unifiedorder')) {
    const outTradeNo = request.params.out_trade_no;
    if (outTradeNo && testEnv.sim.order(outTradeNo)?.prepayId === prepayId) return outTradeNo;
  }
  throw new Error(`no order has prepay_id ${prepayId}`);
}
