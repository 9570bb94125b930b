import { randomUUID } from 'node:crypto';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { readTeamSecret, type TeamSecret } from '../teams/team-secret';
import { getTeamItem, isTeamRemoved, type TeamItem } from '../teams/team-store';
import {
  acquireTokenLeaseForCallback,
  claimTokenVersion,
  nextTokenVersion,
  releaseRefreshLease,
  TOKEN_WRITE_HOLD_MS,
  TOKEN_WRITE_MARGIN_MS,
} from './refresh-lease';
import { writeIssuedTokens } from './token-secret';

/**
 * An operator's change to a team secret (a new client secret, a rotated webhook token) made under the same
 * discipline as the token writers (docs/oauth.md, "Who writes the tokens"): the refresher and the OAuth callback
 * read the whole secret, call DrChrono and write the whole secret back, so an unserialised operator write would
 * either be overwritten by their stale copy or put back tokens DrChrono has already killed. So: take the token
 * lease (waiting for a running refresh), read the secret fresh, claim the next `tokenVersion` (only the lease
 * owner can), write within the claim's hold, release. A write that failed keeps the lease until the hold ends.
 */
export interface SecretUpdateDeps {
  ddb: DynamoDBDocumentClient;
  secrets: SecretsManagerClient;
  teamsTable: string;
  teamSecretPrefix: string;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** How long to wait for a refresher or callback holding the lease (default 30 s: a refresh takes seconds). */
  leaseWaitMs?: number;
  /** Test hook: runs after the fresh read, before the version claim (where another writer would interleave). */
  beforeWrite?: () => Promise<void>;
}

export const SECRET_UPDATE_LEASE_MS = 60_000;
export const SECRET_UPDATE_LEASE_WAIT_MS = 30_000;
const LEASE_POLL_MS = 250;

export class SecretUpdateError extends Error {
  override name = 'SecretUpdateError';
}

function removedMessage(teamId: string, status: string | undefined): string {
  if (status === undefined) return `team ${teamId} is not registered`;
  return status === 'removed' ? `team ${teamId} is removed; nothing changed` : `team ${teamId} is being removed; nothing changed`;
}

export interface SecretUpdateResult {
  secret: TeamSecret;
  tokenVersion: number;
  /** The team item as the lease found it. */
  team: TeamItem;
}

/**
 * Apply `change` to the team's secret. `change` gets the freshly read secret and returns the new one (tokens as
 * read, so a refresh that finished just before is kept); `releaseSet`/`releaseRemove` are team item attributes
 * written with the lease release. Throws SecretUpdateError with an operator-readable message.
 */
export async function updateTeamSecretUnderLease(
  deps: SecretUpdateDeps,
  teamId: string,
  change: (current: TeamSecret, team: TeamItem) => TeamSecret,
  release: (team: TeamItem) => { set?: Record<string, unknown>; remove?: string[] } = () => ({}),
): Promise<SecretUpdateResult> {
  const now = deps.now ?? Date.now;
  const before = await getTeamItem(deps.ddb, deps.teamsTable, teamId, true);
  if (!before) throw new SecretUpdateError(`team ${teamId} is not registered`);
  // Removal holds the token lease for good: without this check the command would wait for it, then blame a refresh.
  if (isTeamRemoved(before)) throw new SecretUpdateError(removedMessage(teamId, before.status));
  const lease = await acquireTokenLeaseForCallback(deps.ddb, deps.teamsTable, teamId, `cli:${randomUUID()}`, {
    now,
    leaseMs: SECRET_UPDATE_LEASE_MS,
    waitMs: deps.leaseWaitMs ?? SECRET_UPDATE_LEASE_WAIT_MS,
    pollMs: LEASE_POLL_MS,
    sleep: deps.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms))),
  });
  if (!lease) {
    // A removal that started while we waited holds the lease for good.
    const latest = await getTeamItem(deps.ddb, deps.teamsTable, teamId, true);
    if (!latest || isTeamRemoved(latest)) throw new SecretUpdateError(removedMessage(teamId, latest?.status));
    throw new SecretUpdateError(`team ${teamId}: a token refresh or reconnect is holding the secret; nothing changed, try again in a minute`);
  }

  /** True once the lease needs no release here: released with the outcome, or kept after an uncertain write. */
  let settled = false;
  try {
    const current = await readTeamSecret(deps.secrets, deps.teamSecretPrefix, teamId);
    const next = change(current, lease.team);
    const version = nextTokenVersion(lease.team, current.tokenVersion);
    if (deps.beforeWrite) await deps.beforeWrite();
    const claim = await claimTokenVersion(deps.ddb, deps.teamsTable, lease, version, now(), TOKEN_WRITE_HOLD_MS);
    if (!claim) throw new SecretUpdateError(`team ${teamId}: lost the secret lease to another writer; nothing changed, try again`);
    const written: TeamSecret = { ...next, tokenVersion: version };
    try {
      // Same idempotent, deadline-bounded write as a token write: one ClientRequestToken per claimed version.
      await writeIssuedTokens(deps.secrets, deps.teamSecretPrefix, teamId, written, { deadlineMs: claim.until - TOKEN_WRITE_MARGIN_MS, now });
    } catch (err) {
      // The request may still land server-side: no other writer may start before the hold ends.
      settled = true;
      throw new SecretUpdateError(
        `team ${teamId}: the secret write failed (${err instanceof Error ? err.name : 'Error'}); it may still have been applied. Check in a minute and run the command again if needed`,
      );
    }
    // False only if the lease ran out after our write landed inside the claim: nothing to undo.
    await releaseRefreshLease(deps.ddb, deps.teamsTable, lease, release(lease.team));
    settled = true;
    return { secret: written, tokenVersion: version, team: lease.team };
  } finally {
    if (!settled) await releaseRefreshLease(deps.ddb, deps.teamsTable, lease).catch(() => undefined);
  }
}
