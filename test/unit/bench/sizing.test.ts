import { ACCOUNT_QUOTAS, fullBatchMs, sizeStack, writeUnitsByTable, type MeasuredCosts, type StackLimits } from '../../../bench/sizing';

const prod: StackLimits = { stage: 'prod', apiRateLimit: 100, apiBurstLimit: 200, webhookConcurrency: 50, syncConcurrency: 5, batchSize: 10, drchronoBudgetPerTeamHour: 500 };

const measured = (over: Partial<MeasuredCosts> = {}): MeasuredCosts => ({
  source: 'test',
  webhookMs: 20,
  syncBatchMs: 100,
  eventsPerSyncInvocation: 10,
  writeUnitsPerEventByTable: { records: 1.2, 'integration-log': 0.4, teams: 0.4 },
  secretsManagerCallsPerEvent: 0,
  drchronoCallsPerEvent: 0.01,
  ...over,
});

const bound = (s: ReturnType<typeof sizeStack>, prefix: string): number => s.bounds.find((b) => b.limit.startsWith(prefix))!.eventsPerSecond;

describe('sizeStack', () => {
  it('computes each limit in events per second from the configured settings and the measured costs', () => {
    const s = sizeStack(prod, measured());
    expect(bound(s, 'HTTP API stage rate limit')).toBe(100);
    expect(bound(s, 'Webhook reserved concurrency')).toBeCloseTo((50 * 1000) / 20, 9);
    expect(bound(s, 'Sync reserved concurrency')).toBeCloseTo((5 * 10 * 1000) / 100, 9);
    expect(bound(s, 'DynamoDB table write quota')).toBeCloseTo(ACCOUNT_QUOTAS.dynamoDbTableWriteUnitsPerSecond / 1.2, 6);
    expect(bound(s, 'DynamoDB new on-demand table')).toBeCloseTo(ACCOUNT_QUOTAS.dynamoDbNewOnDemandTableWriteUnitsPerSecond / 1.2, 6);
    expect(bound(s, 'Secrets Manager')).toBe(Number.POSITIVE_INFINITY);
    expect(s.bounds.find((b) => b.limit.startsWith('DynamoDB table'))!.limit).toContain('records');
  });

  it('names the lowest bound as binding and sustains exactly that rate', () => {
    const s = sizeStack(prod, measured());
    expect(s.binding).toMatch(/^HTTP API stage rate limit/);
    expect(s.sustainedEventsPerSecond).toBe(100);
    // Sync would bind once a full batch takes longer than 5 × 10 × 1000 ÷ 100 = 500 ms.
    expect(s.syncBindsAboveBatchMs).toBeCloseTo(500, 9);
  });

  it('lets sync bind when its batches are slow enough', () => {
    const s = sizeStack(prod, measured({ syncBatchMs: 1000 }));
    expect(s.binding).toBe('Sync reserved concurrency × batch');
    expect(s.sustainedEventsPerSecond).toBeCloseTo(50, 9);
    expect(s.syncBindsAboveBatchMs).toBeNull();
  });

  it('lets Secrets Manager bind when every delivery misses the secret cache at a high enough rate', () => {
    const s = sizeStack({ ...prod, apiRateLimit: 50_000, webhookConcurrency: 10_000, syncConcurrency: 10_000 }, measured({ secretsManagerCallsPerEvent: 4 }));
    expect(s.binding).toBe('Secrets Manager GetSecretValue quota');
    expect(s.sustainedEventsPerSecond).toBeCloseTo(2_500, 9);
  });

  it('gives the events one team can send per hour within its DrChrono budget', () => {
    expect(sizeStack(prod, measured({ drchronoCallsPerEvent: 0.02 })).eventsPerTeamHourWithinBudget).toBeCloseTo(25_000, 6);
    expect(sizeStack(prod, measured({ drchronoCallsPerEvent: 0 })).eventsPerTeamHourWithinBudget).toBe(Number.POSITIVE_INFINITY);
  });

  it('refuses durations that are not positive', () => {
    expect(() => sizeStack(prod, measured({ webhookMs: 0 }))).toThrow(RangeError);
    expect(() => sizeStack(prod, measured({ syncBatchMs: Number.NaN }))).toThrow(RangeError);
  });
});

describe('fullBatchMs', () => {
  it('scales a partial batch to a full one in proportion to its events', () => {
    expect(fullBatchMs({ syncBatchMs: 50, eventsPerSyncInvocation: 5 }, 10)).toBeCloseTo(100, 9);
    expect(fullBatchMs({ syncBatchMs: 80, eventsPerSyncInvocation: 10 }, 10)).toBeCloseTo(80, 9);
  });

  it('never shrinks a batch measured above the batch size (duplicates counted as events)', () => {
    expect(fullBatchMs({ syncBatchMs: 80, eventsPerSyncInvocation: 12 }, 10)).toBeCloseTo(80, 9);
  });
});

describe('writeUnitsByTable', () => {
  it('sums the write units of every DynamoDB operation per table and ignores other services', () => {
    expect(
      writeUnitsByTable({
        'dynamodb.UpdateItem[records]': 1.1,
        'dynamodb.PutItem[records]': 0.1,
        'dynamodb.PutItem[integration-log]': 0.39,
        'dynamodb.GetItem[records]': 0,
        'sqs.SendMessage': 1,
      }),
    ).toEqual({ records: expect.closeTo(1.2, 9), 'integration-log': 0.39 });
  });
});
