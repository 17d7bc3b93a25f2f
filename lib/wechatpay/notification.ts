import { WechatXmlError } from './errors';
import { parseXml } from './xml';

/** A notification's body as read: its fields, and why it is refused if it is. */
export type ReadNotification =
  | { fields: Record<string, string>; refused?: undefined }
  | { fields?: Record<string, string>; refused: string };

/**
 * Reads a WeChat notification (payment or refund result) and checks what needs no database:
 * well-formed flat XML within `maxBytes`, return_code SUCCESS, one of the merchant's appids and
 * its mch_id. Which appid the notification must carry is the order's (checked with the order, in
 * the settlement rules); here any of the merchant's apps passes. A body that is not XML is
 * refused; any other failure is thrown.
 */
export function readNotification(raw: Buffer, expect: { appIds: readonly string[]; mchId: string; maxBytes: number }): ReadNotification {
  const read = readPostedXml(raw, expect.maxBytes);
  if (read.refused !== undefined) return read;
  const { fields } = read;
  if (fields.return_code !== 'SUCCESS') return { fields, refused: `return_code is ${fields.return_code ?? 'missing'}` };
  if (typeof fields.appid !== 'string' || !expect.appIds.includes(fields.appid)) return { fields, refused: 'appid is not ours' };
  if (fields.mch_id !== expect.mchId) return { fields, refused: 'mch_id is not ours' };
  return { fields };
}

/**
 * A body WeChat POSTs to us (a notification, a scan callback), read as flat XML within `maxBytes`:
 * its fields, or why it is refused when it is not such XML. Any other failure is thrown.
 */
export function readPostedXml(raw: Buffer, maxBytes: number): { fields: Record<string, string>; refused?: undefined } | { fields?: undefined; refused: string } {
  try {
    return { fields: parseXml(raw, { maxBytes }) };
  } catch (err) {
    if (err instanceof WechatXmlError) return { refused: `unreadable XML: ${err.message}` };
    throw err;
  }
}
