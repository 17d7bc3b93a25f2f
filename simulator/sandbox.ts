import { createHash } from 'node:crypto';
import { buildXml, parseXml, verifySign } from '../lib/wechatpay';
import { Credentials } from './credentials';
import { returnFail } from './envelope';
import { SimRequest, SimResponse, xmlResponse } from './http';
import { MerchantCredential } from './types';

/** The path prefix of WeChat's (old) sandbox, in front of every pay API's path. */
export const SANDBOX_PREFIX = '/sandboxnew';

/** The sandbox key WeChat hands a merchant: fixed per API key here (32 hex characters, like a real one). */
export function sandboxKeyFor(apiKey: string): string {
  return createHash('md5').update(`sandbox:${apiKey}`, 'utf8').digest('hex');
}

/**
 * The merchants as the sandbox sees them: the same, except that requests are signed (and replies
 * signed) with the sandbox key instead of the API key. A request signed with the production key is
 * refused like any bad signature.
 */
export class SandboxCredentials extends Credentials {
  constructor(private readonly production: Credentials) {
    super();
  }

  override app(appId: string | undefined) {
    return this.production.app(appId);
  }

  override mchIds(): string[] {
    return this.production.mchIds();
  }

  override merchant(mchId: string | undefined): MerchantCredential | undefined {
    const merchant = this.production.merchant(mchId);
    return merchant && { ...merchant, apiKey: sandboxKeyFor(merchant.apiKey) };
  }
}

/** POST /sandboxnew/pay/getsignkey: mch_id, nonce_str, sign (MD5 with the production key) -> sandbox_signkey, unsigned. */
export function getSignKey(req: SimRequest, credentials: Credentials): SimResponse {
  if (req.method !== 'POST') return returnFail('请使用post方法');
  let params: Record<string, string>;
  try {
    params = parseXml(req.body, { maxBytes: 64 * 1024 });
  } catch {
    return returnFail('XML格式错误');
  }
  const merchant = credentials.merchant(params.mch_id);
  if (!merchant) return returnFail('MCHID不存在');
  if (!params.nonce_str) return returnFail('缺少参数nonce_str');
  if (!verifySign(params, merchant.apiKey, 'MD5')) return returnFail('签名错误');
  return xmlResponse(buildXml({ return_code: 'SUCCESS', return_msg: 'ok', mch_id: merchant.mchId, sandbox_signkey: sandboxKeyFor(merchant.apiKey) }));
}
