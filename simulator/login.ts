import { codeExchangeRequest, error, IssuedCodes, reply, systemError } from './codes';
import { Credentials } from './credentials';
import { SimRequest, SimResponse } from './http';
import { newSessionKey, openidFromTestCode, randomOpenid } from './ids';
import { LoginCodeOptions } from './types';

/** wx.login() codes live 5 minutes. */
export const LOGIN_CODE_TTL_MS = 5 * 60 * 1000;
const TEST_CODE_PREFIX = 'test-';

/** Mini-program login: the codes wx.login() would hand out, and code2Session over them. */
export class LoginService {
  private readonly issued: IssuedCodes<{ openid: string; unionid?: string }>;
  private readonly usedTestCodes = new Set<string>();

  constructor(private readonly credentials: Credentials, private readonly now: () => Date) {
    // Through this.now, so a test that moves this service's clock moves its codes' too.
    this.issued = new IssuedCodes(LOGIN_CODE_TTL_MS, () => this.now());
  }

  /** A new single-use code for the user, and the openid it stands for (random unless given). */
  issueCode(options: LoginCodeOptions = {}): { code: string; openid: string } {
    const appId = options.appId ?? this.credentials.defaultAppId;
    if (!this.credentials.app(appId)) throw new Error(`unknown appId ${appId}`);
    if (options.openid !== undefined && !/^[A-Za-z0-9_-]{1,128}$/.test(options.openid)) throw new Error('openid must be 1-128 of A-Z a-z 0-9 _ -');
    if (options.unionid !== undefined && !/^[A-Za-z0-9_-]{1,128}$/.test(options.unionid)) throw new Error('unionid must be 1-128 of A-Z a-z 0-9 _ -');
    const openid = options.openid ?? randomOpenid();
    const code = this.issued.issue(appId, { openid, unionid: options.unionid });
    return { code, openid };
  }

  openidForTestCode(code: string): string {
    if (!isTestCode(code)) throw new Error(`test codes start with "${TEST_CODE_PREFIX}"`);
    return openidFromTestCode(code);
  }

  /** GET /sns/jscode2session */
  handle(req: SimRequest): SimResponse {
    const request = codeExchangeRequest(req, this.credentials, 'js_code');
    if ('error' in request) return request.error;
    const { appid, code } = request;

    if (isTestCode(code)) {
      if (this.usedTestCodes.has(code)) return error(40163, 'code been used');
      this.usedTestCodes.add(code);
      return reply({ session_key: newSessionKey(), openid: openidFromTestCode(code) });
    }
    // A code is bound to the app that called wx.login(): another app's code is simply invalid.
    const redeemed = this.issued.redeem(code, appid);
    if ('error' in redeemed) return redeemed.error;
    const { issued } = redeemed;
    return reply({
      session_key: newSessionKey(),
      openid: issued.openid,
      ...(issued.unionid ? { unionid: issued.unionid } : {}),
    });
  }

  systemError(): SimResponse {
    return systemError();
  }

  reset(): void {
    this.issued.clear();
    this.usedTestCodes.clear();
  }
}

function isTestCode(code: string): boolean {
  return code.startsWith(TEST_CODE_PREFIX) && code.length > TEST_CODE_PREFIX.length;
}
