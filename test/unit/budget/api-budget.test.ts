import { mockClient } from 'aws-sdk-client-mock';
import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import {
  budgetCeiling,
  budgetHourKey,
  budgetLimitOf,
  consumeApiBudget,
  DEFAULT_API_BUDGET_PER_HOUR,
  nextHourStart,
} from '../../../shared/budget/api-budget';
import { ApiBudgetExhaustedError } from '../../../shared/drchrono/errors';

const ddb = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
const mock = mockClient(ddb);
const TEAM = '0b7c43a2-6d55-4a0e-9a51-7c1a1d3b9e10';
const NOW = new Date('2026-11-21T10:42:13.000Z');

beforeEach(() => mock.reset());

describe('budget helpers', () => {
  it('keys counters by UTC hour', () => {
    expect(budgetHourKey(NOW)).toBe('BUDGET#2026-11-21T10');
  });
  it('resets at the top of the next UTC hour', () => {
    expect(nextHourStart(NOW).toISOString()).toBe('2026-11-21T11:00:00.000Z');
    expect(nextHourStart(new Date('2026-11-21T23:59:59Z')).toISOString()).toBe('2026-11-22T00:00:00.000Z');
  });
  it('uses the team apiBudgetPerHour and falls back to 500 when missing or invalid', () => {
    expect(budgetLimitOf({ apiBudgetPerHour: 40 })).toBe(40);
    expect(budgetLimitOf({})).toBe(DEFAULT_API_BUDGET_PER_HOUR);
    expect(budgetLimitOf({ apiBudgetPerHour: -3 })).toBe(DEFAULT_API_BUDGET_PER_HOUR);
    expect(budgetLimitOf({ apiBudgetPerHour: '9' })).toBe(DEFAULT_API_BUDGET_PER_HOUR);
  });
  it('leaves a reserve for webhooks that backfill cannot use', () => {
    expect(budgetCeiling(500, 'webhook')).toBe(500);
    expect(budgetCeiling(500, 'backfill')).toBe(400);
    expect(budgetCeiling(3, 'backfill', 0.5)).toBe(1);
  });
  it('gives write-back all but half the reserve: above backfill, below webhooks', () => {
    expect(budgetCeiling(500, 'write-back')).toBe(450);
    expect(budgetCeiling(10, 'write-back')).toBe(9);
    expect(budgetCeiling(1, 'write-back')).toBe(0);
  });
});

describe('consumeApiBudget', () => {
  it('increments the hour counter with a condition against the limit and sets a TTL', async () => {
    mock.on(UpdateCommand).resolves({ Attributes: { calls: 7 } });
    const used = await consumeApiBudget(ddb, 'teams', TEAM, { limit: 10, priority: 'webhook', now: NOW });
    expect(used).toBe(7);
    const input = mock.commandCalls(UpdateCommand)[0]!.args[0].input;
    expect(input.Key).toEqual({ pk: TEAM, sk: 'BUDGET#2026-11-21T10' });
    expect(input.ConditionExpression).toContain('calls <= :max');
    expect(input.ExpressionAttributeValues![':max']).toBe(9);
    expect(input.ExpressionAttributeValues![':exp']).toBe(Date.parse('2026-11-21T11:00:00Z') / 1000 + 7200);
  });

  it('applies the backfill ceiling to backfill calls', async () => {
    mock.on(UpdateCommand).resolves({ Attributes: { calls: 1 } });
    await consumeApiBudget(ddb, 'teams', TEAM, { limit: 10, priority: 'backfill', now: NOW });
    expect(mock.commandCalls(UpdateCommand)[0]!.args[0].input.ExpressionAttributeValues![':max']).toBe(7);
  });

  it('throws ApiBudgetExhaustedError with the next hour as resetAt when the condition fails', async () => {
    mock.on(UpdateCommand).rejects(new ConditionalCheckFailedException({ message: 'no', $metadata: {} }));
    const err = await consumeApiBudget(ddb, 'teams', TEAM, { limit: 10, priority: 'webhook', now: NOW }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiBudgetExhaustedError);
    expect((err as ApiBudgetExhaustedError).resetAt.toISOString()).toBe('2026-11-21T11:00:00.000Z');
  });

  it('passes other DynamoDB errors through', async () => {
    mock.on(UpdateCommand).rejects(new Error('throttled'));
    await expect(consumeApiBudget(ddb, 'teams', TEAM, { limit: 10, priority: 'webhook', now: NOW })).rejects.toThrow('throttled');
  });
});
