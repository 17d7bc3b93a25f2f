export * from './errors';
export * from './sign';
export * from './xml';
export * from './ids';
export * from './time';
export * from './jsapi';
export * from './http';
export * from './payClient';
export * from './loginClient';
export * from './refundCrypto';

/** The reply WeChat expects from a notification handler. */
export function notifyReply(ok: boolean, message = ok ? 'OK' : 'FAIL'): string {
  return `<xml><return_code><![CDATA[${ok ? 'SUCCESS' : 'FAIL'}]]></return_code><return_msg><![CDATA[${message.replace(/]]>/g, '')}]]></return_msg></xml>`;
}
