import { z } from 'zod';
import { GetCommand, PutCommand, ScanCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';

/**
 * The team item: pk = teamId, sk = 'TEAM'. Other items of the same team share the pk with other sort keys
 * (budget counters, OAuth states, leases), so everything about a team sits in one partition.
 */
export const TEAM_SK = 'TEAM' as const;

export const TEAM_STATUSES = ['registered', 'connected', 'reauthorization_required', 'disabled'] as const;
export type TeamStatus = (typeof TEAM_STATUSES)[number];

export const TeamItemSchema = z
  .object({
    pk: z.string(),
    sk: z.literal(TEAM_SK),
    teamId: z.string(),
    name: z.string().optional(),
    status: z.enum(TEAM_STATUSES),
    createdAt: z.string(),
    updatedAt: z.string(),
    /**
     * Webhook counters. The receiver writes nothing per queued delivery (cost floor); the sync worker adds
     * processed deliveries once per team per batch. Ignored (unsynced) events are counted by the receiver.
     */
    webhooksProcessed: z.number().optional(),
    webhooksIgnored: z.number().optional(),
    lastDeliveryAt: z.string().optional(),
    /** Connection, written by the OAuth callback and the refresher. Never tokens. */
    connectedAt: z.string().optional(),
    drchronoUserId: z.number().optional(),
    drchronoUsername: z.string().optional(),
    drchronoDoctorId: z.number().optional(),
    drchronoPracticeGroup: z.union([z.number(), z.string()]).optional(),
    tokenExpiresAt: z.number().optional(),
    lastRefreshAt: z.string().optional(),
    lastRefreshOutcome: z.string().optional(),
    /** The last token version claimed by a token writer (refresh-lease.ts claimTokenVersion); only ever grows. */
    tokenVersion: z.number().int().nonnegative().optional(),
  })
  .passthrough();
export type TeamItem = z.infer<typeof TeamItemSchema>;

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

/**
 * Add to the webhook counters and move lastDeliveryAt forward, never back. One UpdateItem in the common
 * case; a second, counters-only update when a newer lastDeliveryAt is already stored.
 */
export async function addWebhookCounts(
  ddb: DynamoDBDocumentClient,
  table: string,
  teamId: string,
  counts: { processed?: number; ignored?: number },
  lastDeliveryAt?: string,
): Promise<void> {
  const adds: string[] = [];
  const values: Record<string, unknown> = {};
  const counters: [keyof typeof counts, string][] = [
    ['processed', 'webhooksProcessed'],
    ['ignored', 'webhooksIgnored'],
  ];
  for (const [key, attr] of counters) {
    const n = counts[key];
    if (!n) continue;
    adds.push(`${attr} :${key}`);
    values[`:${key}`] = n;
  }
  const add = adds.length ? `ADD ${adds.join(', ')}` : '';
  const update = async (withDelivery: boolean): Promise<void> => {
    if (!withDelivery && !add) return;
    await ddb.send(
      new UpdateCommand({
        TableName: table,
        Key: teamKey(teamId),
        UpdateExpression: withDelivery ? `SET lastDeliveryAt = :ld ${add}` : add,
        ConditionExpression: withDelivery
          ? 'attribute_exists(pk) AND (attribute_not_exists(lastDeliveryAt) OR lastDeliveryAt < :ld)'
          : 'attribute_exists(pk)',
        ExpressionAttributeValues: withDelivery ? { ...values, ':ld': lastDeliveryAt } : values,
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
