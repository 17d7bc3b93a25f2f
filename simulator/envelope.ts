import { buildXml, isSignType, nonceStr, parseXml, sign, SignType, verifySign } from '../lib/wechatpay';
import { Credentials } from './credentials';
import { SimRequest, SimResponse, xmlResponse } from './http';
import { MerchantCredential } from './types';

/** A pay API request whose form and signature checked out. */
export interface PayRequest {
  params: Record<string, string>;
  merchant: MerchantCredential;
  appId: string;
  signType: SignType;
}

export type Opened = { request: PayRequest; response?: undefined } | { response: SimResponse; request?: undefined };

const MAX_REQUEST_XML_BYTES = 64 * 1024;

/**
 * The checks every pay API makes before its own: POST, readable XML, a known merchant, a valid
 * signature (with the request's sign_type, MD5 when absent), then appid and nonce_str. Failures
 * before the signature is trusted are unsigned return_code=FAIL; later ones are signed business
 * failures, as WeChat does.
 */
export function openPayRequest(req: SimRequest, credentials: Credentials): Opened {
  if (req.method !== 'POST') return { response: returnFail('请使用post方法') };
  if (req.body.length === 0) return { response: returnFail('post数据为空') };
  let params: Record<string, string>;
  try {
    params = parseXml(req.body, { maxBytes: MAX_REQUEST_XML_BYTES });
  } catch {
    return { response: returnFail('XML格式错误') };
  }
  if (!params.mch_id) return { response: returnFail('缺少参数mch_id') };
  if (!/^\d{1,32}$/.test(params.mch_id)) return { response: returnFail('mch_id参数格式错误') };
  const merchant = credentials.merchant(params.mch_id);
  if (!merchant) return { response: returnFail('MCHID不存在') };
  const signType = params.sign_type ?? 'MD5';
  if (!isSignType(signType)) return { response: returnFail('sign_type参数格式错误') };
  if (!verifySign(params, merchant.apiKey, signType)) return { response: returnFail('签名错误') };

  const request: PayRequest = { params, merchant, appId: params.appid ?? '', signType };
  if (!params.appid) return { response: resultFail(request, 'LACK_PARAMS', '缺少参数appid') };
  if (!credentials.app(params.appid)) return { response: resultFail(request, 'APPID_NOT_EXIST', 'APPID不存在') };
  if (!merchant.appIds.includes(params.appid)) {
    return { response: resultFail(request, 'APPID_MCHID_NOT_MATCH', 'appid和mch_id不匹配') };
  }
  if (!params.nonce_str) return { response: resultFail(request, 'LACK_PARAMS', '缺少参数nonce_str') };
  if (params.nonce_str.length > 32) return { response: resultFail(request, 'PARAM_ERROR', 'nonce_str参数长度有误') };
  return { request };
}

/** Request-form failure: no result_code, no sign. */
export function returnFail(returnMsg: string): SimResponse {
  return xmlResponse(buildXml({ return_code: 'FAIL', return_msg: returnMsg }));
}

export function resultSuccess(request: PayRequest, fields: Record<string, string | number | undefined>): SimResponse {
  return signedReply(request, { result_code: 'SUCCESS', ...fields });
}

export function resultFail(
  request: PayRequest, errCode: string, errCodeDes: string, fields: Record<string, string | number | undefined> = {},
): SimResponse {
  return signedReply(request, { result_code: 'FAIL', err_code: errCode, err_code_des: errCodeDes, ...fields });
}

/** The systemerror fault: a well-formed request told to retry later. */
export function systemErrorReply(req: SimRequest, credentials: Credentials): SimResponse {
  const opened = openPayRequest(req, credentials);
  return opened.request ? resultFail(opened.request, 'SYSTEMERROR', '系统错误') : opened.response;
}

/** Replies carry the caller's appid and mch_id and are signed with the request's sign type. */
function signedReply(request: PayRequest, fields: Record<string, string | number | undefined>): SimResponse {
  const all: Record<string, string | number | undefined> = {
    return_code: 'SUCCESS',
    return_msg: 'OK',
    appid: request.appId,
    mch_id: request.merchant.mchId,
    device_info: request.params.device_info,
    nonce_str: nonceStr(),
    ...fields,
  };
  const out: Record<string, string> = {};
  for (const [ name, value ] of Object.entries(all)) {
    if (value !== undefined && value !== '') out[name] = String(value);
  }
  out.sign = sign(out, request.merchant.apiKey, request.signType);
  return xmlResponse(buildXml(out));
}
