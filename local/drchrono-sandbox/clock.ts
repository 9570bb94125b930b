import { wallClock } from '../../shared/reconcile/practice-time';

/**
 * The sandbox clock. DrChrono timestamps carry no offset: they are the practice's wall-clock time. The sandbox
 * renders its clock in PRACTICE_TIME_ZONE with the same formatting reconcile uses to build `since`.
 * `offsetMs` lets tests move time forward (token expiry, hour resets).
 */
export const PRACTICE_TIME_ZONE = 'America/Los_Angeles';

/** "YYYY-MM-DDTHH:mm:ss" in practice-local time, no offset, as DrChrono sends it. */
export function practiceTimestamp(ms: number): string {
  return wallClock(new Date(ms), PRACTICE_TIME_ZONE);
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
