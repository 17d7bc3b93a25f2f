import { WechatXmlError } from './errors';
import { parseXml } from './xml';

/** A notification's body as read: its fields, and why it is refused if it is. */
export type ReadNotification =
  | { fields: Record<string, string>; refused?: undefined }
  | { fields?: Record<string, string>; refused: string };

/**
 * Reads a WeChat notification (payment or refund result) and checks what needs no database:
 * well-formed flat XML within `maxBytes`, return_code SUCCESS, and our appid and mch_id. A body
 * that is not XML is refused; any other failure is thrown.
 */
export function readNotification(raw: Buffer, expect: { appId: string; mchId: string; maxBytes: number }): ReadNotification {
  let fields: Record<string, string>;
  try {
    fields = parseXml(raw, { maxBytes: expect.maxBytes });
  } catch (err) {
    if (err instanceof WechatXmlError) return { refused: `unreadable XML: ${err.message}` };
    throw err;
  }
  if (fields.return_code !== 'SUCCESS') return { fields, refused: `return_code is ${fields.return_code ?? 'missing'}` };
  if (fields.appid !== expect.appId) return { fields, refused: 'appid is not ours' };
  if (fields.mch_id !== expect.mchId) return { fields, refused: 'mch_id is not ours' };
  return { fields };
}
