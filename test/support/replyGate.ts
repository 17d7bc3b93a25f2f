import { once } from 'node:events';
import * as http from 'node:http';
import { AddressInfo } from 'node:net';

interface Held {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  res: http.ServerResponse;
}

/**
 * An HTTP relay in front of a server (the simulator): requests go through as they are, except that
 * the reply to the next request for a path armed with hold() is kept back, after the server has
 * acted on the request, until release(). A late reply made by an event the test controls, not by
 * a delay the test must guess.
 */
export class ReplyGate {
  url = '';
  private server?: http.Server;
  private armed?: { path: string; onHeld: () => void };
  private held?: Held;

  constructor(private readonly target: string) {}

  async start(): Promise<string> {
    this.server = http.createServer((req, res) => {
      this.relay(req, res).catch(err => {
        if (!res.headersSent) res.writeHead(502);
        res.end(String(err));
      });
    });
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.url;
  }

  /** Holds the reply to the next request for `path`; resolves once the server has answered it (the request took effect). */
  hold(path: string): Promise<void> {
    if (this.armed || this.held) throw new Error('a reply is already held');
    return new Promise(resolve => { this.armed = { path, onHeld: resolve }; });
  }

  /** Sends the held reply on. */
  release(): void {
    const held = this.held;
    if (!held) throw new Error('no reply is held');
    this.held = undefined;
    held.res.writeHead(held.status, held.headers);
    held.res.end(held.body);
  }

  async stop(): Promise<void> {
    if (this.held) this.release();
    this.armed = undefined;
    const server = this.server;
    this.server = undefined;
    if (server) {
      server.closeAllConnections();
      await new Promise(resolve => server.close(resolve));
    }
  }

  private async relay(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const target = new URL(req.url ?? '/', this.target);
    const reply = await new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
      const out = http.request(target, { method: req.method, headers: { ...req.headers, host: target.host } }, upstream => {
        const parts: Buffer[] = [];
        upstream.on('data', chunk => parts.push(chunk));
        upstream.on('end', () => resolve({ status: upstream.statusCode ?? 502, headers: upstream.headers, body: Buffer.concat(parts) }));
        upstream.on('error', reject);
      });
      out.on('error', reject);
      out.end(Buffer.concat(chunks));
    });
    const armed = this.armed;
    if (armed && target.pathname === armed.path) {
      this.armed = undefined;
      this.held = { ...reply, res };
      armed.onHeld();
      return;
    }
    res.writeHead(reply.status, reply.headers);
    res.end(reply.body);
  }
}
