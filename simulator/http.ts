import * as http from 'node:http';

/** What a route sees: the whole body is read before the route runs. */
export interface SimRequest {
  method: string;
  url: URL;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** Subject CN of a verified TLS client certificate (HTTPS server only). */
  clientCertCN?: string;
}

export interface SimResponse {
  status: number;
  contentType: string;
  body: string | Buffer;
  headers?: Record<string, string>;
}

export function jsonResponse(status: number, value: unknown, contentType = 'application/json; charset=utf-8'): SimResponse {
  return { status, contentType, body: JSON.stringify(value) };
}

export function xmlResponse(xml: string): SimResponse {
  return { status: 200, contentType: 'text/xml; charset=utf-8', body: xml };
}

export function textResponse(status: number, text: string): SimResponse {
  return { status, contentType: 'text/plain; charset=utf-8', body: text };
}

export function htmlResponse(html: string): SimResponse {
  return { status: 200, contentType: 'text/html; charset=utf-8', body: html };
}

/** Parses a JSON object body; undefined when it is not one. */
export function jsonObjectBody(req: SimRequest): Record<string, unknown> | undefined {
  if (req.body.length === 0) return {};
  try {
    const value = JSON.parse(req.body.toString('utf8'));
    return value && typeof value === 'object' && !Array.isArray(value) ? value : undefined;
  } catch {
    return undefined;
  }
}
