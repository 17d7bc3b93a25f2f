/** WeChat's times are yyyyMMddHHmmss in Beijing time (UTC+8, no daylight saving). */
const BEIJING_OFFSET_MS = 8 * 3600 * 1000;

export function toBeijingCompact(date: Date): string {
  if (!(date instanceof Date) || !Number.isFinite(date.getTime())) throw new RangeError('toBeijingCompact needs a valid Date');
  const b = new Date(date.getTime() + BEIJING_OFFSET_MS);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${b.getUTCFullYear()}${pad(b.getUTCMonth() + 1)}${pad(b.getUTCDate())}` +
    `${pad(b.getUTCHours())}${pad(b.getUTCMinutes())}${pad(b.getUTCSeconds())}`;
}

/** Parses yyyyMMddHHmmss (Beijing) or yyyy-MM-dd HH:mm:ss (Beijing); undefined when malformed. */
export function fromBeijing(text: string | undefined): Date | undefined {
  if (!text) return undefined;
  // Exactly one of the two formats: no mixing such as "2024-0101 12:0000".
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(text.trim()) ??
    /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/.exec(text.trim());
  if (!m) return undefined;
  const [ , y, mo, d, h, mi, s ] = m.map(Number);
  const utc = Date.UTC(y, mo - 1, d, h, mi, s) - BEIJING_OFFSET_MS;
  const date = new Date(utc);
  // Refuse out-of-range parts (month 13, second 61) that Date.UTC would roll over.
  if (toBeijingCompact(date) !== `${m[1]}${m[2]}${m[3]}${m[4]}${m[5]}${m[6]}`) return undefined;
  return date;
}

/** yyyyMMdd of a Beijing calendar day, as bills are named. */
export function beijingDay(date: Date): string {
  return toBeijingCompact(date).slice(0, 8);
}
