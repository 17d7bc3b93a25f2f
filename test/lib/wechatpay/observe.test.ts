import assert from 'node:assert/strict';
import { once } from 'node:events';
import * as http from 'node:http';
import { AddressInfo } from 'node:net';
import {
  buildXml, observeCall, sign, WechatApiError, WechatCallRecord, WechatLoginClient, WechatPayClient, WechatTransportError,
} from '../../../lib/wechatpay';

const APP_ID = 'wx1234567890abcdef';
const MCH_ID = '1900000109';
const API_KEY = 'k'.repeat(32);

describe('lib/wechatpay observer hook (what the metrics see of each WeChat call)', () => {
  let server: http.Server;
  let base = '';
  let answer: () => { status?: number; body: string } = () => ({ body: '' });
  const seen: WechatCallRecord[] = [];
  const observer = (call: WechatCallRecord) => { seen.push(call); };

  before(async () => {
    server = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        const out = answer();
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
  beforeEach(() => { seen.length = 0; });

  const payClient = () => new WechatPayClient({ appId: APP_ID, mchId: MCH_ID, apiKey: API_KEY, signType: 'MD5', baseUrl: base, timeoutMs: 2000, observer });
  function signedReply(fields: Record<string, string>): string {
    const all = { return_code: 'SUCCESS', return_msg: 'OK', appid: APP_ID, mch_id: MCH_ID, nonce_str: 'abc', ...fields };
    return buildXml({ ...all, sign: sign(all, API_KEY, 'MD5') });
  }
  const strip = (calls: WechatCallRecord[]) => calls.map(({ api, result, code }) => ({ api, result, code }));

  it('a good answer: SUCCESS, with the API path and a duration', async () => {
    answer = () => ({ body: signedReply({ result_code: 'SUCCESS', trade_state: 'NOTPAY' }) });
    await payClient().orderQuery({ out_trade_no: 'P1' });
    assert.deepEqual(strip(seen), [{ api: '/pay/orderquery', result: 'SUCCESS', code: '' }]);
    assert.ok(seen[0].durationMs >= 0 && Number.isFinite(seen[0].durationMs));
  });

  it('WeChat says no: FAIL with its err_code, and the caller still gets the typed error', async () => {
    answer = () => ({ body: signedReply({ result_code: 'FAIL', err_code: 'ORDERNOTEXIST', err_code_des: 'no such order' }) });
    await assert.rejects(payClient().orderQuery({ out_trade_no: 'P1' }), (err: unknown) => err instanceof WechatApiError && err.errCode === 'ORDERNOTEXIST');
    assert.deepEqual(strip(seen), [{ api: '/pay/orderquery', result: 'FAIL', code: 'ORDERNOTEXIST' }]);
  });

  it('no trustworthy answer: ERROR with the reason (HTTP status, forged signature, unreadable reply)', async () => {
    answer = () => ({ status: 502, body: 'bad gateway' });
    await assert.rejects(payClient().closeOrder('P1'), WechatTransportError);
    answer = () => ({ body: signedReply({ result_code: 'SUCCESS' }).replace(/<sign>.*<\/sign>/, '<sign><![CDATA[0000]]></sign>') });
    await assert.rejects(payClient().closeOrder('P1'));
    answer = () => ({ body: 'not xml' });
    await assert.rejects(payClient().closeOrder('P1'));
    assert.deepEqual(strip(seen), [
      { api: '/pay/closeorder', result: 'ERROR', code: 'http_status' },
      { api: '/pay/closeorder', result: 'ERROR', code: 'bad_signature' },
      { api: '/pay/closeorder', result: 'ERROR', code: 'bad_reply' },
    ]);
  });

  it('a code that is not a code (free text from an unsigned reply) is not passed on as a label', async () => {
    answer = () => ({ body: buildXml({ return_code: 'FAIL', return_msg: 'x' }).replace('FAIL', 'FAIL with spaces') });
    await assert.rejects(payClient().orderQuery({ out_trade_no: 'P1' }), WechatApiError);
    assert.deepEqual(strip(seen), [{ api: '/pay/orderquery', result: 'FAIL', code: 'OTHER' }]);
  });

  it('login: code2Session errcode is FAIL with the errcode', async () => {
    answer = () => ({ body: JSON.stringify({ errcode: 40029, errmsg: 'invalid code' }) });
    const login = new WechatLoginClient({ appId: APP_ID, appSecret: 's', baseUrl: base, timeoutMs: 2000, observer });
    await assert.rejects(login.code2Session('c'));
    assert.deepEqual(strip(seen), [{ api: '/sns/jscode2session', result: 'FAIL', code: '40029' }]);
  });

  it('an observer that throws changes nothing for the caller', async () => {
    assert.equal(await observeCall(() => { throw new Error('broken observer'); }, '/x', async () => 42), 42);
    await assert.rejects(observeCall(() => { throw new Error('broken observer'); }, '/x', async () => { throw new RangeError('the call failed'); }), RangeError);
  });
});
