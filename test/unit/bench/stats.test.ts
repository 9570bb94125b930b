import { median, percentile, summarize, summarizeBy } from '../../../bench/stats';

describe('median', () => {
  it('is the middle value of an odd count, whatever the input order', () => {
    expect(median([9, 1, 5])).toBe(5);
  });

  it('is the mean of the two middle values of an even count', () => {
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });

  it('ignores non-finite values', () => {
    expect(median([1, Number.NaN, 3, Number.POSITIVE_INFINITY, 2])).toBe(2);
  });

  it('refuses to summarise nothing', () => {
    expect(() => median([])).toThrow(RangeError);
  });
});

describe('percentile (nearest rank)', () => {
  const hundred = Array.from({ length: 100 }, (_, i) => 100 - i); // 100..1, unsorted on purpose

  it('p50, p95 and p99 of 1..100 are 50, 95 and 99', () => {
    expect([percentile(hundred, 50), percentile(hundred, 95), percentile(hundred, 99)]).toEqual([50, 95, 99]);
  });

  it('p100 is the maximum and a tiny p is the minimum', () => {
    expect(percentile(hundred, 100)).toBe(100);
    expect(percentile(hundred, 0.001)).toBe(1);
  });

  it('with few samples rounds the rank up rather than interpolating', () => {
    expect(percentile([10, 20, 30], 95)).toBe(30);
    expect(percentile([10, 20, 30], 34)).toBe(20);
  });

  it('rejects a percentile outside (0, 100]', () => {
    expect(() => percentile([1], 0)).toThrow(RangeError);
    expect(() => percentile([1], 101)).toThrow(RangeError);
  });
});

describe('summarize', () => {
  it('reports median, min, max and the number of runs', () => {
    expect(summarize([3, 1, 2])).toEqual({ median: 2, min: 1, max: 3, runs: 3 });
  });

  it('summarizeBy picks one field of each run', () => {
    const runs = [{ usd: 2.5 }, { usd: 3.5 }, { usd: 3 }];
    expect(summarizeBy(runs, (r) => r.usd)).toEqual({ median: 3, min: 2.5, max: 3.5, runs: 3 });
  });
});
