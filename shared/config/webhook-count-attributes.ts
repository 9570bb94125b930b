/**
 * The attributes the webhook counts roll-up (shared/teams/webhook-counts.ts) reads and writes, written once as
 * plain data: lib/ narrows the reconcile function's grants to exactly these (IAM `dynamodb:Attributes`), and
 * test/infra/attribute-privilege.test.ts runs the roll-up against that policy, so the two cannot drift.
 */

/** Integration log item attributes of a group's webhook counts: deliveries, latest receivedAt (integration-log.ts). */
export const WEBHOOK_COUNT_ATTR = 'wn';
export const WEBHOOK_LAST_DELIVERY_ATTR = 'wl';

/** What the roll-up reads of a log item besides its key: never an entry, a field list or a message. */
export const WEBHOOK_COUNT_LOG_ATTRIBUTES: readonly string[] = [WEBHOOK_COUNT_ATTR, WEBHOOK_LAST_DELIVERY_ATTR];

/** What the roll-up writes (or checks in its condition) on a team item besides its key. */
export const WEBHOOK_ROLL_UP_TEAM_ATTRIBUTES: readonly string[] = ['webhookCountsThrough', 'lastProcessedDeliveryAt', 'webhooksProcessed', 'status'];
