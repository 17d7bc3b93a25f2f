import { buildXml, toXmlText } from './xml';

export * from './errors';
export * from './sign';
export * from './xml';
export * from './ids';
export * from './time';
export * from './jsapi';
export * from './tradeType';
export * from './http';
export * from './payClient';
export * from './loginClient';
export * from './oauthClient';
export * from './refundCrypto';
export * from './bill';
export * from './notification';
export * from './nativeScan';
export * from './observe';

/** The reply WeChat expects from a notification handler. */
export function notifyReply(ok: boolean, message = ok ? 'OK' : 'FAIL'): string {
  // buildXml keeps "]]>" inside the message from closing its CDATA early; a character XML cannot
  // carry becomes U+FFFD, since the answer must go out whatever the message holds.
  return buildXml({ return_code: ok ? 'SUCCESS' : 'FAIL', return_msg: toXmlText(String(message)) });
}
