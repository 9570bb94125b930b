import { randomUUID } from 'node:crypto';
import * as z from 'zod/mini';
import { PutCommand, QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { FIELDS_BY_ENTITY, FIELD_POSITIONS_BY_ENTITY } from '../mapping/field-names';
import { DEFAULT_INTEGRATION_LOG_TTL_DAYS } from '../config/integration-log-ttl';
import { WEBHOOK_COUNT_ATTR, WEBHOOK_LAST_DELIVERY_ATTR } from '../config/webhook-count-attributes';

/**
 * The "DrChrono Integration Log": one entry per processed delivery, with ids, the outcome, field NAMES and
 * error class/message. Never PHI values.
 *
 * Cost: the entries of one invocation are grouped per team into ONE item (pk teamId, sk `<iso time>#<id>`), and
 * the item is stored compactly (version 2, below) so that a typical batch fits one 1 KB write unit. Readers get
 * the same IntegrationLogEntry objects either way.
 *
 * Stored shape, version 2 (item attribute `v: 2`):
 *   ev: string[]        the distinct events of the group; entries point into it
 *   e:  StoredEntry[]   one short-keyed map per entry:
 *     t  time: a number is milliseconds relative to the sk's iso time; a string is the original `at` verbatim
 *     e  index into `ev`           d  deliveryId          i  drchronoId
 *     k  index into LOG_ENTITIES   o  index into INTEGRATION_LOG_OUTCOMES
 *     w / s  fieldsWritten / fieldsSkipped: a string is a base64url bitmask over the entity's append-only field
 *            order (shared/mapping/field-names.ts, bit i = byte i>>3, bit i&7; "" is the empty list); a list is
 *            the names verbatim (used when names are unknown, repeated or not in canonical order)
 *     c  errorClass                m  errorMessage        x  detail
 *     r  direction ('outbound')    g  changeId            y  key
 */

// Both lists are APPEND-ONLY: stored entries hold positions in them.
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
  // Outbound changes (docs/write-back.md): a change's final outcome.
  'applied',
  'rejected',
  'conflict',
] as const;
export type IntegrationLogOutcome = (typeof INTEGRATION_LOG_OUTCOMES)[number];

export const LOG_ENTITIES = ['patient', 'appointment', 'employee', 'team'] as const;
type LogEntity = (typeof LOG_ENTITIES)[number];

export const IntegrationLogEntrySchema = z.object({
  at: z.string(),
  event: z.string(),
  deliveryId: z.optional(z.string()),
  entity: z.optional(z.enum(LOG_ENTITIES)),
  drchronoId: z.optional(z.string()),
  outcome: z.enum(INTEGRATION_LOG_OUTCOMES),
  fieldsWritten: z.optional(z.array(z.string())),
  fieldsSkipped: z.optional(z.array(z.string())),
  errorClass: z.optional(z.string()),
  errorMessage: z.optional(z.string()),
  /** Free text for operators; never PHI. */
  detail: z.optional(z.string()),
  /** 'outbound' for a change written back to DrChrono (docs/write-back.md); absent = inbound (a delivery or a job). */
  direction: z.optional(z.literal('outbound')),
  /** Outbound only: the change id the write API answered with. */
  changeId: z.optional(z.string()),
  /** Outbound only: the record's key as the app named it (Chart ID or Claim ID). */
  key: z.optional(z.string()),
});
export type IntegrationLogEntry = z.infer<typeof IntegrationLogEntrySchema>;

export { DEFAULT_INTEGRATION_LOG_TTL_DAYS };
/** Keeps a group item far below DynamoDB's 400 KB item limit even with long field lists. */
export const MAX_ENTRIES_PER_ITEM = 100;
/** Error messages are ours (DrChrono error classes never carry bodies), but cap them anyway. */
const MAX_MESSAGE_CHARS = 500;
export const INTEGRATION_LOG_ITEM_VERSION = 2;

const StoredFieldsSchema = z.union([z.string(), z.array(z.string())]);
const IndexSchema = z.number().check(z.int(), z.nonnegative());
const StoredEntrySchema = z.object({
  t: z.union([z.number(), z.string()]),
  e: IndexSchema,
  d: z.optional(z.string()),
  k: z.optional(IndexSchema),
  i: z.optional(z.string()),
  o: IndexSchema,
  w: z.optional(StoredFieldsSchema),
  s: z.optional(StoredFieldsSchema),
  c: z.optional(z.string()),
  m: z.optional(z.string()),
  x: z.optional(z.string()),
  r: z.optional(z.literal('outbound')),
  g: z.optional(z.string()),
  y: z.optional(z.string()),
});
type StoredEntry = z.infer<typeof StoredEntrySchema>;
const StoredGroupSchema = z.object({ sk: z.string(), v: z.literal(INTEGRATION_LOG_ITEM_VERSION), ev: z.array(z.string()), e: z.array(StoredEntrySchema) });

export interface WriteIntegrationLogOptions {
  ttlDays?: number;
  now?: Date;
  /** Makes the sort key unique per invocation (e.g. the Lambda awsRequestId); random when omitted. */
  groupId?: string;
  /**
   * The team's webhook counts for these entries (the sync worker's batch): stored on the LAST item written as
   * `wn` (deliveries) and `wl` (latest receivedAt), and read back by readWebhookCountPage. They replace a
   * counter update of the team item per batch. Items are written in order, so counts exist only once the whole
   * group is written: a group cut short by a failed put counts nothing, and its redelivered messages count once.
   */
  webhookCounts?: { processed: number; lastDeliveryAt?: string };
}

/** Item attributes of the webhook counts a group carries (WriteIntegrationLogOptions.webhookCounts). */
export { WEBHOOK_COUNT_ATTR, WEBHOOK_LAST_DELIVERY_ATTR };

function clampEntry(entry: IntegrationLogEntry): IntegrationLogEntry {
  const out = IntegrationLogEntrySchema.parse(entry);
  if (out.errorMessage && out.errorMessage.length > MAX_MESSAGE_CHARS) out.errorMessage = out.errorMessage.slice(0, MAX_MESSAGE_CHARS);
  if (out.detail && out.detail.length > MAX_MESSAGE_CHARS) out.detail = out.detail.slice(0, MAX_MESSAGE_CHARS);
  return out;
}

function fieldPositions(entity: LogEntity | undefined): ReadonlyMap<string, number> | undefined {
  return entity === undefined || entity === 'team' ? undefined : FIELD_POSITIONS_BY_ENTITY[entity];
}

/** A bitmask when that loses nothing (known names, each once, in canonical order), else the names verbatim. */
function encodeFields(entity: LogEntity | undefined, names: readonly string[]): string | string[] {
  if (names.length === 0) return '';
  const positions = fieldPositions(entity);
  if (!positions) return [...names];
  const bytes: number[] = [];
  let previous = -1;
  for (const name of names) {
    const i = positions.get(name);
    if (i === undefined || i <= previous) return [...names];
    previous = i;
    bytes[i >> 3] = (bytes[i >> 3] ?? 0) | (1 << (i & 7));
  }
  return Buffer.from(Array.from(bytes, (b) => b ?? 0)).toString('base64url');
}

function decodeFields(entity: LogEntity | undefined, stored: string | string[]): string[] {
  if (Array.isArray(stored)) return stored;
  const order = entity === undefined || entity === 'team' ? [] : FIELDS_BY_ENTITY[entity];
  const bytes = Buffer.from(stored, 'base64url');
  const names: string[] = [];
  for (let i = 0; i < bytes.length * 8; i++) {
    // A position past our list was written by newer code (fields are appended): show it rather than drop it.
    if (((bytes[i >> 3] ?? 0) >> (i & 7)) & 1) names.push(order[i] ?? `#${i}`);
  }
  return names;
}

/** Milliseconds from the group's time when `at` is an ISO time that survives the trip, else `at` itself. */
function encodeTime(at: string, baseMs: number): number | string {
  const ms = Date.parse(at);
  return Number.isFinite(ms) && new Date(ms).toISOString() === at ? ms - baseMs : at;
}

function encodeEntry(entry: IntegrationLogEntry, baseMs: number, eventIndex: number): StoredEntry {
  const out: StoredEntry = { t: encodeTime(entry.at, baseMs), e: eventIndex, o: INTEGRATION_LOG_OUTCOMES.indexOf(entry.outcome) };
  if (entry.deliveryId !== undefined) out.d = entry.deliveryId;
  if (entry.entity !== undefined) out.k = LOG_ENTITIES.indexOf(entry.entity);
  if (entry.drchronoId !== undefined) out.i = entry.drchronoId;
  if (entry.fieldsWritten !== undefined) out.w = encodeFields(entry.entity, entry.fieldsWritten);
  if (entry.fieldsSkipped !== undefined) out.s = encodeFields(entry.entity, entry.fieldsSkipped);
  if (entry.errorClass !== undefined) out.c = entry.errorClass;
  if (entry.errorMessage !== undefined) out.m = entry.errorMessage;
  if (entry.detail !== undefined) out.x = entry.detail;
  if (entry.direction !== undefined) out.r = entry.direction;
  if (entry.changeId !== undefined) out.g = entry.changeId;
  if (entry.key !== undefined) out.y = entry.key;
  return out;
}

/** The stored attributes of one group besides pk, sk and expiresAt. */
function encodeGroup(entries: readonly IntegrationLogEntry[], baseMs: number): { v: number; ev: string[]; e: StoredEntry[] } {
  const events: string[] = [];
  const e = entries.map((entry) => {
    let index = events.indexOf(entry.event);
    if (index < 0) index = events.push(entry.event) - 1;
    return encodeEntry(entry, baseMs, index);
  });
  return { v: INTEGRATION_LOG_ITEM_VERSION, ev: events, e };
}

/** Undefined when the stored entry points outside our lists (corrupt, or written by incompatible code). */
function decodeEntry(s: StoredEntry, events: readonly string[], baseMs: number): IntegrationLogEntry | undefined {
  const event = events[s.e];
  const outcome = INTEGRATION_LOG_OUTCOMES[s.o];
  const entity = s.k === undefined ? undefined : LOG_ENTITIES[s.k];
  if (event === undefined || outcome === undefined || (s.k !== undefined && entity === undefined)) return undefined;
  const parsed = IntegrationLogEntrySchema.safeParse({
    at: typeof s.t === 'number' ? new Date(baseMs + s.t).toISOString() : s.t,
    event,
    deliveryId: s.d,
    entity,
    drchronoId: s.i,
    outcome,
    fieldsWritten: s.w === undefined ? undefined : decodeFields(entity, s.w),
    fieldsSkipped: s.s === undefined ? undefined : decodeFields(entity, s.s),
    errorClass: s.c,
    errorMessage: s.m,
    detail: s.x,
    direction: s.r,
    changeId: s.g,
    key: s.y,
  });
  // Drop the keys of absent optionals so a decoded entry equals the one written.
  return parsed.success ? (Object.fromEntries(Object.entries(parsed.data).filter(([, v]) => v !== undefined)) as IntegrationLogEntry) : undefined;
}

/**
 * The entries of one stored group item, as readIntegrationLog returns them; undefined when the
 * item is not a well-formed log group. Exported for tests that inspect what a writer stored.
 */
export function decodeIntegrationLogItem(item: Record<string, unknown>): IntegrationLogEntry[] | undefined {
  const group = StoredGroupSchema.safeParse(item);
  if (!group.success) return undefined;
  const baseMs = Date.parse(group.data.sk.split('#', 1)[0] ?? '');
  if (!Number.isFinite(baseMs)) return undefined;
  const entries: IntegrationLogEntry[] = [];
  for (const stored of group.data.e) {
    const entry = decodeEntry(stored, group.data.ev, baseMs);
    if (!entry) return undefined;
    entries.push(entry);
  }
  return entries;
}

/** The stored item (without TTL) for one group of a team's entries, as writeIntegrationLog puts it. */
export function integrationLogItem(teamId: string, entries: readonly IntegrationLogEntry[], at: Date, groupId: string): Record<string, unknown> {
  return { pk: teamId, sk: `${at.toISOString()}#${groupId}`, ...encodeGroup(entries, at.getTime()) };
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
    const counts = i + MAX_ENTRIES_PER_ITEM >= clean.length && opts.webhookCounts && opts.webhookCounts.processed > 0 ? opts.webhookCounts : undefined;
    await ddb.send(
      new PutCommand({
        TableName: table,
        Item: {
          ...integrationLogItem(teamId, chunk, now, `${groupId}${suffix}`),
          ...(counts ? { [WEBHOOK_COUNT_ATTR]: counts.processed } : {}),
          ...(counts?.lastDeliveryAt ? { [WEBHOOK_LAST_DELIVERY_ATTR]: counts.lastDeliveryAt } : {}),
          expiresAt,
        },
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
  /** Only groups written at or after this ISO time (the sort key's prefix), so an old log is not read at all. */
  since?: string;
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
        KeyConditionExpression: opts.since ? 'pk = :pk AND sk >= :since' : 'pk = :pk',
        ExpressionAttributeValues: { ':pk': teamId, ...(opts.since ? { ':since': opts.since } : {}) },
        ScanIndexForward: false,
        Limit: 25,
        ExclusiveStartKey: start,
      }),
    );
    for (const item of out.Items ?? []) {
      const entries = decodeIntegrationLogItem(item);
      if (!entries) continue; // a malformed group must not hide the rest of the log
      for (const entry of entries) if (!opts.outcome || entry.outcome === opts.outcome) found.push(entry);
    }
    start = out.LastEvaluatedKey;
  } while (start && found.length < limit);
  return found.sort((a, b) => b.at.localeCompare(a.at)).slice(0, limit);
}

/** The webhook counts one stored group carries. */
export interface WebhookCountGroup {
  sk: string;
  processed: number;
  lastDeliveryAt?: string;
}

export interface WebhookCountPageQuery {
  /** Only items with a sort key after this one (exclusive). */
  afterSk?: string;
  /** Only items with a sort key at or before this one (a bare ISO time sorts below every `<iso>#id` of that time). */
  throughSk?: string;
  /** Items read per page (DynamoDB's Limit, counted before any filter). */
  limit?: number;
  startKey?: Record<string, unknown>;
}

export interface WebhookCountPage {
  /** The items read that carry counts, oldest first. */
  groups: WebhookCountGroup[];
  /** The sort key of the last item read (with or without counts), if any. */
  lastSk?: string;
  /** Set when the range has more items. */
  nextKey?: Record<string, unknown>;
}

/**
 * One page of a team's log items in a sort-key range, oldest first, with only their count attributes.
 * The range is a key condition, not a filter: DynamoDB bills a query by the size of the items it reads, so a
 * roll-up reads only the items since its watermark (shared/teams/webhook-counts.ts moves it on every roll-up).
 */
export async function readWebhookCountPage(ddb: DynamoDBDocumentClient, table: string, teamId: string, q: WebhookCountPageQuery = {}): Promise<WebhookCountPage> {
  const { afterSk, throughSk } = q;
  // One condition per sort key: BETWEEN is inclusive, so the item at afterSk itself (a per-page watermark)
  // is read again and dropped below.
  const key =
    afterSk !== undefined && throughSk !== undefined
      ? 'pk = :pk AND sk BETWEEN :after AND :through'
      : afterSk !== undefined
        ? 'pk = :pk AND sk > :after'
        : throughSk !== undefined
          ? 'pk = :pk AND sk <= :through'
          : 'pk = :pk';
  const out = await ddb.send(
    new QueryCommand({
      TableName: table,
      KeyConditionExpression: key,
      // Explicit: the reconcile role may Query the log only for these attributes (Select SPECIFIC_ATTRIBUTES, lib/).
      Select: 'SPECIFIC_ATTRIBUTES',
      ProjectionExpression: 'sk, #n, #l',
      ExpressionAttributeNames: { '#n': WEBHOOK_COUNT_ATTR, '#l': WEBHOOK_LAST_DELIVERY_ATTR },
      ExpressionAttributeValues: {
        ':pk': teamId,
        ...(afterSk !== undefined ? { ':after': afterSk } : {}),
        ...(throughSk !== undefined ? { ':through': throughSk } : {}),
      },
      ...(q.limit !== undefined ? { Limit: q.limit } : {}),
      ExclusiveStartKey: q.startKey,
    }),
  );
  const groups: WebhookCountGroup[] = [];
  let lastSk: string | undefined;
  for (const item of out.Items ?? []) {
    const { sk } = item;
    if (typeof sk !== 'string' || (afterSk !== undefined && sk <= afterSk) || (throughSk !== undefined && sk > throughSk)) continue;
    lastSk = sk;
    const n: unknown = item[WEBHOOK_COUNT_ATTR];
    const at: unknown = item[WEBHOOK_LAST_DELIVERY_ATTR];
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) continue;
    groups.push(typeof at === 'string' ? { sk, processed: n, lastDeliveryAt: at } : { sk, processed: n });
  }
  return { groups, ...(lastSk !== undefined ? { lastSk } : {}), ...(out.LastEvaluatedKey ? { nextKey: out.LastEvaluatedKey } : {}) };
}
