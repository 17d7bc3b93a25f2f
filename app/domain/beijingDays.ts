/** Calendar days in Beijing time (UTC+8, no daylight saving), as the dashboard and WeChat's bills count them. */

const DAY_MS = 24 * 3600 * 1000;
const OFFSET_MS = 8 * 3600 * 1000;
const DAY_PATTERN = /^(\d{4})-(\d{2})-(\d{2})$/;

/** YYYY-MM-DD of the Beijing day `at` falls in. */
export function beijingDate(at: Date): string {
  return new Date(at.getTime() + OFFSET_MS).toISOString().slice(0, 10);
}

/** Whether `day` is a real calendar day written YYYY-MM-DD. */
export function isCalendarDay(day: string): boolean {
  const m = DAY_PATTERN.exec(day);
  if (!m) return false;
  const date = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return date.toISOString().slice(0, 10) === day;
}

/** The UTC window [start, end) of a Beijing day: [D-1 16:00Z, D 16:00Z). */
export function beijingDayWindow(day: string): { start: Date; end: Date } {
  const start = new Date(Date.parse(`${day}T00:00:00.000Z`) - OFFSET_MS);
  return { start, end: new Date(start.getTime() + DAY_MS) };
}

export function addDays(day: string, days: number): string {
  return new Date(Date.parse(`${day}T00:00:00.000Z`) + days * DAY_MS).toISOString().slice(0, 10);
}

/** The `count` Beijing days ending with the one `now` falls in, oldest first. */
export function lastBeijingDays(now: Date, count: number): string[] {
  const today = beijingDate(now);
  return Array.from({ length: count }, (_, i) => addDays(today, i - count + 1));
}

/** Share of `part` in `whole`, 4 decimals; null when whole is 0 (no orders: no share). */
export function share(part: number, whole: number): number | null {
  return whole > 0 ? Math.round((part / whole) * 10000) / 10000 : null;
}
