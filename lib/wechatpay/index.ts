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
export * from './bill';
export * from './notification';

/** The reply WeChat expects from a notification handler. */
export function notifyReply(ok: boolean, message = ok ? 'OK' : 'FAIL'): string {
  // A single pass of replace(/]]>/g, '') leaves "]]>" behind for "]]]]>>"; split every "]]>"
  // across two CDATA sections instead, which keeps the text and cannot close the section early.
  const safe = String(message).split(']]>').join(']]]]><![CDATA[>');
  return `<xml><return_code><![CDATA[${ok ? 'SUCCESS' : 'FAIL'}]]></return_code><return_msg><![CDATA[${safe}]]></return_msg></xml>`;
}
