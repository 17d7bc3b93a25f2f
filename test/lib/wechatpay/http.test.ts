import assert from 'node:assert/strict';
import { once } from 'node:events';
import * as http from 'node:http';
import { AddressInfo, Socket } from 'node:net';
import { Readable } from 'node:stream';
import { httpRequest, httpRequestStream, WechatBillTooLargeError, WechatRequestNotSentError, WechatTransportError } from '../../../lib/wechatpay';

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, body: Buffer) => void;

/** A local server on port 0 whose routes the tests define; every socket is tracked so `close` never waits. */
async function startServer(routes: Record<string, Handler>) {
  const sockets = new Set<Socket>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', c => chunks.push(c));
    req.on('end', () => {
      const handler = routes[new URL(req.url ?? '/', 'http://x').pathname];
      if (!handler) {
        res.writeHead(404).end('no route');
        return;
      }
      handler(req, res, Buffer.concat(chunks));
    });
  });
  server.on('connection', s => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    async close() {
      for (const s of sockets) s.destroy();
      if (server.listening) {
        server.close();
        await once(server, 'close');
      }
    },
  };
}

async function assertTransportError(promise: Promise<unknown>, reason: WechatTransportError['reason'], pattern?: RegExp) {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof WechatTransportError, `expected WechatTransportError, got ${String(err)}`);
    assert.equal(err.reason, reason, err.message);
    if (pattern) assert.match(err.message, pattern);
    return true;
  });
}

describe('lib/wechatpay http httpRequest', () => {
  let server: Awaited<ReturnType<typeof startServer>>;
  let headersSent: () => void = () => undefined;

  before(async () => {
    server = await startServer({
      '/echo': (req, res, body) => {
        res.writeHead(200, { 'Content-Type': 'application/json', 'X-Reply': 'yes' });
        res.end(JSON.stringify({ method: req.method, url: req.url, body: body.toString('utf8'),
          contentType: req.headers['content-type'], contentLength: req.headers['content-length'] }));
      },
      '/status500': (_req, res) => res.writeHead(500).end('<xml><return_code>FAIL</return_code></xml>'),
      '/status302': (_req, res) => res.writeHead(302, { Location: '/echo' }).end(),
      '/empty': (_req, res) => res.writeHead(204).end(),
      '/hang': () => undefined,
      '/headers-then-hang': (_req, res) => {
        res.writeHead(200, { 'Content-Length': '100' });
        res.write('partial');
        headersSent();
      },
      '/cut-length': (_req, res) => {
        res.writeHead(200, { 'Content-Length': '1000' });
        res.write('x'.repeat(100), () => res.socket?.destroy());
      },
      '/cut-chunked': (_req, res) => {
        res.writeHead(200, { 'Content-Type': 'text/plain' }); // chunked: no Content-Length
        res.write('x'.repeat(100), () => res.socket?.destroy());
      },
      '/drop': req => req.socket.destroy(),
      '/big': (_req, res) => res.writeHead(200).end(Buffer.alloc(5000, 0x61)),
      '/big-chunked': (_req, res) => {
        res.writeHead(200);
        for (let i = 0; i < 10; i++) res.write(Buffer.alloc(1000, 0x62));
        res.end();
      },
      '/exact': (_req, res) => res.writeHead(200).end(Buffer.alloc(1000, 0x63)),
      '/binary': (_req, res) => res.writeHead(200).end(Buffer.from([ 0x00, 0xff, 0x1f, 0x8b ])),
    });
  });

  after(async () => {
    await server.close();
  });

  describe('success', () => {
    it('POSTs a body and resolves with status, headers and body', async () => {
      const xml = '<xml><body><![CDATA[测试]]></body></xml>';
      const res = await httpRequest({
        method: 'POST', url: `${server.base}/echo`, body: xml, headers: { 'Content-Type': 'text/xml; charset=utf-8' }, timeoutMs: 2000,
      });
      assert.equal(res.status, 200);
      assert.equal(res.headers['x-reply'], 'yes');
      assert.ok(Buffer.isBuffer(res.body));
      const echo = JSON.parse(res.body.toString('utf8'));
      assert.deepEqual(echo, {
        method: 'POST', url: '/echo', body: xml, contentType: 'text/xml; charset=utf-8', contentLength: String(Buffer.byteLength(xml)),
      });
    });

    it('GETs with a query string', async () => {
      const res = await httpRequest({ method: 'GET', url: `${server.base}/echo?appid=a&js_code=b`, timeoutMs: 2000 });
      const echo = JSON.parse(res.body.toString('utf8'));
      assert.equal(echo.method, 'GET');
      assert.equal(echo.url, '/echo?appid=a&js_code=b');
      assert.equal(echo.body, '');
    });

    it('returns a reply of exactly maxBytes', async () => {
      const res = await httpRequest({ method: 'GET', url: `${server.base}/exact`, timeoutMs: 2000, maxBytes: 1000 });
      assert.equal(res.body.length, 1000);
    });

    it('returns the body bytes untouched', async () => {
      const res = await httpRequest({ method: 'GET', url: `${server.base}/binary`, timeoutMs: 2000 });
      assert.deepEqual([ ...res.body ], [ 0x00, 0xff, 0x1f, 0x8b ]);
    });

    it('returns an empty body', async () => {
      const res = await httpRequest({ method: 'GET', url: `${server.base}/empty`, timeoutMs: 2000 });
      assert.equal(res.status, 204);
      assert.equal(res.body.length, 0);
    });

    it('serves many requests in parallel', async () => {
      const replies = await Promise.all(Array.from({ length: 20 }, (_, i) =>
        httpRequest({ method: 'POST', url: `${server.base}/echo`, body: `n=${i}`, timeoutMs: 2000 })));
      replies.forEach((res, i) => assert.equal(JSON.parse(res.body.toString()).body, `n=${i}`));
    });
  });

  describe('non-200 status', () => {
    it('resolves a 500 with its status and body (the caller decides)', async () => {
      const res = await httpRequest({ method: 'POST', url: `${server.base}/status500`, body: '<xml/>', timeoutMs: 2000 });
      assert.equal(res.status, 500);
      assert.match(res.body.toString(), /FAIL/);
    });

    it('resolves a 404', async () => {
      const res = await httpRequest({ method: 'GET', url: `${server.base}/nowhere`, timeoutMs: 2000 });
      assert.equal(res.status, 404);
    });

    it('does not follow a redirect', async () => {
      const res = await httpRequest({ method: 'GET', url: `${server.base}/status302`, timeoutMs: 2000 });
      assert.equal(res.status, 302);
      assert.equal(res.headers.location, '/echo');
    });
  });

  describe('failures', () => {
    it('times out on a server that never answers', async () => {
      await assertTransportError(httpRequest({ method: 'POST', url: `${server.base}/hang`, body: 'x', timeoutMs: 50 }),
        'timeout', /\/hang did not answer within 50 ms/);
    });

    it('times out on a reply that starts and never finishes (the deadline covers the whole reply)', async () => {
      const started = new Promise<void>(resolve => { headersSent = resolve; });
      const pending = httpRequest({ method: 'GET', url: `${server.base}/headers-then-hang`, timeoutMs: 150 });
      await started;
      await assertTransportError(pending, 'timeout');
    });

    it('reports a refused connection as network', async () => {
      const closed = await startServer({});
      const base = closed.base;
      await closed.close();
      await assertTransportError(httpRequest({ method: 'GET', url: `${base}/echo`, timeoutMs: 2000 }), 'network', /ECONNREFUSED/);
    });

    it('reports a connection dropped before any reply as network', async () => {
      await assertTransportError(httpRequest({ method: 'POST', url: `${server.base}/drop`, body: 'x', timeoutMs: 2000 }), 'network');
    });

    it('reports a reply cut short of its Content-Length as network', async () => {
      await assertTransportError(httpRequest({ method: 'GET', url: `${server.base}/cut-length`, timeoutMs: 2000 }), 'network');
    });

    it('reports a chunked reply cut before its last chunk as network', async () => {
      await assertTransportError(httpRequest({ method: 'GET', url: `${server.base}/cut-chunked`, timeoutMs: 2000 }), 'network');
    });

    it('refuses a reply over maxBytes (Content-Length)', async () => {
      await assertTransportError(httpRequest({ method: 'GET', url: `${server.base}/big`, timeoutMs: 2000, maxBytes: 1000 }),
        'network', /exceeds 1000 bytes/);
    });

    it('refuses a reply over maxBytes (chunked)', async () => {
      await assertTransportError(httpRequest({ method: 'GET', url: `${server.base}/big-chunked`, timeoutMs: 2000, maxBytes: 2500 }),
        'network', /exceeds 2500 bytes/);
    });

    it('rejects (does not throw) on a malformed URL, without echoing it', async () => {
      let promise: Promise<unknown> | undefined;
      assert.doesNotThrow(() => { promise = httpRequest({ method: 'GET', url: 'not a url?secret=s3cr3t', timeoutMs: 2000 }); });
      await assert.rejects(promise!, (err: unknown) => {
        assert.ok(err instanceof WechatRequestNotSentError);
        assert.equal(err.reason, 'not_sent');
        assert.ok(!err.message.includes('s3cr3t'), err.message);
        return true;
      });
    });

    // Failures before anything is sent are told apart (WechatRequestNotSentError): WeChat cannot have acted on them.
    it('rejects an unsupported protocol, as not sent', async () => {
      const promise = httpRequest({ method: 'GET', url: 'ftp://127.0.0.1/x', timeoutMs: 2000 });
      await assert.rejects(promise, WechatRequestNotSentError);
      await assertTransportError(promise, 'not_sent', /protocol/);
    });

    it('rejects a header value that cannot be sent, as not sent', async () => {
      const promise = httpRequest({
        method: 'POST', url: `${server.base}/echo`, body: 'x', headers: { 'X-Bad': 'a\r\nInjected: 1' }, timeoutMs: 2000,
      });
      await assert.rejects(promise, WechatRequestNotSentError);
      await assertTransportError(promise, 'not_sent');
    });

    it('still works after all those failures', async () => {
      const res = await httpRequest({ method: 'GET', url: `${server.base}/echo`, timeoutMs: 2000 });
      assert.equal(res.status, 200);
    });
  });
});

describe('lib/wechatpay http httpRequestStream', () => {
  let server: Awaited<ReturnType<typeof startServer>>;
  let closed: Promise<unknown> = Promise.resolve();

  before(async () => {
    server = await startServer({
      '/chunks': (_req, res) => {
        res.writeHead(200, { 'X-Reply': 'yes' });
        res.write('one,', () => res.write('two,', () => res.end('three')));
      },
      '/endless': (_req, res) => {
        res.writeHead(200);
        closed = once(res, 'close');
        const endless = new Readable({ read() { this.push(Buffer.alloc(16 * 1024, 0x61)); } });
        endless.pipe(res);
        res.on('close', () => endless.destroy());
      },
    });
  });

  after(async () => {
    await server.close();
  });

  it('hands the body as it arrives to the consumer and resolves with its result', async () => {
    const res = await httpRequestStream({ method: 'GET', url: `${server.base}/chunks`, timeoutMs: 2000 }, async (body, path) => {
      const parts: string[] = [];
      for await (const chunk of body) parts.push(String(chunk));
      return { parts: parts.join(''), path };
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers['x-reply'], 'yes');
    assert.deepEqual(res.result, { parts: 'one,two,three', path: '/chunks' });
  });

  it('passes on a consumer\'s WechatError and closes the connection', async () => {
    const pending = httpRequestStream({ method: 'GET', url: `${server.base}/endless`, timeoutMs: 2000 }, async body => {
      let size = 0;
      for await (const chunk of body) {
        size += (chunk as Buffer).length;
        if (size > 64 * 1024) throw new WechatBillTooLargeError('decompressed', 64 * 1024);
      }
      return size;
    });
    await assert.rejects(pending, (err: unknown) => err instanceof WechatBillTooLargeError && err.limitBytes === 64 * 1024);
    await closed;
  });

  it('turns any other consumer failure into WechatTransportError(network)', async () => {
    const pending = httpRequestStream({ method: 'GET', url: `${server.base}/chunks`, timeoutMs: 2000 }, async () => {
      throw new Error('consumer broke');
    });
    await assertTransportError(pending, 'network', /^reading reply from \/chunks: consumer broke$/);
  });

  it('a consumer that throws synchronously rejects too', async () => {
    const pending = httpRequestStream({ method: 'GET', url: `${server.base}/chunks`, timeoutMs: 2000 }, () => {
      throw new Error('sync');
    });
    await assertTransportError(pending, 'network', /sync/);
  });
});
