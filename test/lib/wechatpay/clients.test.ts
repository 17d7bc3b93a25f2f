import assert from 'node:assert/strict';
import { once } from 'node:events';
import * as http from 'node:http';
import { AddressInfo } from 'node:net';
import {
  buildXml, parseXml, sign, SignType, WechatApiError, WechatLoginClient, WechatLoginError, WechatPayClient,
  WechatRequestNotSentError, WechatSignatureError, WechatTransportError, WechatXmlError, verifySign,
} from '../../../lib/wechatpay';

const APP_ID = 'wx1234567890abcdef';
const MCH_ID = '1900000109';
const API_KEY = 'k'.repeat(32);

/** One reply per test: `answer` is set by each test before it calls the client. */
describe('lib/wechatpay clients (small checks of the fixes; the simulator covers the rest)', () => {
  let server: http.Server;
  let base = '';
  let answer: (req: http.IncomingMessage, body: string) => { status?: number; body: string } = () => ({ body: '' });
  let lastRequest: Record<string, string> = {};

  before(async () => {
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', c => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const out = answer(req, body);
        res.writeHead(out.status ?? 200, { Connection: 'close' }).end(out.body);
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    server.closeAllConnections();
    server.close();
    await once(server, 'close');
  });

  function payClient(signType: SignType = 'MD5') {
    return new WechatPayClient({ appId: APP_ID, mchId: MCH_ID, apiKey: API_KEY, signType, baseUrl: base, timeoutMs: 2000 });
  }

  function signedReply(fields: Record<string, string>, signType: SignType = 'MD5', key = API_KEY): string {
    const all = { return_code: 'SUCCESS', return_msg: 'OK', appid: APP_ID, mch_id: MCH_ID, nonce_str: 'abc', ...fields };
    return buildXml({ ...all, sign: sign(all, key, signType) });
  }

  describe('WechatPayClient', () => {
    for (const signType of [ 'MD5', 'HMAC-SHA256' ] as SignType[]) {
      it(`${signType}: signs the request and returns a verified reply`, async () => {
        answer = (_req, body) => {
          lastRequest = parseXml(body);
          return { body: signedReply({ result_code: 'SUCCESS', trade_state: 'NOTPAY', out_trade_no: 'P1' }, signType) };
        };
        const reply = await payClient(signType).orderQuery({ out_trade_no: 'P1' });
        assert.equal(reply.trade_state, 'NOTPAY');
        assert.equal(lastRequest.sign_type, signType);
        assert.equal(lastRequest.appid, APP_ID);
        assert.equal(lastRequest.mch_id, MCH_ID);
        assert.equal(verifySign(lastRequest, API_KEY, signType), true);
      });
    }

    for (const [ configured, perCall ] of [[ 'HMAC-SHA256', 'MD5' ], [ 'MD5', 'HMAC-SHA256' ]] as Array<[SignType, SignType]>) {
      it(`configured ${configured}, a per-call ${perCall} signs the request and verifies the reply with ${perCall}`, async () => {
        answer = (_req, body) => {
          lastRequest = parseXml(body);
          return { body: signedReply({ result_code: 'SUCCESS', trade_state: 'NOTPAY', out_trade_no: 'P1' }, perCall) };
        };
        const reply = await payClient(configured).orderQuery({ out_trade_no: 'P1' }, { signType: perCall });
        assert.equal(reply.trade_state, 'NOTPAY');
        assert.equal(lastRequest.sign_type, perCall);
        assert.equal(verifySign(lastRequest, API_KEY, perCall), true);
      });

      it(`configured ${configured}, a per-call ${perCall} refuses a reply signed with ${configured}`, async () => {
        answer = () => ({ body: signedReply({ result_code: 'SUCCESS' }, configured) });
        await assert.rejects(payClient(configured).closeOrder('P1', { signType: perCall }), WechatSignatureError);
      });
    }

    it('a per-call sign type that is not one rejects before anything is sent', async () => {
      let requests = 0;
      answer = () => {
        requests++;
        return { body: signedReply({ result_code: 'SUCCESS' }) };
      };
      await assert.rejects(payClient().orderQuery({ out_trade_no: 'P1' }, { signType: 'SHA1' as SignType }),
        (err: unknown) => err instanceof WechatRequestNotSentError && err.message === 'request to /pay/orderquery not sent: unsupported sign type "SHA1"');
      await assert.rejects(payClient().downloadBill('20260101', 'ALL', { signType: 'md5' as SignType }), WechatRequestNotSentError);
      assert.equal(requests, 0);
    });

    it('refuses a reply signed with another key', async () => {
      answer = () => ({ body: signedReply({ result_code: 'SUCCESS' }, 'MD5', 'x'.repeat(32)) });
      await assert.rejects(payClient().closeOrder('P1'), WechatSignatureError);
    });

    it('refuses an unsigned SUCCESS reply', async () => {
      answer = () => ({ body: buildXml({ return_code: 'SUCCESS', result_code: 'SUCCESS' }) });
      await assert.rejects(payClient().closeOrder('P1'), WechatSignatureError);
    });

    it('refuses a signed reply naming another appid', async () => {
      answer = () => ({ body: signedReply({ result_code: 'SUCCESS', appid: 'wx0000000000000000' }) });
      await assert.rejects(payClient().closeOrder('P1'), /another appid/);
    });

    it('turns return_code=FAIL into WechatApiError(return)', async () => {
      answer = () => ({ body: buildXml({ return_code: 'FAIL', return_msg: '签名错误' }) });
      await assert.rejects(payClient().closeOrder('P1'), (err: unknown) =>
        err instanceof WechatApiError && err.kind === 'return' && err.errCodeDes === '签名错误');
    });

    it('turns result_code=FAIL into WechatApiError(result)', async () => {
      answer = () => ({ body: signedReply({ result_code: 'FAIL', err_code: 'ORDERPAID', err_code_des: '订单已支付' }) });
      await assert.rejects(payClient().closeOrder('P1'), (err: unknown) =>
        err instanceof WechatApiError && err.kind === 'result' && err.errCode === 'ORDERPAID');
    });

    it('turns a non-200 status into WechatTransportError(http_status)', async () => {
      answer = () => ({ status: 503, body: 'busy' });
      await assert.rejects(payClient().closeOrder('P1'), (err: unknown) =>
        err instanceof WechatTransportError && err.reason === 'http_status');
    });

    it('turns an unreadable reply into WechatXmlError', async () => {
      answer = () => ({ body: '<html>502</html>' });
      await assert.rejects(payClient().closeOrder('P1'), WechatXmlError);
    });

    it('refund without a client certificate rejects, it does not throw synchronously', async () => {
      let promise: Promise<unknown> | undefined;
      assert.doesNotThrow(() => {
        promise = payClient().refund({ out_trade_no: 'P1', out_refund_no: 'R1', total_fee: 1, refund_fee: 1 });
      });
      await assert.rejects(promise!, (err: unknown) => err instanceof WechatRequestNotSentError && err.reason === 'not_sent' && /certificate/.test(err.message));
    });

    it('a request that cannot be built or signed rejects as not sent, and nothing reaches the server', async () => {
      let received = 0;
      answer = () => { received++; return { body: signedReply({ result_code: 'SUCCESS' }) }; };
      // An element name XML cannot have: the builder throws.
      await assert.rejects(payClient().orderQuery({ 'out trade no': 'P1' } as any), (err: unknown) =>
        err instanceof WechatRequestNotSentError && /^request to \/pay\/orderquery not sent: invalid XML element name/.test(err.message));
      const unsignable = payClient();
      unsignable.signed = () => { throw new Error('no usable key'); };
      await assert.rejects(unsignable.closeOrder('P1'), (err: unknown) =>
        err instanceof WechatRequestNotSentError && err.message === 'request to /pay/closeorder not sent: no usable key');
      await assert.rejects(unsignable.downloadBill('20261123'), (err: unknown) =>
        err instanceof WechatRequestNotSentError && err.message === 'request to /pay/downloadbill not sent: no usable key');
      assert.equal(received, 0);
    });

    it('a dropped connection after sending is a transport error, not "not sent"', async () => {
      answer = req => { req.socket.destroy(); return { body: '' }; };
      await assert.rejects(payClient().closeOrder('P1'), (err: unknown) =>
        err instanceof WechatTransportError && !(err instanceof WechatRequestNotSentError) && err.reason === 'network');
    });
  });

  describe('WechatLoginClient', () => {
    const login = () => new WechatLoginClient({ appId: APP_ID, appSecret: 'not-a-real-secret', baseUrl: base, timeoutMs: 2000 });

    it('returns openid and session_key', async () => {
      answer = req => {
        const url = new URL(req.url ?? '/', base);
        assert.equal(url.pathname, '/sns/jscode2session');
        assert.equal(url.searchParams.get('js_code'), 'c0de');
        assert.equal(url.searchParams.get('grant_type'), 'authorization_code');
        return { body: JSON.stringify({ openid: 'o1', session_key: 'sk' }) };
      };
      assert.deepEqual(await login().code2Session('c0de'), { openid: 'o1', session_key: 'sk', unionid: undefined });
    });

    it('turns errcode into WechatLoginError', async () => {
      answer = () => ({ body: JSON.stringify({ errcode: 40029, errmsg: 'invalid code' }) });
      await assert.rejects(login().code2Session('x'), (err: unknown) => err instanceof WechatLoginError && err.errcode === 40029);
    });

    for (const body of [ 'null', '42', '"text"', 'not json', '{}', '{"openid":"o1"}' ]) {
      it(`answers a typed error, not a TypeError, for the reply ${body}`, async () => {
        answer = () => ({ body });
        await assert.rejects(login().code2Session('x'), WechatTransportError);
      });
    }
  });
});
