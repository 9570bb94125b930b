/**
 * The sandbox clock. DrChrono timestamps carry no offset: they are the practice's wall-clock time. The sandbox
 * renders its clock in PRACTICE_TIME_ZONE. `offsetMs` lets tests move time forward (token expiry, hour resets).
 */
export const PRACTICE_TIME_ZONE = 'America/Los_Angeles';

const fmt = new Intl.DateTimeFormat('en-CA', {
  timeZone: PRACTICE_TIME_ZONE,
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hourCycle: 'h23',
});

/** "YYYY-MM-DDTHH:mm:ss" in practice-local time, no offset, as DrChrono sends it. */
export function practiceTimestamp(ms: number): string {
  const parts = Object.fromEntries(fmt.formatToParts(new Date(ms)).map((p) => [p.type, p.value]));
  return `${parts.year}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}:${parts.second}`;
}

export function practiceDate(ms: number): string {
  return practiceTimestamp(ms).slice(0, 10);
}

export class SandboxClock {
  offsetMs = 0;
  now(): number {
    return Date.now() + this.offsetMs;
  }
  advance(ms: number): void {
    this.offsetMs += ms;
  }
}
