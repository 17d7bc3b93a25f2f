import * as http from 'node:http';
import * as https from 'node:https';
import { WechatRequestNotSentError, WechatTransportError } from './errors';

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
  return new Promise((resolve, reject) => {
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    let request: http.ClientRequest | undefined;
    let path = '(unparsed URL)'; // never the raw URL: its query may hold a secret
    const finish = (err: Error | null, res?: HttpResponse) => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      if (err) {
        request?.destroy();
        reject(err);
      } else {
        resolve(res!);
      }
    };
    // Anything thrown while setting up (a malformed URL or header) rejects, never throws. Node
    // gives a request its socket on a later tick, so nothing of a request that threw here was sent.
    try {
      const url = new URL(req.url);
      path = url.pathname;
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`unsupported protocol ${url.protocol}`);
      const transport = url.protocol === 'https:' ? https : http;
      const maxBytes = req.maxBytes ?? 10 * 1024 * 1024;
      timer = setTimeout(() => {
        finish(new WechatTransportError(`${path} did not answer within ${req.timeoutMs} ms`, 'timeout'));
      }, req.timeoutMs);
      request = transport.request(url, {
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
            finish(new WechatTransportError(`reply from ${path} exceeds ${maxBytes} bytes`, 'network'));
            return;
          }
          chunks.push(chunk);
        });
        res.on('end', () => {
          // A reply cut short (socket closed before Content-Length or the last chunk) is not a reply.
          if (!res.complete) {
            finish(new WechatTransportError(`reply from ${path} was cut off`, 'network'));
            return;
          }
          finish(null, { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
        });
        res.on('error', err => finish(new WechatTransportError(`reading reply from ${path}: ${err.message}`, 'network')));
        res.on('aborted', () => finish(new WechatTransportError(`reply from ${path} was cut off`, 'network')));
        res.on('close', () => finish(new WechatTransportError(`reply from ${path} was cut off`, 'network')));
      });
      request.on('error', err => finish(new WechatTransportError(`${path}: ${err.message}`, 'network')));
      if (req.body !== undefined) request.write(req.body);
      request.end();
    } catch (err) {
      finish(new WechatRequestNotSentError(`${path}: ${err instanceof Error ? err.message : String(err)}`));
    }
  });
}
