import { Credentials } from './credentials';
import { jsonResponse, SimRequest, SimResponse } from './http';
import { newLoginCode, newRid, newSessionKey, openidFromTestCode, randomOpenid } from './ids';
import { LoginCodeOptions } from './types';

/** wx.login() codes live 5 minutes. */
export const LOGIN_CODE_TTL_MS = 5 * 60 * 1000;
const TEST_CODE_PREFIX = 'test-';

interface IssuedCode {
  appId: string;
  openid: string;
  unionid?: string;
  expiresAt: Date;
  used: boolean;
}

/** Mini-program login: the codes wx.login() would hand out, and code2Session over them. */
export class LoginService {
  private readonly issued = new Map<string, IssuedCode>();
  private readonly usedTestCodes = new Set<string>();

  constructor(private readonly credentials: Credentials, private readonly now: () => Date) {}

  /** A new single-use code for the user, and the openid it stands for (random unless given). */
  issueCode(options: LoginCodeOptions = {}): { code: string; openid: string } {
    const appId = options.appId ?? this.credentials.defaultAppId;
    if (!this.credentials.app(appId)) throw new Error(`unknown appId ${appId}`);
    if (options.openid !== undefined && !/^[A-Za-z0-9_-]{1,128}$/.test(options.openid)) throw new Error('openid must be 1-128 of A-Z a-z 0-9 _ -');
    if (options.unionid !== undefined && !/^[A-Za-z0-9_-]{1,128}$/.test(options.unionid)) throw new Error('unionid must be 1-128 of A-Z a-z 0-9 _ -');
    const code = newLoginCode();
    const openid = options.openid ?? randomOpenid();
    this.issued.set(code, {
      appId,
      openid,
      unionid: options.unionid,
      expiresAt: new Date(this.now().getTime() + LOGIN_CODE_TTL_MS),
      used: false,
    });
    return { code, openid };
  }

  openidForTestCode(code: string): string {
    if (!isTestCode(code)) throw new Error(`test codes start with "${TEST_CODE_PREFIX}"`);
    return openidFromTestCode(code);
  }

  /** GET /sns/jscode2session */
  handle(req: SimRequest): SimResponse {
    if (req.method !== 'GET') return reply({ errcode: 43001, errmsg: 'require GET method' });
    const q = req.url.searchParams;
    const appid = q.get('appid') ?? '';
    const secret = q.get('secret') ?? '';
    const code = q.get('js_code') ?? '';
    if (!appid) return error(41002, 'appid missing');
    if (!secret) return error(41004, 'appsecret missing');
    if (!code) return error(41008, 'missing code');
    if (q.get('grant_type') !== 'authorization_code') return error(40002, 'invalid grant_type');
    const app = this.credentials.app(appid);
    if (!app) return error(40013, 'invalid appid');
    if (app.appSecret !== secret) return error(40125, 'invalid appsecret');

    if (isTestCode(code)) {
      if (this.usedTestCodes.has(code)) return error(40163, 'code been used');
      this.usedTestCodes.add(code);
      return reply({ session_key: newSessionKey(), openid: openidFromTestCode(code) });
    }
    const issued = this.issued.get(code);
    // A code is bound to the app that called wx.login(): another app's code is simply invalid.
    if (!issued || issued.appId !== appid) return error(40029, 'invalid code');
    if (issued.used) return error(40163, 'code been used');
    if (this.now() >= issued.expiresAt) return error(40029, 'invalid code');
    issued.used = true;
    return reply({
      session_key: newSessionKey(),
      openid: issued.openid,
      ...(issued.unionid ? { unionid: issued.unionid } : {}),
    });
  }

  systemError(): SimResponse {
    return reply({ errcode: -1, errmsg: 'system error' });
  }

  reset(): void {
    this.issued.clear();
    this.usedTestCodes.clear();
  }
}

function isTestCode(code: string): boolean {
  return code.startsWith(TEST_CODE_PREFIX) && code.length > TEST_CODE_PREFIX.length;
}

// WeChat labels this JSON as text/plain, so clients must parse the body whatever the type says.
function reply(value: Record<string, unknown>): SimResponse {
  return jsonResponse(200, value, 'text/plain');
}

function error(errcode: number, errmsg: string): SimResponse {
  return reply({ errcode, errmsg: `${errmsg}, rid: ${newRid()}` });
}
