import * as http from 'node:http';
import * as https from 'node:https';
import { AddressInfo } from 'node:net';
import { TLSSocket } from 'node:tls';
import { parseXml } from '../lib/wechatpay';
import { FaultRegistry } from './faults';
import { SimRequest, SimResponse, textResponse } from './http';
import { ApiName, RecordedRequest } from './types';

export interface Route {
  /** Exact path, or a pattern whose groups the handler receives. */
  path: string | RegExp;
  /** Set for WeChat's own APIs: their requests are recorded and faults apply to them. */
  api?: ApiName;
  handle(req: SimRequest, match: RegExpExecArray | null): SimResponse | Promise<SimResponse>;
  /** The API's "busy, try again" answer, for the systemerror fault. */
  systemError?(req: SimRequest): SimResponse;
}

export interface ServerDeps {
  faults: FaultRegistry;
  now: () => Date;
  record(entry: RecordedRequest): void;
}

/** Far above any WeChat request; only guards the simulator against runaway bodies. */
const MAX_BODY_BYTES = 256 * 1024;

/** A node http(s) server dispatching to routes, with fault injection around WeChat's APIs. */
export class SimServer {
  private readonly server: http.Server;

  constructor(private readonly routes: Route[], private readonly deps: ServerDeps, tls?: https.ServerOptions) {
    const listener = (req: http.IncomingMessage, res: http.ServerResponse) => {
      this.dispatch(req, res).catch(err => {
        if (!res.headersSent) this.send(res, textResponse(500, `simulator error: ${(err as Error).message}`));
        else res.destroy();
      });
    };
    this.server = tls ? https.createServer(tls, listener) : http.createServer(listener);
  }

  listen(port: number, host: string): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve(this.server.address() as AddressInfo);
      });
    });
  }

  close(): Promise<void> {
    return new Promise(resolve => {
      if (!this.server.listening) return resolve();
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private async dispatch(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://simulator');
    let route: Route | undefined;
    let match: RegExpExecArray | null = null;
    for (const candidate of this.routes) {
      if (typeof candidate.path === 'string') {
        if (candidate.path === url.pathname) { route = candidate; break; }
      } else {
        match = candidate.path.exec(url.pathname);
        if (match) { route = candidate; break; }
      }
    }
    if (!route) return this.send(res, textResponse(404, 'Not Found'));

    const body = await readBody(req);
    if (!body) return this.send(res, textResponse(413, 'Request Entity Too Large'));
    const socket = req.socket as TLSSocket;
    const peer = typeof socket.getPeerCertificate === 'function' && socket.authorized ? socket.getPeerCertificate() : undefined;
    const simReq: SimRequest = {
      method: req.method ?? 'GET',
      url,
      headers: req.headers,
      body,
      clientCertCN: peer && typeof peer.subject?.CN === 'string' ? peer.subject.CN : undefined,
    };
    if (!route.api) return this.send(res, await route.handle(simReq, match));

    this.deps.record({ api: route.api, method: simReq.method, path: url.pathname, params: requestParams(simReq), at: this.deps.now() });
    const fault = this.deps.faults.take(route.api);
    if (fault?.kind === 'drop' && fault.beforeProcessing) return void req.socket.destroy();
    const response = fault?.kind === 'systemerror' && route.systemError
      ? route.systemError(simReq)
      : await route.handle(simReq, match);
    // slow and drop act on the reply: the request has taken effect, as when a reply is late or lost.
    if (fault?.kind === 'slow' && !(await replyDelay(req, fault.delayMs))) return void req.socket.destroy();
    if (fault?.kind === 'drop') return void req.socket.destroy();
    this.send(res, response);
  }

  private send(res: http.ServerResponse, response: SimResponse): void {
    if (res.destroyed) return;
    const body = typeof response.body === 'string' ? Buffer.from(response.body, 'utf8') : response.body;
    res.writeHead(response.status, {
      'Content-Type': response.contentType,
      'Content-Length': String(body.length),
      ...response.headers,
    });
    res.end(body);
  }
}

/**
 * Waits ms before replying; resolves false early when the connection closes (the client gave up,
 * or stop() closed every connection), so no timer outlives its request.
 */
function replyDelay(req: http.IncomingMessage, ms: number): Promise<boolean> {
  return new Promise(resolve => {
    const onClose = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      req.socket.off('close', onClose);
      resolve(true);
    }, ms);
    req.socket.once('close', onClose);
  });
}

/** The whole body, or undefined when it exceeds the limit. */
function readBody(req: http.IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on('end', () => resolve(tooLarge ? undefined : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** Query parameters for GET APIs, the XML fields otherwise (empty when unreadable). */
function requestParams(req: SimRequest): Record<string, string> {
  if (req.method === 'GET') return Object.fromEntries(req.url.searchParams);
  try {
    return parseXml(req.body, { maxBytes: MAX_BODY_BYTES });
  } catch {
    return {};
  }
}
