/**
 * Waits for a child service to become ready by probing it, for as long as the service is alive. A busy 2-core CI
 * machine can take minutes to start a JVM; a short fixed deadline turned that into a failed test run. The wait
 * ends when the probe succeeds, when the process has exited (a real failure, reported at once), or after
 * `giveUpAfterMs` (a generous limit, only so a wedged process cannot hang a run forever). While waiting it
 * reports progress every `reportEveryMs`, so a slow start is visible instead of silent.
 */
export interface WaitForReadyOptions {
  what: string;
  /** Resolves when ready; throws (or rejects) while not. */
  probe: () => Promise<unknown>;
  /** Why the process can no longer become ready (it exited), or undefined while it is alive. */
  gone: () => string | undefined;
  giveUpAfterMs?: number;
  pollMs?: number;
  reportEveryMs?: number;
  report?: (line: string) => void;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

/** Ten minutes: far beyond any healthy start, well inside CI's time. */
export const DEFAULT_GIVE_UP_AFTER_MS = 10 * 60_000;

export async function waitForReady(o: WaitForReadyOptions): Promise<void> {
  const now = o.now ?? Date.now;
  const sleep = o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const started = now();
  const giveUpAt = started + (o.giveUpAfterMs ?? DEFAULT_GIVE_UP_AFTER_MS);
  const reportEvery = o.reportEveryMs ?? 15_000;
  let nextReport = started + reportEvery;
  for (;;) {
    const gone = o.gone();
    if (gone !== undefined) throw new Error(`${o.what} ${gone} before it was ready`);
    try {
      await o.probe();
      return;
    } catch {
      // not ready yet
    }
    const t = now();
    if (t >= giveUpAt) throw new Error(`${o.what} was alive but not ready after ${Math.round((t - started) / 1000)} s`);
    if (t >= nextReport) {
      o.report?.(`[local] still waiting for ${o.what} (${Math.round((t - started) / 1000)} s)`);
      nextReport = t + reportEvery;
    }
    await sleep(o.pollMs ?? 150);
  }
}
