/**
 * DrChrono timestamps (and the `since` filter) are the practice's wall-clock time without an offset, so a
 * watermark we keep in UTC must be turned into the practice's local time before it is sent as `since`.
 * The practice's zone comes from its doctors (`timezone`, e.g. "US/Pacific").
 */
export const UNKNOWN_ZONE_MARGIN_HOURS = 12;

/**
 * One formatter per zone, kept: building an Intl.DateTimeFormat costs about 0.1 ms (a sinceParam call built four or
 * five), and a reconcile tick asks for each team's zone. Practices use a handful of zones; the bound only guards
 * against an unbounded stream of distinct names.
 */
const MAX_CACHED_ZONES = 100;
const formatters = new Map<string, Intl.DateTimeFormat>();

function wallClockFormat(timeZone: string): Intl.DateTimeFormat {
  let fmt = formatters.get(timeZone);
  if (fmt) return fmt;
  fmt = new Intl.DateTimeFormat('en-CA', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
  });
  if (formatters.size >= MAX_CACHED_ZONES) formatters.clear();
  formatters.set(timeZone, fmt);
  return fmt;
}

export function isValidTimeZone(tz: unknown): tz is string {
  if (typeof tz !== 'string' || tz === '') return false;
  try {
    wallClockFormat(tz);
    return true;
  } catch {
    return false;
  }
}

/** `YYYY-MM-DDTHH:mm:ss` of instant `at` on a wall clock in `timeZone`. */
export function wallClock(at: Date, timeZone: string): string {
  const p = Object.fromEntries(wallClockFormat(timeZone).formatToParts(at).map((x) => [x.type, x.value]));
  return `${p.year}-${p.month}-${p.day}T${p.hour}:${p.minute}:${p.second}`;
}

/** The zone's UTC offset at instant `at`, in ms (e.g. -7 h for US/Pacific in summer). */
function utcOffsetMs(at: Date, timeZone: string): number {
  return Date.parse(`${wallClock(at, timeZone)}Z`) - Math.floor(at.getTime() / 1000) * 1000;
}

/**
 * The `since` value for "changed between instant `from` and `until`". Without a known zone, the UTC wall clock
 * minus 12 h: no practice's local time is more than 12 h behind UTC, so nothing is missed (a few extra objects
 * are re-read, which the order-safe writes turn into 'unchanged'). When the clocks went back in between (end of
 * daylight saving time), changes after `from` carry wall-clock times up to an hour before `from`'s, so `from` is
 * expressed with the smaller of the two offsets.
 */
export function sinceParam(from: Date, timeZone: string | undefined, until: Date = from): string {
  if (!isValidTimeZone(timeZone)) return wallClock(new Date(from.getTime() - UNKNOWN_ZONE_MARGIN_HOURS * 3_600_000), 'UTC');
  const offset = Math.min(utcOffsetMs(from, timeZone), utcOffsetMs(until, timeZone));
  return wallClock(new Date(from.getTime() + offset), 'UTC');
}

/** The practice's zone: the connected user's doctor's, else the first doctor with a valid zone. */
export function practiceTimeZoneOf(doctors: readonly { id: number; timezone?: unknown }[], preferredDoctorId?: number): string | undefined {
  const preferred = doctors.find((d) => d.id === preferredDoctorId);
  if (preferred && isValidTimeZone(preferred.timezone)) return preferred.timezone;
  return doctors.map((d) => d.timezone).find(isValidTimeZone);
}
