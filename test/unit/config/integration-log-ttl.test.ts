import { mockClient } from 'aws-sdk-client-mock';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Context } from 'aws-lambda';
import * as z from 'zod/mini';
import { FUNCTION_SETTINGS } from '../../../shared/config/function-settings';
import { DEFAULT_INTEGRATION_LOG_TTL_DAYS, IntegrationLogTtlDaysSchema, MIN_INTEGRATION_LOG_TTL_DAYS } from '../../../shared/config/integration-log-ttl';
import { COUNTS_SETTLE_MS } from '../../../shared/teams/webhook-counts';

const DAY_MS = 24 * 60 * 60 * 1000;
const Env = z.object({ INTEGRATION_LOG_TTL_DAYS: IntegrationLogTtlDaysSchema });

describe('INTEGRATION_LOG_TTL_DAYS', () => {
  it('defaults to 90 days and accepts whole or fractional days from the bound up', () => {
    expect(Env.parse({}).INTEGRATION_LOG_TTL_DAYS).toBe(DEFAULT_INTEGRATION_LOG_TTL_DAYS);
    expect(Env.parse({ INTEGRATION_LOG_TTL_DAYS: '1' }).INTEGRATION_LOG_TTL_DAYS).toBe(1);
    expect(Env.parse({ INTEGRATION_LOG_TTL_DAYS: '2.5' }).INTEGRATION_LOG_TTL_DAYS).toBe(2.5);
  });

  it.each(['0.05', '0.5', '0', '-3', '', 'abc'])('refuses %j with a message naming the variable and its bound', (value) => {
    const out = Env.safeParse({ INTEGRATION_LOG_TTL_DAYS: value });
    expect(out.success).toBe(false);
    expect(out.error?.issues[0]?.message).toMatch(/^INTEGRATION_LOG_TTL_DAYS must be a number of days, at least 1: /);
  });

  it('outlives the settle time and two missed hourly roll-ups, so counts never expire before a roll-up reads them', () => {
    const everyMs = (FUNCTION_SETTINGS.reconcile.everyMinutes ?? 60) * 60_000;
    expect(MIN_INTEGRATION_LOG_TTL_DAYS * DAY_MS).toBeGreaterThanOrEqual(COUNTS_SETTLE_MS + 3 * everyMs);
  });
});

describe('every function writing the integration log refuses a TTL under the bound on its first invocation', () => {
  const base = {
    AWS_REGION: 'us-east-1',
    TEAMS_TABLE: 'teams',
    RECORDS_TABLE: 'records',
    INTEGRATION_LOG_TABLE: 'log',
    TEAM_SECRET_PREFIX: 'p/',
    INGEST_QUEUE_URL: 'q',
    BACKFILL_QUEUE_URL: 'q',
    WRITE_BACK_QUEUE_URL: 'q',
    DRCHRONO_BASE_URL: 'http://127.0.0.1:9',
  };
  const saved = { ...process.env };
  const ddbMock = mockClient(DynamoDBDocumentClient);
  const sqsMock = mockClient(SQSClient);
  const secretsMock = mockClient(SecretsManagerClient);
  beforeEach(() => {
    // Every AWS call answers empty: a function that accepted the value would run to its end, not fail on the network.
    ddbMock.reset().onAnyCommand().resolves({});
    sqsMock.reset().onAnyCommand().resolves({});
    secretsMock.reset().onAnyCommand().resolves({});
    jest.resetModules();
  });
  afterEach(() => {
    process.env = { ...saved };
  });
  afterAll(() => {
    ddbMock.restore();
    sqsMock.restore();
    secretsMock.restore();
  });

  const context = { awsRequestId: 'req-1', functionName: 'f', getRemainingTimeInMillis: () => 60_000 } as unknown as Context;
  const handlers: [string, () => Promise<{ handler: (event: never, context: Context) => Promise<unknown> }>, unknown][] = [
    ['sync', () => import('../../../functions/sync/handler') as never, { Records: [] }],
    ['backfill', () => import('../../../functions/backfill/handler') as never, { Records: [] }],
    ['write-back', () => import('../../../functions/write-back/handler') as never, { Records: [] }],
    ['token-refresh', () => import('../../../functions/token-refresh/handler') as never, {}],
  ];

  it.each(handlers)('%s', async (_name, load, event) => {
    Object.assign(process.env, base, { INTEGRATION_LOG_TTL_DAYS: '0.05' }); // 1.2 h: under the roll-up's reach
    const { handler } = await load();
    await expect(handler(event as never, context)).rejects.toThrow(/INTEGRATION_LOG_TTL_DAYS must be a number of days, at least 1/);
  });
});
