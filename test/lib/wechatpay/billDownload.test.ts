import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import * as http from 'node:http';
import { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip, gzipSync } from 'node:zlib';
import {
  buildXml, parseXml, verifySign, WechatApiError, WechatBillError, WechatBillTooLargeError, WechatPayClient, WechatTransportError,
} from '../../../lib/wechatpay';

const APP_ID = 'wx1234567890abcdef';
const MCH_ID = '1900000109';
const API_KEY = 'k'.repeat(32);
const MiB = 1024 * 1024;

const BILL = '交易时间,商户订单号,总金额\r\n`2026-01-15 10:00:00,`P1,`12.00\r\n总交易单数,应结订单总金额\r\n`1,`12.00\r\n';

async function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(() => assert.fail('expected a failure'), err => err);
}

/** One reply per test: `answer` writes it; every request's fields are kept in `requests`. */
describe('lib/wechatpay WechatPayClient.downloadBill (GZIP, streamed, capped)', () => {
  let server: http.Server;
  let base = '';
  let answer: (res: http.ServerResponse) => void = res => res.end();
  let requests: Array<Record<string, string>> = [];

  before(async () => {
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', c => chunks.push(c));
      req.on('end', () => {
        requests.push(parseXml(Buffer.concat(chunks)));
        answer(res);
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  beforeEach(() => {
    requests = [];
  });

  after(async () => {
    server.closeAllConnections();
    server.close();
    await once(server, 'close');
  });

  function client(overrides: Partial<WechatPayClient['config']> = {}) {
    return new WechatPayClient({
      appId: APP_ID, mchId: MCH_ID, apiKey: API_KEY, signType: 'HMAC-SHA256', baseUrl: base, timeoutMs: 2000, ...overrides,
    });
  }

  it('asks for GZIP in a signed request and returns the decompressed bill', async () => {
    answer = res => res.writeHead(200, { 'Content-Type': 'application/x-gzip' }).end(gzipSync(BILL));
    assert.equal(await client().downloadBill('20260115', 'SUCCESS'), BILL);
    assert.equal(requests.length, 1);
    const [ request ] = requests;
    assert.equal(request.tar_type, 'GZIP');
    assert.equal(request.bill_date, '20260115');
    assert.equal(request.bill_type, 'SUCCESS');
    assert.equal(request.sign_type, 'HMAC-SHA256');
    assert.equal(verifySign(request, API_KEY, 'HMAC-SHA256'), true);
  });

  it('reads the GZIP magic bytes split across chunks, and UTF-8 characters split across chunks', async () => {
    const gz = gzipSync(BILL);
    answer = res => {
      res.writeHead(200);
      // One byte per chunk for the head: the magic and the first characters arrive in pieces.
      const head = [ ...gz.subarray(0, 12) ].map(b => Buffer.from([ b ]));
      const writeNext = () => {
        const chunk = head.shift();
        if (chunk) res.write(chunk, writeNext);
        else res.end(gz.subarray(12));
      };
      writeNext();
    };
    assert.equal(await client().downloadBill('20260115'), BILL);

    const plain = Buffer.from(BILL, 'utf8');
    answer = res => {
      res.writeHead(200);
      res.write(plain.subarray(0, 1), () => res.write(plain.subarray(1, 4), () => res.end(plain.subarray(4))));
    };
    assert.equal(await client().downloadBill('20260115'), BILL, 'a split 交 decodes whole');
  });

  it('reads a multi-member GZIP stream (concatenated members)', async () => {
    const half = BILL.length / 2;
    answer = res => res.writeHead(200).end(Buffer.concat([ gzipSync(BILL.slice(0, half)), gzipSync(BILL.slice(half)) ]));
    assert.equal(await client().downloadBill('20260115'), BILL);
  });

  it('returns an empty or one-byte body as it is (no GZIP to look for)', async () => {
    answer = res => res.writeHead(200).end();
    assert.equal(await client().downloadBill('20260115'), '');
    answer = res => res.writeHead(200).end('x');
    assert.equal(await client().downloadBill('20260115'), 'x');
    answer = res => res.writeHead(200).end(Buffer.from([ 0x1f ]));
    assert.equal(await client().downloadBill('20260115'), '\x1f');
  });

  it('returns a bill sent uncompressed although GZIP was asked', async () => {
    answer = res => res.writeHead(200, { 'Content-Type': 'text/plain' }).end(BILL);
    assert.equal(await client().downloadBill('20260115'), BILL);
  });

  it('turns an uncompressed XML error into WechatApiError(return) with its error_code', async () => {
    answer = res => res.writeHead(200, { 'Content-Type': 'text/xml' })
      .end(buildXml({ return_code: 'FAIL', return_msg: 'No Bill Exist', error_code: '20002' }));
    const err = await failure(client().downloadBill('20260115'));
    assert.ok(err instanceof WechatApiError, `expected a WechatApiError, got ${err}`);
    assert.equal(err.kind, 'return');
    assert.equal(err.errCode, '20002');
    assert.equal(err.errCodeDes, 'No Bill Exist');
    assert.deepEqual(err.reply, { return_code: 'FAIL', return_msg: 'No Bill Exist', error_code: '20002' });
  });

  it('turns a result_code=FAIL reply (SYSTEMERROR) into WechatApiError(result)', async () => {
    answer = res => res.writeHead(200)
      .end(buildXml({ return_code: 'SUCCESS', return_msg: 'OK', result_code: 'FAIL', err_code: 'SYSTEMERROR', err_code_des: '系统错误' }));
    const err = await failure(client().downloadBill('20260115'));
    assert.ok(err instanceof WechatApiError, `expected a WechatApiError, got ${err}`);
    assert.equal(err.kind, 'result');
    assert.equal(err.errCode, 'SYSTEMERROR');
    assert.equal(err.errCodeDes, '系统错误');
  });

  it('stops reading an endless GZIP stream at maxBillBytes decompressed: WechatBillTooLargeError, connection closed', async () => {
    let served = 0;
    let closed: Promise<unknown> = Promise.resolve();
    answer = res => {
      res.writeHead(200, { 'Content-Type': 'application/x-gzip' });
      closed = once(res, 'close');
      // A gzip bomb that never ends: zeros compress about 1000-fold.
      const zeros = new Readable({
        read() {
          served += MiB;
          this.push(Buffer.alloc(MiB));
        },
      });
      pipeline(zeros, createGzip(), res).catch(() => undefined);
    };
    const err = await failure(client({ maxBillBytes: 8 * MiB }).downloadBill('20260115'));
    assert.ok(err instanceof WechatBillTooLargeError, `expected a WechatBillTooLargeError, got ${err}`);
    assert.equal(err.measure, 'decompressed');
    assert.equal(err.limitBytes, 8 * MiB);
    assert.equal(err.message, `the bill exceeds ${8 * MiB} bytes decompressed`);
    // The client hung up: the endless reply was closed before its (never coming) end. How much the
    // server had gzipped by then depends on the kernel's socket buffers and the scheduler (zeros
    // compress 1000-fold, so megabytes of them fit in a buffer), not on the client: no bound on it.
    await closed;
    assert.ok(served > 8 * MiB, `the server produced only ${served} bytes, under the limit the client reported reaching`);
  });

  it('refuses a reply past maxBillCompressedBytes on the wire, compressed or not', async () => {
    const incompressible = gzipSync(randomBytes(300 * 1024));
    answer = res => res.writeHead(200).end(incompressible);
    let err = await failure(client({ maxBillCompressedBytes: 100 * 1024 }).downloadBill('20260115'));
    assert.ok(err instanceof WechatBillTooLargeError, `expected a WechatBillTooLargeError, got ${err}`);
    assert.equal(err.measure, 'compressed');
    assert.equal(err.limitBytes, 100 * 1024);
    assert.equal(err.message, `the bill exceeds ${100 * 1024} bytes on the wire`);

    answer = res => res.writeHead(200).end(Buffer.alloc(300 * 1024, 0x61));
    err = await failure(client({ maxBillCompressedBytes: 100 * 1024 }).downloadBill('20260115'));
    assert.ok(err instanceof WechatBillTooLargeError && err.measure === 'compressed', `got ${err}`);
  });

  it('a bill of exactly maxBillBytes is read', async () => {
    const exact = 'x'.repeat(64 * 1024);
    answer = res => res.writeHead(200).end(gzipSync(exact));
    assert.equal(await client({ maxBillBytes: 64 * 1024 }).downloadBill('20260115'), exact);
    const err = await failure(client({ maxBillBytes: 64 * 1024 - 1 }).downloadBill('20260115'));
    assert.ok(err instanceof WechatBillTooLargeError && err.measure === 'decompressed', `got ${err}`);
  });

  it('a GZIP body that does not decompress (corrupt, or truncated) is a WechatBillError', async () => {
    const gz = gzipSync(BILL.repeat(50));
    const corrupt = Buffer.concat([ gz.subarray(0, 10), Buffer.alloc(200, 0xff) ]);
    answer = res => res.writeHead(200).end(corrupt);
    let err = await failure(client().downloadBill('20260115'));
    assert.ok(err instanceof WechatBillError, `expected a WechatBillError, got ${err}`);
    assert.match(err.message, /^bill: the GZIP reply does not decompress: /);

    answer = res => res.writeHead(200).end(gz.subarray(0, gz.length - 20));
    err = await failure(client().downloadBill('20260115'));
    assert.ok(err instanceof WechatBillError, `expected a WechatBillError, got ${err}`);
    assert.equal(err.message, 'bill: the GZIP reply does not decompress: unexpected end of file');
  });

  it('a reply cut off mid-stream is WechatTransportError(network)', async () => {
    const gz = gzipSync(randomBytes(200 * 1024));
    answer = res => {
      res.writeHead(200, { 'Content-Length': String(gz.length) });
      res.write(gz.subarray(0, 50 * 1024), () => res.socket?.destroy());
    };
    const err = await failure(client().downloadBill('20260115'));
    assert.ok(err instanceof WechatTransportError, `expected a WechatTransportError, got ${err}`);
    assert.equal(err.reason, 'network');
    assert.equal(err.message, 'reply from /pay/downloadbill was cut off');
  });

  it('a non-200 status is WechatTransportError(http_status)', async () => {
    answer = res => res.writeHead(502).end('<html>Bad Gateway</html>');
    const err = await failure(client().downloadBill('20260115'));
    assert.ok(err instanceof WechatTransportError, `expected a WechatTransportError, got ${err}`);
    assert.equal(err.reason, 'http_status');
    assert.equal(err.message, '/pay/downloadbill answered HTTP 502');
  });

  it('the whole download has billTimeoutMs as its deadline', async () => {
    answer = res => {
      res.writeHead(200);
      res.write(gzipSync(BILL).subarray(0, 10)); // then nothing more
    };
    const err = await failure(client({ billTimeoutMs: 100 }).downloadBill('20260115'));
    assert.ok(err instanceof WechatTransportError, `expected a WechatTransportError, got ${err}`);
    assert.equal(err.reason, 'timeout');
    assert.equal(err.message, '/pay/downloadbill did not answer within 100 ms');
  });

  it('refuses caps that are not a positive whole number of bytes, or past the longest string', () => {
    for (const bad of [ 0, -1, 1.5, Number.NaN, 2 ** 40 ]) {
      assert.throws(() => client({ maxBillBytes: bad }), RangeError, String(bad));
    }
    for (const bad of [ 0, -1, 1.5, Number.NaN ]) {
      assert.throws(() => client({ maxBillCompressedBytes: bad }), RangeError, String(bad));
    }
  });
});
