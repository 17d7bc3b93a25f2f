import { Credentials } from './credentials';
import { jsonResponse, SimRequest, SimResponse } from './http';
import { newLoginCode, newRid } from './ids';

/** What every issued code carries: the app it is bound to and when it stops being valid. */
export interface IssuedCode {
  appId: string;
  expiresAt: Date;
  used: boolean;
}

/**
 * Single-use codes WeChat hands out (wx.login() codes, OAuth codes), each bound to the app that
 * asked for it and valid until it expires or is redeemed once.
 */
export class IssuedCodes<T extends object> {
  private readonly issued = new Map<string, T & IssuedCode>();

  constructor(private readonly ttlMs: number, private readonly now: () => Date) {}

  /** A new code for the app, carrying the given details. */
  issue(appId: string, details: T): string {
    const code = newLoginCode();
    this.issued.set(code, { ...details, appId, expiresAt: new Date(this.now().getTime() + this.ttlMs), used: false });
    return code;
  }

  /**
   * Redeems the code for the app, with WeChat's errors: another app's or an unknown code is
   * invalid (40029), a used one 40163, an expired one invalid (40029).
   */
  redeem(code: string, appId: string): { issued: T & IssuedCode } | { error: SimResponse } {
    const issued = this.issued.get(code);
    // A code is bound to the app that asked for it: another app's code is simply invalid.
    if (!issued || issued.appId !== appId) return { error: error(40029, 'invalid code') };
    if (issued.used) return { error: error(40163, 'code been used') };
    if (this.now() >= issued.expiresAt) return { error: error(40029, 'invalid code') };
    issued.used = true;
    return { issued };
  }

  clear(): void {
    this.issued.clear();
  }
}

/**
 * WeChat's checks of a code exchange (GET with appid, secret, the code under codeParam and
 * grant_type=authorization_code), in its order: the request's appid and code, or the error reply.
 */
export function codeExchangeRequest(
  req: SimRequest, credentials: Credentials, codeParam: string,
): { appid: string; code: string } | { error: SimResponse } {
  if (req.method !== 'GET') return { error: reply({ errcode: 43001, errmsg: 'require GET method' }) };
  const q = req.url.searchParams;
  const appid = q.get('appid') ?? '';
  const secret = q.get('secret') ?? '';
  const code = q.get(codeParam) ?? '';
  if (!appid) return { error: error(41002, 'appid missing') };
  if (!secret) return { error: error(41004, 'appsecret missing') };
  if (!code) return { error: error(41008, 'missing code') };
  if (q.get('grant_type') !== 'authorization_code') return { error: error(40002, 'invalid grant_type') };
  const app = credentials.app(appid);
  if (!app) return { error: error(40013, 'invalid appid') };
  if (app.appSecret !== secret) return { error: error(40125, 'invalid appsecret') };
  return { appid, code };
}

// WeChat labels this JSON as text/plain, so clients must parse the body whatever the type says.
export function reply(value: Record<string, unknown>): SimResponse {
  return jsonResponse(200, value, 'text/plain');
}

export function error(errcode: number, errmsg: string): SimResponse {
  return reply({ errcode, errmsg: `${errmsg}, rid: ${newRid()}` });
}

/** WeChat's reply when it fails on its side. */
export function systemError(): SimResponse {
  return reply({ errcode: -1, errmsg: 'system error' });
}
