import { randomBytes } from 'node:crypto';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import * as z from 'zod/mini';
import { parseTeamId } from '../teams/team-id';

/**
 * OAuth `state`: a random nonce stored as `STATE#<nonce>` / `STATE` in the teams table. It binds the flow to one
 * team, expires after 10 minutes and is consumed by a single conditional DeleteItem, so it can be used once.
 */
export const STATE_SK = 'STATE' as const;
export const STATE_TTL_SECONDS = 10 * 60;

/** 32 random bytes, base64url without padding: 43 characters. */
export const StateNonceSchema = z.string().check(z.regex(/^[A-Za-z0-9_-]{43}$/));

/**
 * `accountChangeLinkId`: the flow started from a link allowing an account change once (account-binding.ts).
 * `scopes`: what the authorize redirect asked DrChrono for (absent on a state written before scopes were recorded:
 * those asked for SYNC_SCOPES).
 */
export type ConsumedState =
  | { ok: true; teamId: string; accountChangeLinkId?: string; scopes?: string[] }
  | { ok: false; reason: 'invalid' | 'expired' };

function stateKey(nonce: string): { pk: string; sk: typeof STATE_SK } {
  return { pk: `STATE#${nonce}`, sk: STATE_SK };
}

export async function createOAuthState(
  ddb: DynamoDBDocumentClient,
  teamsTable: string,
  teamId: string,
  now: Date = new Date(),
  opts: { accountChangeLinkId?: string; scopes?: readonly string[] } = {},
): Promise<string> {
  const nonce = randomBytes(32).toString('base64url');
  await ddb.send(
    new PutCommand({
      TableName: teamsTable,
      // expiresAt is both the TTL attribute and the expiry the consume condition checks (TTL deletion lags by hours).
      Item: {
        ...stateKey(nonce),
        teamId,
        createdAt: now.toISOString(),
        expiresAt: Math.floor(now.getTime() / 1000) + STATE_TTL_SECONDS,
        ...(opts.accountChangeLinkId ? { accountChangeLinkId: opts.accountChangeLinkId } : {}),
        // The callback records these as the team's grantedScopes: the flow's own request, not the team's setting
        // at callback time (write-back may be switched between the two).
        ...(opts.scopes ? { scopes: [...opts.scopes] } : {}),
      },
      ConditionExpression: 'attribute_not_exists(pk)',
    }),
  );
  return nonce;
}

/**
 * Consume a state: one DeleteItem that succeeds only for an existing, unexpired state. A malformed, unknown or
 * already-used state is `invalid`; an expired one is `expired` (told apart by the item returned on the failed
 * condition, which DynamoDB returns without deleting it; TTL removes it later).
 */
export async function consumeOAuthState(
  ddb: DynamoDBDocumentClient,
  teamsTable: string,
  rawState: unknown,
  now: Date = new Date(),
): Promise<ConsumedState> {
  const nonce = StateNonceSchema.safeParse(rawState);
  if (!nonce.success) return { ok: false, reason: 'invalid' };
  try {
    const out = await ddb.send(
      new DeleteCommand({
        TableName: teamsTable,
        Key: stateKey(nonce.data),
        ConditionExpression: 'attribute_exists(pk) AND expiresAt > :now',
        ExpressionAttributeValues: { ':now': Math.floor(now.getTime() / 1000) },
        ReturnValues: 'ALL_OLD',
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      }),
    );
    const teamId = parseTeamId(out.Attributes?.teamId);
    if (!teamId) return { ok: false, reason: 'invalid' };
    const linkId = out.Attributes?.accountChangeLinkId;
    const scopes = out.Attributes?.scopes;
    return {
      ok: true,
      teamId,
      ...(typeof linkId === 'string' && linkId ? { accountChangeLinkId: linkId } : {}),
      ...(Array.isArray(scopes) && scopes.every((x) => typeof x === 'string') ? { scopes: scopes as string[] } : {}),
    };
  } catch (err) {
    if (err instanceof ConditionalCheckFailedException) {
      return { ok: false, reason: err.Item ? 'expired' : 'invalid' };
    }
    throw err;
  }
}
