import {
  ACCESS_LOG_SOURCE,
  billedMs,
  costAgainstFloor,
  costLines,
  fixedMonthlyLines,
  fixedRateTraces,
  FLOOR_ACCESS_LOG_BYTES,
  floorUsage,
  gbSeconds,
  LAMBDA_PLATFORM_LOG_SOURCE,
  printedLogs,
  scaleUsage,
  SECONDS_PER_MONTH,
  sqsBilledRequests,
  totalUsd,
  writeUnitsByTable,
  type AwsUsage,
} from '../../../bench/cost-model';
import { PRICES, priceOf } from '../../../bench/prices';
import type { StackInventory } from '../../../bench/stack-inventory';

const usage = (over: Partial<AwsUsage> = {}): AwsUsage => ({
  events: 1000,
  httpApiRequests: 1000,
  lambda: [],
  sqsRequests: 0,
  dynamoDbWriteUnits: 0,
  dynamoDbReadUnits: 0,
  secretsManagerCalls: 0,
  kmsRequests: 0,
  logs: [],
  xrayTraces: 0,
  logDataProtection: false,
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

  it('comes to the ≈ $2.58 per million events of the research anchors (§C3) before its log lines', () => {
    const lines = costLines(floorUsage(1_000_000)).filter((l) => !l.item.startsWith('CloudWatch Logs'));
    expect(totalUsd(lines)).toBeCloseTo(2.575, 2);
  });

  it('adds one minimal access-log line per request and no Lambda line at system level WARN: $2.609 per 1M, by hand', () => {
    // {"requestId":"Jx1B2gQwoAMEVxw=","status":"202"} is 47 bytes, + 26 bytes of event overhead = 73 bytes per request.
    expect(FLOOR_ACCESS_LOG_BYTES).toBe(47);
    const lines = costLines(floorUsage(1_000_000));
    const access = lines.find((l) => l.item === `CloudWatch Logs ingestion: ${ACCESS_LOG_SOURCE}`)!;
    expect(access.quantity).toBeCloseTo(73_000_000 / 1024 ** 3, 12);
    expect(access.usd).toBeCloseTo((0.5 * 73_000_000) / 1024 ** 3, 12);
    expect(lines.find((l) => l.item === `CloudWatch Logs ingestion: ${LAMBDA_PLATFORM_LOG_SOURCE}`)!.usd).toBe(0);
    expect(lines.find((l) => l.item.startsWith('X-Ray'))!.usd).toBe(0);
    expect(totalUsd(lines)).toBeCloseTo(2.575 + 0.033993, 5);
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

describe('the whole bill', () => {
  it('prices printed lines per ingested GB, 26 bytes of overhead per line included', () => {
    // 1,000 lines of 998 bytes: (998 + 26) x 1,000 = 1,024,000 bytes.
    const u = usage({ logs: printedLogs([{ fn: 'webhook', events: 1000, bytes: 998_000, emfEvents: 500, emfBytes: 300_000 }]) });
    const l = costLines(u).find((x) => x.item === 'CloudWatch Logs ingestion: webhook lines (logs and EMF metrics)')!;
    expect(l.quantity).toBeCloseTo(1_024_000 / 1024 ** 3, 15);
    expect(l.usd).toBeCloseTo((1_024_000 / 1024 ** 3) * 0.5, 15);
    expect(l.source).toBe('https://aws.amazon.com/cloudwatch/pricing/');
  });

  it('charges the data protection scan on the bytes of every line when the log groups carry the policy', () => {
    const logs = [{ source: 'a', events: 10, bytes: 500_000_000 }, { source: 'b', events: 5, bytes: 500_000_000 }];
    const scan = (on: boolean) => costLines(usage({ logs, logDataProtection: on })).find((l) => l.item.startsWith('CloudWatch Logs data protection'))!;
    expect(scan(true).usd).toBeCloseTo((1e9 / 1024 ** 3) * 0.12, 12);
    expect(scan(false).usd).toBe(0);
  });

  it('traces the fixed rate of every invocation and prices a trace at $5 per million', () => {
    expect(fixedRateTraces(1_100_000, 0.001)).toBeCloseTo(1100, 9);
    expect(costLines(usage({ xrayTraces: 1100 })).find((l) => l.item.startsWith('X-Ray'))!.usd).toBeCloseTo(0.0055, 12);
  });

  it('scales log events, bytes and traces with the events', () => {
    const scaled = scaleUsage(usage({ logs: [{ source: 's', events: 10, bytes: 2000 }], xrayTraces: 2 }), 1_000_000);
    expect(scaled.logs).toEqual([{ source: 's', events: 10_000, bytes: 2_000_000 }]);
    expect(scaled.xrayTraces).toBe(2000);
  });

  it('splits DynamoDB writes by table', () => {
    const ops = [
      { operation: 'UpdateItem[records]', writeUnits: 1167 },
      { operation: 'PutItem[integration-log]', writeUnits: 385 },
      { operation: 'UpdateItem[teams]', writeUnits: 408 },
      { operation: 'PutItem[teams]', writeUnits: 2 },
      { operation: 'GetItem[records]', writeUnits: 0 },
    ];
    expect(writeUnitsByTable(ops)).toEqual([
      { table: 'integration-log', writeUnits: 385, usd: (385 * 0.625) / 1e6 },
      { table: 'records', writeUnits: 1167, usd: (1167 * 0.625) / 1e6 },
      { table: 'teams', writeUnits: 410, usd: (410 * 0.625) / 1e6 },
    ]);
  });
});

describe('fixed monthly costs', () => {
  const inv: StackInventory = {
    alarms: 12,
    dashboards: 1,
    kmsKeys: 1,
    secrets: 1,
    queueKeyPrincipals: Array.from({ length: 9 }, (_, i) => `q${i}`),
    tableKeyPrincipals: Array.from({ length: 16 }, (_, i) => `t${i}`),
    queueDataKeyReuseSeconds: 300,
  };

  it('prices metrics, alarms, the dashboard, the X-Ray reservoir, key periods, the key and the secret, by hand', () => {
    const lines = fixedMonthlyLines(inv, 7, PRICES, { reservoirPerSecond: 1 });
    const usd = Object.fromEntries(lines.map((l) => [l.item.split(' (')[0], l.usd]));
    expect(SECONDS_PER_MONTH).toBe(2_592_000);
    expect(usd['CloudWatch custom metrics']).toBeCloseTo(2.1, 10);
    expect(usd['CloudWatch alarms']).toBeCloseTo(1.2, 10);
    expect(usd['CloudWatch dashboards']).toBeCloseTo(3, 10);
    // 2,592,000 traces at $5 per million.
    expect(usd['X-Ray reservoir traces']).toBeCloseTo(12.96, 10);
    // 9 x 8,640 periods = 77,760 requests at $0.03 per 10,000; 16 x 8,640 = 138,240.
    expect(usd['KMS requests for SQS data keys']).toBeCloseTo(0.23328, 10);
    expect(usd['KMS requests for DynamoDB table keys']).toBeCloseTo(0.41472, 10);
    expect(usd['KMS customer-managed keys']).toBe(1);
    expect(usd['Secrets Manager secrets of the stack']).toBeCloseTo(0.4, 10);
    expect(totalUsd(lines)).toBeCloseTo(2.1 + 1.2 + 3 + 12.96 + 0.23328 + 0.41472 + 1 + 0.4, 8);
  });
});
