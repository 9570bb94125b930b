import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { PutCommand, QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/**
 * The "DrChrono Integration Log": one entry per processed delivery, with ids, the outcome, field NAMES and
 * error class/message. Never PHI values.
 *
 * Cost: the entries of one invocation are grouped per team into ONE item (pk teamId, sk `<iso time>#<id>`,
 * attribute `entries`), so the log costs about one write per team per batch instead of one per event.
 * Readers flatten the groups.
 */
export const INTEGRATION_LOG_OUTCOMES = [
  'created',
  'updated',
  'unchanged',
  'stale-skipped',
  'deleted',
  'ignored',
  'failed',
  'deferred',
  'info',
] as const;
export type IntegrationLogOutcome = (typeof INTEGRATION_LOG_OUTCOMES)[number];

export const LOG_ENTITIES = ['patient', 'appointment', 'employee', 'team'] as const;

export const IntegrationLogEntrySchema = z.object({
  at: z.string(),
  event: z.string(),
  deliveryId: z.string().optional(),
  entity: z.enum(LOG_ENTITIES).optional(),
  drchronoId: z.string().optional(),
  outcome: z.enum(INTEGRATION_LOG_OUTCOMES),
  fieldsWritten: z.array(z.string()).optional(),
  fieldsSkipped: z.array(z.string()).optional(),
  errorClass: z.string().optional(),
  errorMessage: z.string().optional(),
  /** Free text for operators; never PHI. */
  detail: z.string().optional(),
});
export type IntegrationLogEntry = z.infer<typeof IntegrationLogEntrySchema>;

export const DEFAULT_INTEGRATION_LOG_TTL_DAYS = 90;
/** Keeps a group item far below DynamoDB's 400 KB item limit even with long field lists. */
export const MAX_ENTRIES_PER_ITEM = 100;
/** Error messages are ours (DrChrono error classes never carry bodies), but cap them anyway. */
const MAX_MESSAGE_CHARS = 500;

export interface WriteIntegrationLogOptions {
  ttlDays?: number;
  now?: Date;
  /** Makes the sort key unique per invocation (e.g. the Lambda awsRequestId); random when omitted. */
  groupId?: string;
}

function clampEntry(entry: IntegrationLogEntry): IntegrationLogEntry {
  const out = IntegrationLogEntrySchema.parse(entry);
  if (out.errorMessage && out.errorMessage.length > MAX_MESSAGE_CHARS) out.errorMessage = out.errorMessage.slice(0, MAX_MESSAGE_CHARS);
  if (out.detail && out.detail.length > MAX_MESSAGE_CHARS) out.detail = out.detail.slice(0, MAX_MESSAGE_CHARS);
  return out;
}

/** Write a team's entries as one item (or a few, for very large groups). Returns the number of items written. */
export async function writeIntegrationLog(
  ddb: DynamoDBDocumentClient,
  table: string,
  teamId: string,
  entries: readonly IntegrationLogEntry[],
  opts: WriteIntegrationLogOptions = {},
): Promise<number> {
  if (entries.length === 0) return 0;
  const now = opts.now ?? new Date();
  const ttlDays = opts.ttlDays ?? DEFAULT_INTEGRATION_LOG_TTL_DAYS;
  const expiresAt = Math.floor(now.getTime() / 1000) + Math.round(ttlDays * 86_400);
  const groupId = opts.groupId ?? randomUUID();
  const clean = entries.map(clampEntry);
  let written = 0;
  for (let i = 0; i < clean.length; i += MAX_ENTRIES_PER_ITEM) {
    const chunk = clean.slice(i, i + MAX_ENTRIES_PER_ITEM);
    const suffix = clean.length > MAX_ENTRIES_PER_ITEM ? `#${i / MAX_ENTRIES_PER_ITEM}` : '';
    await ddb.send(
      new PutCommand({
        TableName: table,
        Item: { pk: teamId, sk: `${now.toISOString()}#${groupId}${suffix}`, entries: chunk, count: chunk.length, expiresAt },
      }),
    );
    written += 1;
  }
  return written;
}

export interface ReadIntegrationLogOptions {
  /** Newest entries first; default 50. */
  limit?: number;
  outcome?: IntegrationLogOutcome;
}

/**
 * A team's entries, newest first. Groups are read newest first and flattened until `limit` matching entries
 * are found. An entry can be older than its group's sort key (it was processed earlier in the same
 * invocation), so entries are sorted by their own `at` within what was read.
 */
export async function readIntegrationLog(
  ddb: DynamoDBDocumentClient,
  table: string,
  teamId: string,
  opts: ReadIntegrationLogOptions = {},
): Promise<IntegrationLogEntry[]> {
  const limit = opts.limit ?? 50;
  const found: IntegrationLogEntry[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const out = await ddb.send(
      new QueryCommand({
        TableName: table,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': teamId },
        ScanIndexForward: false,
        Limit: 25,
        ExclusiveStartKey: start,
      }),
    );
    for (const item of out.Items ?? []) {
      const parsed = z.array(IntegrationLogEntrySchema).safeParse(item.entries);
      if (!parsed.success) continue; // a malformed group must not hide the rest of the log
      for (const entry of parsed.data) if (!opts.outcome || entry.outcome === opts.outcome) found.push(entry);
    }
    start = out.LastEvaluatedKey;
  } while (start && found.length < limit);
  return found.sort((a, b) => b.at.localeCompare(a.at)).slice(0, limit);
}
