import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ApiBudgetExhaustedError } from '../drchrono/errors';

/**
 * Per-team hourly DrChrono call budget, shared by every container through one counter item per team and
 * UTC hour in the teams table: pk teamId, sk `BUDGET#<yyyy-mm-ddThh>`, `calls` (N), TTL `expiresAt`.
 *
 * A call is counted BEFORE it is made, with one conditional UpdateItem (`calls < :limit`), so concurrent
 * containers can never overspend. DrChrono resets its own limit at the top of each hour, and so do we.
 *
 * Webhook traffic goes first: backfill may only use `limit - reserve`, so a running backfill always leaves
 * room for live changes. Outbound changes (docs/write-back.md) sit between: they may use `limit - reserve/2`, so
 * webhooks keep a share write-back cannot touch, and a running backfill cannot starve an app's changes.
 */
export const DEFAULT_API_BUDGET_PER_HOUR = 500;
/** Share of the hourly budget that backfill may not touch. */
export const DEFAULT_WEBHOOK_RESERVE_FRACTION = 0.2;
/** Keep counters a little past their hour (clock skew, operators reading `team show`). */
const COUNTER_TTL_SECONDS = 2 * 3600;

export type BudgetPriority = 'webhook' | 'write-back' | 'backfill';

export function budgetHourKey(now: Date): string {
  return `BUDGET#${now.toISOString().slice(0, 13)}`;
}

export function nextHourStart(now: Date): Date {
  const d = new Date(now.getTime());
  d.setUTCMinutes(0, 0, 0);
  d.setUTCHours(d.getUTCHours() + 1);
  return d;
}

/** The team's hourly limit: its `apiBudgetPerHour` attribute when valid, else 500. */
export function budgetLimitOf(teamItem: Record<string, unknown> | undefined): number {
  const v = teamItem?.apiBudgetPerHour;
  return typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : DEFAULT_API_BUDGET_PER_HOUR;
}

/**
 * The effective ceiling for a priority: webhooks use the whole budget, write-back all but half the reserve,
 * backfill all but the reserve (default 500/h: 500, 450, 400).
 */
export function budgetCeiling(limit: number, priority: BudgetPriority, reserveFraction = DEFAULT_WEBHOOK_RESERVE_FRACTION): number {
  if (priority === 'webhook') return limit;
  const reserve = Math.ceil(limit * reserveFraction);
  return Math.max(0, limit - (priority === 'write-back' ? Math.ceil(reserve / 2) : reserve));
}

export interface ConsumeApiBudgetOptions {
  limit: number;
  priority: BudgetPriority;
  /** Calls to take at once; default 1. */
  calls?: number;
  reserveFraction?: number;
  now?: Date;
}

/**
 * Take `calls` from the team's budget for the current hour, or throw ApiBudgetExhaustedError(resetAt).
 * Returns the number of calls used this hour including these.
 */
export async function consumeApiBudget(
  ddb: DynamoDBDocumentClient,
  table: string,
  teamId: string,
  opts: ConsumeApiBudgetOptions,
): Promise<number> {
  const now = opts.now ?? new Date();
  const n = opts.calls ?? 1;
  const ceiling = budgetCeiling(opts.limit, opts.priority, opts.reserveFraction);
  const resetAt = nextHourStart(now);
  if (n > ceiling) throw new ApiBudgetExhaustedError(resetAt);
  try {
    const out = await ddb.send(
      new UpdateCommand({
        TableName: table,
        Key: { pk: teamId, sk: budgetHourKey(now) },
        UpdateExpression: 'ADD calls :n SET expiresAt = if_not_exists(expiresAt, :exp)',
        // calls + n <= ceiling, written without arithmetic (not allowed in conditions)
        ConditionExpression: 'attribute_not_exists(calls) OR calls <= :max',
        ExpressionAttributeValues: {
          ':n': n,
          ':max': ceiling - n,
          ':exp': Math.floor(resetAt.getTime() / 1000) + COUNTER_TTL_SECONDS,
        },
        ReturnValues: 'UPDATED_NEW',
      }),
    );
    return Number(out.Attributes?.calls ?? n);
  } catch (err) {
    if (err instanceof ConditionalCheckFailedException) throw new ApiBudgetExhaustedError(resetAt);
    throw err;
  }
}

/** Calls used by the team in the hour containing `now` (0 when none). For operators and tests. */
export async function readApiBudgetUsage(ddb: DynamoDBDocumentClient, table: string, teamId: string, now = new Date()): Promise<number> {
  const out = await ddb.send(new GetCommand({ TableName: table, Key: { pk: teamId, sk: budgetHourKey(now) } }));
  return Number(out.Item?.calls ?? 0);
}
