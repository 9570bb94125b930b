import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/**
 * Names of a team's DrChrono lookup lists (appointment profiles, patient flag types), cached in the teams
 * table so that cold containers do not all refetch them: pk teamId, sk `PROFILES` / `FLAG_TYPES`,
 * `names` (map id → name), TTL `expiresAt`. Names are practice configuration, not PHI.
 */
export type NameListKind = 'PROFILES' | 'FLAG_TYPES';

export const NAME_CACHE_TTL_SECONDS = 6 * 3600;

/** The cached names, or undefined when absent or expired (TTL deletion is lazy, so expiry is checked here). */
export async function readNameCache(
  ddb: DynamoDBDocumentClient,
  table: string,
  teamId: string,
  kind: NameListKind,
  now: Date = new Date(),
): Promise<Map<number, string> | undefined> {
  const out = await ddb.send(new GetCommand({ TableName: table, Key: { pk: teamId, sk: kind } }));
  const item = out.Item;
  if (!item || typeof item.expiresAt !== 'number' || item.expiresAt * 1000 <= now.getTime()) return undefined;
  const names = new Map<number, string>();
  for (const [id, name] of Object.entries((item.names ?? {}) as Record<string, unknown>)) {
    if (typeof name === 'string' && Number.isInteger(Number(id))) names.set(Number(id), name);
  }
  return names;
}

export async function writeNameCache(
  ddb: DynamoDBDocumentClient,
  table: string,
  teamId: string,
  kind: NameListKind,
  names: ReadonlyMap<number, string>,
  now: Date = new Date(),
  ttlSeconds = NAME_CACHE_TTL_SECONDS,
): Promise<void> {
  // History first: no record is written with a name the rename check cannot know about.
  await rememberNames(ddb, table, teamId, kind, names);
  await ddb.send(
    new PutCommand({
      TableName: table,
      Item: {
        pk: teamId,
        sk: kind,
        names: Object.fromEntries([...names].map(([id, name]) => [String(id), name])),
        fetchedAt: now.toISOString(),
        expiresAt: Math.floor(now.getTime() / 1000) + ttlSeconds,
      },
    }),
  );
}

/**
 * Every name each id has had while the team was synced (sk `PROFILES#SEEN` / `FLAG_TYPES#SEEN`, `seen`: id →
 * names, no TTL). Records hold labels made from whatever name a list fetch returned, so reconcile's rename
 * check compares the current names with all of these, not only with the names it read itself: a sync
 * container that refreshed the cache after a rename, or two renames within a day, would otherwise hide the
 * names some records still hold. Reconcile forgets a name once its records are relabelled.
 */
export type SeenNames = Record<string, string[]>;

const seenSk = (kind: NameListKind) => `${kind}#SEEN`;
/** Concurrent writers (sync containers, backfill, reconcile) retry a lost revision race this many times. */
const SEEN_WRITE_ATTEMPTS = 8;

export async function readSeenNames(ddb: DynamoDBDocumentClient, table: string, teamId: string, kind: NameListKind): Promise<SeenNames> {
  return (await readSeen(ddb, table, teamId, kind)).seen;
}

async function readSeen(ddb: DynamoDBDocumentClient, table: string, teamId: string, kind: NameListKind): Promise<{ seen: SeenNames; rev: number | undefined }> {
  const out = await ddb.send(new GetCommand({ TableName: table, Key: { pk: teamId, sk: seenSk(kind) }, ConsistentRead: true }));
  const seen: SeenNames = {};
  for (const [id, names] of Object.entries((out.Item?.seen ?? {}) as Record<string, unknown>)) {
    if (Array.isArray(names)) seen[id] = names.filter((n): n is string => typeof n === 'string');
  }
  return { seen, rev: typeof out.Item?.rev === 'number' ? out.Item.rev : undefined };
}

/** Read, change and write back under a revision condition; no write when `change` returns false. */
async function updateSeen(ddb: DynamoDBDocumentClient, table: string, teamId: string, kind: NameListKind, change: (seen: SeenNames) => boolean): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const { seen, rev } = await readSeen(ddb, table, teamId, kind);
    if (!change(seen)) return;
    try {
      await ddb.send(
        new PutCommand({
          TableName: table,
          Item: { pk: teamId, sk: seenSk(kind), seen, rev: (rev ?? 0) + 1 },
          ConditionExpression: rev === undefined ? 'attribute_not_exists(rev)' : 'rev = :rev',
          ...(rev === undefined ? {} : { ExpressionAttributeValues: { ':rev': rev } }),
        }),
      );
      return;
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException) || attempt >= SEEN_WRITE_ATTEMPTS) throw err;
    }
  }
}

/** Add the names of a fetched list to the history (no write when all are known). */
export async function rememberNames(ddb: DynamoDBDocumentClient, table: string, teamId: string, kind: NameListKind, names: ReadonlyMap<number, string>): Promise<void> {
  await updateSeen(ddb, table, teamId, kind, (seen) => {
    let changed = false;
    for (const [id, name] of names) {
      const list = (seen[String(id)] ??= []);
      if (!list.includes(name)) {
        list.push(name);
        changed = true;
      }
    }
    return changed;
  });
}

/** Drop names whose records have been relabelled (or that were left out as ambiguous). */
export async function forgetNames(ddb: DynamoDBDocumentClient, table: string, teamId: string, kind: NameListKind, pairs: readonly { id: string; name: string }[]): Promise<void> {
  if (pairs.length === 0) return;
  await updateSeen(ddb, table, teamId, kind, (seen) => {
    let changed = false;
    for (const { id, name } of pairs) {
      const list = seen[id];
      if (!list?.includes(name)) continue;
      seen[id] = list.filter((n) => n !== name);
      changed = true;
    }
    return changed;
  });
}
