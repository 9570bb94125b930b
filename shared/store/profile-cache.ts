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
