import * as z from 'zod/mini';

/** How long integration log items live (DynamoDB TTL on `expiresAt`), unless INTEGRATION_LOG_TTL_DAYS says otherwise. */
export const DEFAULT_INTEGRATION_LOG_TTL_DAYS = 90;

/**
 * The shortest log life a function accepts. Webhook counts live only on log items until the hourly reconcile
 * tick rolls them into the team item (shared/teams/webhook-counts.ts): a group is rolled up once it is settled
 * (COUNTS_SETTLE_MS, 1 h) by the next tick, so up to about 2 h after it is written, and a failed tick is retried
 * the hour after. A day leaves room for a day of failed ticks; anything shorter could let counts expire unread.
 */
export const MIN_INTEGRATION_LOG_TTL_DAYS = 1;

/**
 * INTEGRATION_LOG_TTL_DAYS in every function's env schema (sync, backfill, write-back, token-refresh): days, at
 * least MIN_INTEGRATION_LOG_TTL_DAYS, DEFAULT_INTEGRATION_LOG_TTL_DAYS when unset. A bad value stops the function
 * on its first invocation with this message, before anything is written.
 */
const TTL_ERROR = `INTEGRATION_LOG_TTL_DAYS must be a number of days, at least ${MIN_INTEGRATION_LOG_TTL_DAYS}: webhook counts ride on integration log items until the hourly roll-up reads them`;

export const IntegrationLogTtlDaysSchema = z._default(
  z.coerce.number({ error: TTL_ERROR }).check(z.gte(MIN_INTEGRATION_LOG_TTL_DAYS, { error: TTL_ERROR })),
  DEFAULT_INTEGRATION_LOG_TTL_DAYS,
);
