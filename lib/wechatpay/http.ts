import * as http from 'node:http';
import * as https from 'node:https';
import { WechatError, WechatRequestNotSentError, WechatTransportError } from './errors';

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

export type HttpStreamRequest = Omit<HttpRequest, 'maxBytes'>;

export interface HttpStreamResponse<T> {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** What `consume` made of the body. */
  result: T;
}

/**
 * One HTTP exchange with a hard deadline covering connect, send and the whole reply: WeChat's
 * APIs are called from request handlers, which must not hang on a slow peer.
 */
export async function httpRequest(req: HttpRequest): Promise<HttpResponse> {
  const maxBytes = req.maxBytes ?? 10 * 1024 * 1024;
  const { status, headers, result } = await httpRequestStream(req, (res, path) => collect(res, maxBytes, path));
  return { status, headers, body: result };
}

/**
 * Like httpRequest, but the reply body is handed as it arrives to `consume`, which reads it to
 * its end (a stream pipeline, say) and resolves with what it made of it; the deadline covers that
 * too. A rejection of `consume` that is a WechatError is passed on as it is, any other becomes a
 * WechatTransportError; either way the connection is closed.
 */
export function httpRequestStream<T>(
  req: HttpStreamRequest,
  consume: (body: http.IncomingMessage, path: string) => Promise<T>,
): Promise<HttpStreamResponse<T>> {
  return new Promise((resolve, reject) => {
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    let request: http.ClientRequest | undefined;
    let path = '(unparsed URL)'; // never the raw URL: its query may hold a secret
    const finish = (err: Error | null, res?: HttpStreamResponse<T>) => {
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
        // A reply cut short (socket closed before Content-Length or the last chunk) is not a reply.
        // The consumer's stream fails then, and its own typed error (a size cap that made it stop
        // reading) wins over this.
        const cutOff = () => new WechatTransportError(`reply from ${path} was cut off`, 'network');
        let aborted = false;
        res.on('aborted', () => { aborted = true; });
        let consuming: Promise<T>;
        try {
          consuming = consume(res, path);
        } catch (err) {
          consuming = Promise.reject(err);
        }
        consuming.then(result => {
          if (aborted || !res.complete) return finish(cutOff());
          finish(null, { status: res.statusCode ?? 0, headers: res.headers, result });
        }, (err: unknown) => {
          if (err instanceof WechatError) return finish(err);
          if (aborted || !res.complete) return finish(cutOff());
          finish(new WechatTransportError(`reading reply from ${path}: ${err instanceof Error ? err.message : String(err)}`, 'network'));
        });
      });
      request.on('error', err => finish(new WechatTransportError(`${path}: ${err.message}`, 'network')));
      if (req.body !== undefined) request.write(req.body);
      request.end();
    } catch (err) {
      finish(new WechatRequestNotSentError(`${path}: ${err instanceof Error ? err.message : String(err)}`));
    }
  });
}

/** The whole body, refused once it grows past maxBytes (nothing more is kept). */
function collect(res: http.IncomingMessage, maxBytes: number, path: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    res.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        chunks.length = 0;
        reject(new WechatTransportError(`reply from ${path} exceeds ${maxBytes} bytes`, 'network'));
        res.destroy();
        return;
      }
      chunks.push(chunk);
    });
    let ended = false;
    res.on('end', () => {
      ended = true;
      resolve(Buffer.concat(chunks));
    });
    res.on('error', reject);
    // Closed before its end: the exchange reports it as cut off. After the end, 'close' is how every
    // reply finishes: no error is built then (its stack trace was a cost on every WeChat call).
    res.on('close', () => {
      if (!ended) reject(new WechatTransportError(`reply from ${path} was cut off`, 'network'));
    });
  });
}
