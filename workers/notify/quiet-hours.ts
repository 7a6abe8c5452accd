// Quiet hours in the user's time zone (IANA, through Intl): pure helpers.

export interface QuietHours {
  /** HH:MM, 24 h. */
  start: string;
  end: string;
  /** IANA time zone, e.g. Europe/Berlin. */
  tz: string;
}

export const HHMM_RE = /^([01]\d|2[0-3]):([0-5]\d)$/;

export function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

function minutesOf(hhmm: string): number {
  const m = HHMM_RE.exec(hhmm);
  if (!m) throw new RangeError(`not HH:MM: ${hhmm}`);
  return Number(m[1]) * 60 + Number(m[2]);
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** Minutes since local midnight in `tz` (0..1439). */
export function localMinutes(now: Date, tz: string): number {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone: tz, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    formatters.set(tz, f);
  }
  let h = 0;
  let m = 0;
  for (const p of f.formatToParts(now)) {
    if (p.type === 'hour') h = Number(p.value) % 24;
    else if (p.type === 'minute') m = Number(p.value);
  }
  return h * 60 + m;
}

/** Whether `now` is inside the quiet period [start, end) in its time zone; the period may span midnight. start = end: never. */
export function inQuietHours(q: QuietHours, now: Date): boolean {
  const s = minutesOf(q.start);
  const e = minutesOf(q.end);
  if (s === e) return false;
  const t = localMinutes(now, q.tz);
  return s < e ? t >= s && t < e : t >= s || t < e;
}

/** Milliseconds from `now` until the quiet period ends (0 outside it); to the minute, DST shifts ignored. */
export function msUntilQuietEnd(q: QuietHours, now: Date): number {
  if (!inQuietHours(q, now)) return 0;
  const t = localMinutes(now, q.tz);
  const minutes = (minutesOf(q.end) - t + 1440) % 1440 || 1440;
  return minutes * 60_000 - now.getUTCSeconds() * 1000 - now.getUTCMilliseconds();
}
