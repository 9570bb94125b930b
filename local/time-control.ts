/**
 * Local-only process clock: moves `Date.now()` and `new Date()` forward for everything running in the platform
 * process (handlers, pollers, fauxqs' visibility and delay deadlines, the DrChrono sandbox's clock and webhook
 * retry times), so tests advance time through schedules instead of waiting for it. Timers (setTimeout) are not
 * moved: code that compares deadlines with Date.now() on its own polling tick (fauxqs) sees the jump; a sandbox
 * webhook retry is run by `POST /_sandbox/retries/run`. Java DynamoDB Local keeps real time (it only sees TTL
 * attributes, which it does not expire).
 *
 * Installed once at platform start; with no advance it is the real clock. Never imported by shared/ or functions/.
 */
const RealDate = Date;
const realNow = RealDate.now.bind(RealDate);
let offsetMs = 0;
let installed = false;

export function clockOffsetMs(): number {
  return offsetMs;
}

/** Moves the process clock forward (never back: a clock going back would break the order guards' assumptions). */
export function advanceClock(ms: number): number {
  if (!Number.isFinite(ms) || ms < 0) throw new RangeError('advance must be a non-negative number of milliseconds');
  offsetMs += ms;
  return offsetMs;
}

/**
 * Back to the real clock. Only for a test's cleanup, so later suites sharing the platform read real time:
 * anything scheduled at an advanced time (visibility, delays, leases, watermarks) then lies in the future.
 */
export function resetClock(): void {
  offsetMs = 0;
}

export function installTimeControl(): void {
  if (installed) return;
  installed = true;
  const now = (): number => realNow() + offsetMs;
  // A Proxy rather than a subclass: `Date()` called as a function, `instanceof Date` on dates made before
  // installation, and subclasses of Date all keep working.
  globalThis.Date = new Proxy(RealDate, {
    construct: (target, args: unknown[], newTarget: NewableFunction) =>
      Reflect.construct(target, args.length === 0 ? [now()] : args, newTarget) as object,
    apply: () => new RealDate(now()).toString(),
    get: (target, prop, receiver) => (prop === 'now' ? now : Reflect.get(target, prop, receiver) as unknown),
  });
}
