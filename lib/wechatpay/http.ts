import * as http from 'node:http';
import * as https from 'node:https';
import { WechatTransportError } from './errors';

export interface HttpRequest {
  method: 'GET' | 'POST';
  url: string;
  body?: string;
  headers?: Record<string, string>;
  timeoutMs: number;
  /** Upper bound on the reply size; a larger reply is a transport error. */
  maxBytes?: number;
  agent?: http.Agent | https.Agent;
}

export interface HttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/**
 * One HTTP exchange with a hard deadline covering connect, send and the whole reply: WeChat's
 * APIs are called from request handlers, which must not hang on a slow peer.
 */
export function httpRequest(req: HttpRequest): Promise<HttpResponse> {
  const url = new URL(req.url);
  const transport = url.protocol === 'https:' ? https : http;
  const maxBytes = req.maxBytes ?? 10 * 1024 * 1024;
  return new Promise((resolve, reject) => {
    let settled = false;
    const finish = (err: Error | null, res?: HttpResponse) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) reject(err); else resolve(res!);
    };
    const request = transport.request(url, {
      method: req.method,
      headers: {
        ...(req.body !== undefined ? { 'Content-Length': String(Buffer.byteLength(req.body)) } : {}),
        ...req.headers,
      },
      agent: req.agent,
    }, res => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > maxBytes) {
          request.destroy();
          finish(new WechatTransportError(`reply from ${url.pathname} exceeds ${maxBytes} bytes`, 'network'));
          return;
        }
        chunks.push(chunk);
      });
      res.on('end', () => finish(null, { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', err => finish(new WechatTransportError(`reading reply from ${url.pathname}: ${err.message}`, 'network')));
      res.on('aborted', () => finish(new WechatTransportError(`reply from ${url.pathname} was cut off`, 'network')));
    });
    const timer = setTimeout(() => {
      finish(new WechatTransportError(`${url.pathname} did not answer within ${req.timeoutMs} ms`, 'timeout'));
      request.destroy();
    }, req.timeoutMs);
    request.on('error', err => finish(new WechatTransportError(`${url.pathname}: ${err.message}`, 'network')));
    if (req.body !== undefined) request.write(req.body);
    request.end();
  });
}
