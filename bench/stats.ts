/**
 * Summary statistics for benchmark figures: every reported figure is the median of several runs with its min and
 * max; latencies are reported as nearest-rank percentiles.
 */
export interface Summary {
  median: number;
  min: number;
  max: number;
  runs: number;
}

function sorted(values: readonly number[]): number[] {
  const finite = values.filter((v) => Number.isFinite(v));
  if (finite.length === 0) throw new RangeError('no finite values to summarise');
  return [...finite].sort((a, b) => a - b);
}

/** Median; the mean of the two middle values for an even count. */
export function median(values: readonly number[]): number {
  const s = sorted(values);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Nearest-rank percentile (p in (0, 100]): the smallest value with at least p % of values at or below it. */
export function percentile(values: readonly number[], p: number): number {
  if (!(p > 0 && p <= 100)) throw new RangeError(`percentile ${p} is outside (0, 100]`);
  const s = sorted(values);
  return s[Math.max(0, Math.ceil((p / 100) * s.length) - 1)]!;
}

export function summarize(values: readonly number[]): Summary {
  const s = sorted(values);
  return { median: median(s), min: s[0]!, max: s[s.length - 1]!, runs: s.length };
}

/** Summarises one numeric field across runs. */
export function summarizeBy<T>(runs: readonly T[], pick: (run: T) => number): Summary {
  return summarize(runs.map(pick));
}
