import * as z from 'zod/mini';
import { GetCommand, PutCommand, ScanCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';

/**
 * The team item: pk = teamId, sk = 'TEAM'. Other items of the same team share the pk with other sort keys
 * (budget counters, OAuth states, leases), so everything about a team sits in one partition.
 */
export const TEAM_SK = 'TEAM' as const;

/**
 * `status` is the connection state. `removing` and `removed` are terminal (team-removal.ts): nothing is processed
 * for such a team again. `disabled` is a legacy status; `team disable` sets `disabledAt` instead and keeps the
 * connection state, so tokens keep being refreshed (docs/operations.md).
 */
export const TEAM_STATUSES = ['registered', 'connected', 'reauthorization_required', 'disabled', 'removing', 'removed'] as const;
export type TeamStatus = (typeof TEAM_STATUSES)[number];

/** What the team's workers may do: only an `active` team is synced, backfilled or reconciled. */
export type TeamLifecycle = 'active' | 'disabled' | 'removing' | 'removed';

export const TeamItemSchema = z.looseObject({
    pk: z.string(),
    sk: z.literal(TEAM_SK),
    teamId: z.string(),
    name: z.optional(z.string()),
    status: z.enum(TEAM_STATUSES),
    createdAt: z.string(),
    updatedAt: z.string(),
    /**
     * Webhook counters. The receiver writes nothing per queued delivery (cost floor) and counts ignored
     * (unsynced) events. Processed deliveries ride on the integration log write; `webhooksProcessed` is their
     * rolled-up total (shared/teams/webhook-counts.ts computes the current value).
     */
    webhooksProcessed: z.optional(z.number()),
    webhooksIgnored: z.optional(z.number()),
    lastDeliveryAt: z.optional(z.string()),
    /** Connection, written by the OAuth callback and the refresher. Never tokens. */
    connectedAt: z.optional(z.string()),
    drchronoUserId: z.optional(z.number()),
    drchronoUsername: z.optional(z.string()),
    drchronoDoctorId: z.optional(z.number()),
    drchronoPracticeGroup: z.optional(z.union([z.number(), z.string()])),
    tokenExpiresAt: z.optional(z.number()),
    lastRefreshAt: z.optional(z.string()),
    lastRefreshOutcome: z.optional(z.string()),
    /** The last token version claimed by a token writer (refresh-lease.ts claimTokenVersion); only ever grows. */
    tokenVersion: z.optional(z.number().check(z.int(), z.nonnegative())),
    /** Set by `team disable` (ISO time), removed by `team enable`: deliveries are answered but nothing is synced. */
    disabledAt: z.optional(z.string()),
    /** Set once when `team remove --erase` fences the team (ISO time); kept on the audit item. */
    removalStartedAt: z.optional(z.string()),
    removedAt: z.optional(z.string()),
    /** Items deleted so far by `team remove --erase`, by kind (team-removal.ts REMOVAL_COUNT_KINDS). */
    removalCounts: z.optional(z.record(z.string(), z.number())),
  });
export type TeamItem = z.infer<typeof TeamItemSchema>;

/** The team's lifecycle; undefined for an unknown team. */
export function teamLifecycle(team: Pick<TeamItem, 'status' | 'disabledAt'> | undefined): TeamLifecycle | undefined {
  if (!team) return undefined;
  if (team.status === 'removing' || team.status === 'removed') return team.status;
  if (team.status === 'disabled' || team.disabledAt !== undefined) return 'disabled';
  return 'active';
}

/** True when nothing may be written for this team any more (removal fenced it or finished). */
export function isTeamRemoved(team: Pick<TeamItem, 'status'> | undefined): boolean {
  return team?.status === 'removing' || team?.status === 'removed';
}

/** Status as operators read it: the connection state, plus "disabled" when the operator switched sync off. */
export function displayStatus(team: Pick<TeamItem, 'status' | 'disabledAt'>): string {
  return team.disabledAt !== undefined && !isTeamRemoved(team) ? `disabled (${team.status})` : team.status;
}

/** The team is being removed or was removed: it can never be enabled, disabled or registered again. */
export class TeamRemovedError extends Error {
  override name = 'TeamRemovedError';
}

export class TeamExistsError extends Error {
  override name = 'TeamExistsError';
}

export function teamKey(teamId: string): { pk: string; sk: typeof TEAM_SK } {
  return { pk: teamId, sk: TEAM_SK };
}

export async function createTeamItem(
  ddb: DynamoDBDocumentClient,
  table: string,
  teamId: string,
  now: Date = new Date(),
  extra: Record<string, unknown> = {},
): Promise<TeamItem> {
  const item: TeamItem = {
    ...extra,
    ...teamKey(teamId),
    teamId,
    status: 'registered',
    createdAt: now.toISOString(),
    updatedAt: now.toISOString(),
    webhooksProcessed: 0,
    webhooksIgnored: 0,
  };
  try {
    await ddb.send(new PutCommand({ TableName: table, Item: item, ConditionExpression: 'attribute_not_exists(pk)' }));
  } catch (err) {
    if (err instanceof ConditionalCheckFailedException) throw new TeamExistsError(`team ${teamId} already exists`);
    throw err;
  }
  return item;
}

export async function getTeamItem(ddb: DynamoDBDocumentClient, table: string, teamId: string, consistent = false): Promise<TeamItem | undefined> {
  const out = await ddb.send(new GetCommand({ TableName: table, Key: teamKey(teamId), ConsistentRead: consistent }));
  return out.Item ? TeamItemSchema.parse(out.Item) : undefined;
}

/** Whether the team item exists: one eventually consistent GetItem that reads only the key. */
export async function teamItemExists(ddb: DynamoDBDocumentClient, table: string, teamId: string): Promise<boolean> {
  const out = await ddb.send(new GetCommand({ TableName: table, Key: teamKey(teamId), ProjectionExpression: 'pk' }));
  return out.Item !== undefined;
}

/**
 * The receiver's view of a team: one eventually consistent GetItem of the attributes that decide it. A fence
 * written a moment ago may be missed by this read; the sync worker checks again before anything is applied.
 * `tokenVersion` is the last version a secret writer claimed: a cached secret below it is out of date (a rotated
 * webhook token, receive-webhook.ts).
 */
export async function webhookTeamState(
  ddb: DynamoDBDocumentClient,
  table: string,
  teamId: string,
  consistent = false,
): Promise<{ state: 'active' | 'disabled' | 'gone'; tokenVersion?: number }> {
  const out = await ddb.send(
    new GetCommand({
      TableName: table,
      Key: teamKey(teamId),
      ProjectionExpression: '#status, disabledAt, tokenVersion',
      ExpressionAttributeNames: { '#status': 'status' },
      ConsistentRead: consistent,
    }),
  );
  if (!out.Item) return { state: 'gone' };
  const item = out.Item as Pick<TeamItem, 'status' | 'disabledAt' | 'tokenVersion'>;
  const lifecycle = teamLifecycle(item);
  const state = lifecycle === 'active' ? 'active' : lifecycle === 'disabled' ? 'disabled' : 'gone';
  return typeof item.tokenVersion === 'number' ? { state, tokenVersion: item.tokenVersion } : { state };
}

export async function listTeamItems(ddb: DynamoDBDocumentClient, table: string): Promise<TeamItem[]> {
  const teams: TeamItem[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const out = await ddb.send(
      new ScanCommand({
        TableName: table,
        FilterExpression: 'sk = :sk',
        ExpressionAttributeValues: { ':sk': TEAM_SK },
        ExclusiveStartKey: start,
      }),
    );
    for (const item of out.Items ?? []) teams.push(TeamItemSchema.parse(item));
    start = out.LastEvaluatedKey;
  } while (start);
  return teams.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
}

/** Condition for writes to a team item by the pipeline: the item exists and the team is not (being) removed. Needs `#status`. */
export const LIVE_TEAM_CONDITION = 'attribute_exists(pk) AND #status <> :removingStatus AND #status <> :removedStatus';
export const LIVE_TEAM_VALUES = { ':removingStatus': 'removing', ':removedStatus': 'removed' } as const;

/**
 * Count deliveries the webhook receiver ignored (e.g. a disabled team) and move lastDeliveryAt forward, never
 * back. One UpdateItem in the common case; a second, counter-only update when a newer lastDeliveryAt is
 * already stored. Processed deliveries are not counted here: they ride on the sync worker's integration log
 * items and are rolled up by shared/teams/webhook-counts.ts.
 */
export async function addWebhookCounts(
  ddb: DynamoDBDocumentClient,
  table: string,
  teamId: string,
  counts: { ignored: number },
  lastDeliveryAt?: string,
): Promise<void> {
  const add = counts.ignored > 0 ? 'ADD webhooksIgnored :ignored' : '';
  const values: Record<string, unknown> = add ? { ':ignored': counts.ignored } : {};
  const update = async (withDelivery: boolean): Promise<void> => {
    if (!withDelivery && !add) return;
    await ddb.send(
      new UpdateCommand({
        TableName: table,
        Key: teamKey(teamId),
        UpdateExpression: withDelivery ? `SET lastDeliveryAt = :ld ${add}`.trimEnd() : add,
        // A removed (or being removed) team's audit item is never written by the pipeline.
        ConditionExpression: withDelivery
          ? `${LIVE_TEAM_CONDITION} AND (attribute_not_exists(lastDeliveryAt) OR lastDeliveryAt < :ld)`
          : LIVE_TEAM_CONDITION,
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: withDelivery ? { ...values, ...LIVE_TEAM_VALUES, ':ld': lastDeliveryAt } : { ...values, ...LIVE_TEAM_VALUES },
      }),
    );
  };
  try {
    await update(lastDeliveryAt !== undefined);
  } catch (err) {
    if (!(err instanceof ConditionalCheckFailedException)) throw err;
    if (lastDeliveryAt === undefined) return; // team removed meanwhile: nothing to count
    try {
      await update(false);
    } catch (err2) {
      if (!(err2 instanceof ConditionalCheckFailedException)) throw err2;
    }
  }
}
