import {
  billedMs,
  costAgainstFloor,
  costLines,
  floorUsage,
  gbSeconds,
  scaleUsage,
  sqsBilledRequests,
  totalUsd,
  type AwsUsage,
} from '../../../bench/cost-model';
import { PRICES, priceOf } from '../../../bench/prices';

const usage = (over: Partial<AwsUsage> = {}): AwsUsage => ({
  events: 1000,
  httpApiRequests: 1000,
  lambda: [],
  sqsRequests: 0,
  dynamoDbWriteUnits: 0,
  dynamoDbReadUnits: 0,
  secretsManagerCalls: 0,
  kmsRequests: 0,
  ...over,
});

const line = (u: AwsUsage, item: string): number => costLines(u).find((l) => l.item === item)!.usd;

describe('price table', () => {
  it('gives every price a source URL', () => {
    const prices = Object.values(PRICES).filter((p): p is { source: string } => typeof p === 'object');
    expect(prices.length).toBeGreaterThanOrEqual(9);
    for (const p of prices) expect(p.source).toMatch(/^https:\/\//);
  });

  it('prices a quantity per the unit it is quoted in', () => {
    expect(priceOf(PRICES.secretsManagerApiCall, 10_000)).toBeCloseTo(0.05, 10);
    expect(priceOf(PRICES.httpApiRequest, 1)).toBeCloseTo(0.000001, 12);
  });
});

describe('billing units', () => {
  it('rounds Lambda duration up to the started millisecond, at least 1 ms', () => {
    expect([billedMs(0.2), billedMs(12), billedMs(12.01)]).toEqual([1, 12, 13]);
  });

  it('bills SQS one request per started 64 KB chunk', () => {
    expect([sqsBilledRequests(0), sqsBilledRequests(65_536), sqsBilledRequests(65_537), sqsBilledRequests(256 * 1024)]).toEqual([1, 1, 2, 4]);
  });

  it('converts milliseconds at a memory size into GB-seconds', () => {
    expect(gbSeconds({ fn: 'sync', invocations: 1, billedMs: 2000, memoryMb: 512 })).toBe(1);
  });
});

describe('costLines', () => {
  it('prices Lambda GB-seconds at the arm64 rate by default and the x86 rate on request', () => {
    const u = usage({ lambda: [{ fn: 'webhook', invocations: 0, billedMs: 4000, memoryMb: 256 }] });
    expect(line(u, 'Lambda webhook GB-seconds')).toBeCloseTo(PRICES.lambdaGbSecondArm64.usd, 12);
    const x86 = costLines(u, PRICES, 'x86_64').find((l) => l.item.startsWith('Lambda webhook GB'))!;
    expect(x86.usd).toBeCloseTo(PRICES.lambdaGbSecondX86.usd, 12);
  });

  it('charges DynamoDB writes five times reads per unit', () => {
    const u = usage({ dynamoDbWriteUnits: 1e6, dynamoDbReadUnits: 1e6 });
    expect(line(u, 'DynamoDB write request units') / line(u, 'DynamoDB read request units')).toBeCloseTo(5, 10);
  });

  it('adds up to the sum of its lines', () => {
    const u = usage({ sqsRequests: 3000, secretsManagerCalls: 20, kmsRequests: 20 });
    const lines = costLines(u);
    expect(totalUsd(lines)).toBeCloseTo(lines.reduce((s, l) => s + l.usd, 0), 12);
  });
});

describe('scaleUsage', () => {
  it('scales every count linearly to the target event count', () => {
    const scaled = scaleUsage(usage({ sqsRequests: 1200, lambda: [{ fn: 'sync', invocations: 100, billedMs: 25_000, memoryMb: 512 }] }), 1_000_000);
    expect(scaled.sqsRequests).toBe(1_200_000);
    expect(scaled.lambda[0]).toEqual({ fn: 'sync', invocations: 100_000, billedMs: 25_000_000, memoryMb: 512 });
  });

  it('refuses usage that covers no events', () => {
    expect(() => scaleUsage(usage({ events: 0 }), 1_000_000)).toThrow(RangeError);
  });
});

describe('the floor', () => {
  it('is one API request, one webhook invoke, one send, batched receive/delete, 1 sync invoke per 10 events, 1 WRU', () => {
    const f = floorUsage(1000);
    expect(f.httpApiRequests).toBe(1000);
    expect(f.lambda.map((l) => [l.fn, l.invocations])).toEqual([
      ['webhook', 1000],
      ['sync', 100],
    ]);
    expect(f.sqsRequests).toBe(1200);
    expect(f.dynamoDbWriteUnits).toBe(1000);
    expect([f.dynamoDbReadUnits, f.secretsManagerCalls, f.kmsRequests]).toEqual([0, 0, 0]);
  });

  it('comes to the ≈ $2.58 per million events of the research anchors (§C3)', () => {
    expect(totalUsd(costLines(floorUsage(1_000_000)))).toBeCloseTo(2.575, 2);
  });

  it('compares a usage with the floor within the same run', () => {
    // Exactly the floor plus one extra 1 KB write per event.
    const u = { ...floorUsage(2000), dynamoDbWriteUnits: 4000 };
    const r = costAgainstFloor(u);
    expect(r.usd - r.floorUsd).toBeCloseTo(PRICES.dynamoDbWriteRequestUnit.usd, 6);
    expect(r.ratio).toBeCloseTo(r.usd / r.floorUsd, 12);
    expect(r.ratio).toBeGreaterThan(1);
  });
});
