import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DrChronoRateLimitedError, InvalidClientError, InvalidGrantError } from '../drchrono/errors';
import { errorFields, logger } from '../logging/logger';
import type { IntegrationLogEntry } from '../store/integration-log';
import { readTeamSecret, type TeamSecret } from '../teams/team-secret';
import type { TeamItem } from '../teams/team-store';
import {
  acquireRefreshLease,
  claimTokenVersion,
  nextTokenVersion,
  releaseRefreshLease,
  DEFAULT_LEASE_MS,
  TOKEN_WRITE_HOLD_MS,
  TOKEN_WRITE_MARGIN_MS,
  type Lease,
} from './refresh-lease';
import { MINUTE_MS, REFRESH_PARTITION_TOKENS } from './refresh-index';
import { secretWithTokens, writeIssuedTokens, type IssuedTokens } from './token-secret';

/**
 * Refresh one team's tokens, at most one refresher at a time (refresh-lease.ts):
 *
 *   lease → re-read the secret (never a cache) → still due? → refresh once → claim the next tokenVersion on the
 *   team item (only while owning the lease) → write both tokens to the secret → record the outcome on the team
 *   item and release the lease (one conditional write).
 *
 * The OAuth callback takes the same lease (oauth-flow.ts), so a reconnect never lands between our read and write.
 *
 * Failure handling:
 * - invalid_grant: re-read the secret; if its refresh token changed, someone else won and nothing is wrong.
 *   Otherwise the grant is dead: status reauthorization_required, out of the index, integration log entry, metric.
 * - invalid_client: the app credentials are wrong. The team stays connected (its access token may still work),
 *   outcome `invalid_client`, log entry, metric, and backoff like a transient error until an operator fixes it.
 * - 5xx, network, 429: outcome `transient_error`, `refreshFailures`+1, no new attempt before
 *   `refreshNotBefore` = now + min(2^(n-1) min, 1 h) (at least DrChrono's stated wait for a 429).
 *   A timeout or 5xx may have been processed by DrChrono, rotating the refresh token we still hold; we never
 *   retry it inline, and we record `refreshUncertainSince` so a later invalid_grant is explained in the log.
 * - Refresh succeeded but the secret write failed after its retries: the new tokens are lost (nothing else holds
 *   them, and they are never logged). Outcome `error`, `lastRefreshOutcome: tokens_not_stored`, backoff,
 *   `refreshUncertainSince`, log entry; the lease is kept until its end (an aborted write may still land).
 * - A secret whose tokenVersion is below the team item's (a lost or overtaken write): metric `TokenSecretBehind`,
 *   refreshed at once. A crash between the secret write and the release needs nothing: the lease
 *   expires, and the next sweep finds fresh tokens in the secret and mirrors them onto the team item (`not_due`).
 */
export type RefreshOutcome =
  | 'refreshed'
  /** Lease held elsewhere, team in backoff or no longer connected: someone else's turn or nothing to do. */
  | 'locked'
  /** Re-read showed fresh tokens: another refresher (or a reconnect) already did it. */
  | 'not_due'
  /** The remaining lease was too short to start a token request safely. */
  | 'lease_too_short'
  | 'transient_error'
  | 'invalid_client'
  | 'reauthorization_required'
  /** Anything else (secret unreadable, DynamoDB failure): logged, lease released, retried next sweep. */
  | 'error';

export type RefreshMetricName = 'TokensRefreshed' | 'TokenRefreshFailed' | 'TeamsReauthorizationRequired' | 'TokenSecretBehind';

export interface RefreshTeamDeps {
  ddb: DynamoDBDocumentClient;
  secrets: SecretsManagerClient;
  teamsTable: string;
  teamSecretPrefix: string;
  drchronoBaseUrl: string;
  refreshAccessToken: (args: { baseUrl: string; clientId: string; clientSecret: string; refreshToken: string }) => Promise<IssuedTokens>;
  /** Refresh tokens expiring within this window. */
  windowMs: number;
  /** Unique per sweep (e.g. the Lambda request id): the lease owner. */
  owner: string;
  leaseMs?: number;
  /** A token request is only started with at least this much lease left (default 45 s). */
  minLeaseRemainingMs?: number;
  now?: () => number;
  countMetric?: (name: RefreshMetricName) => void;
  /** Awaited before each secret write; the sweep paces writes under Secrets Manager's PutSecretValue quota. */
  beforeSecretWrite?: () => Promise<void>;
  writeLog?: (teamId: string, entry: IntegrationLogEntry) => Promise<void>;
}

const MAX_BACKOFF_MS = 60 * MINUTE_MS;
const DEFAULT_MIN_LEASE_REMAINING_MS = 45_000;

/** Backoff after the n-th consecutive failure (n >= 1): 1, 2, 4, ... minutes, capped at an hour. */
export function refreshBackoffMs(failures: number): number {
  return Math.min(MINUTE_MS * 2 ** Math.max(0, failures - 1), MAX_BACKOFF_MS);
}

/**
 * Due when the access token expires within the window, or when a refresh was requested after the last token write
 * about the token now stored (a request naming an older tokenVersion came from a stale cache and is ignored).
 */
export function isRefreshDue(secret: TeamSecret, team: TeamItem, nowMs: number, windowMs: number): boolean {
  const requestedAt = numberAttr(team, 'refreshRequestedAt');
  const writtenAt = numberAttr(team, 'tokensWrittenAt') ?? 0;
  const rejectedVersion = numberAttr(team, 'refreshRequestedTokenVersion');
  const aboutStoredToken = rejectedVersion === undefined || rejectedVersion >= (secret.tokenVersion ?? 0);
  if (requestedAt !== undefined && writtenAt <= requestedAt && aboutStoredToken) return true;
  return (secret.accessTokenExpiresAt ?? 0) <= nowMs + windowMs;
}

export async function refreshTeam(deps: RefreshTeamDeps, teamId: string): Promise<RefreshOutcome> {
  const now = deps.now ?? Date.now;
  const lease = await acquireRefreshLease(deps.ddb, deps.teamsTable, teamId, deps.owner, now(), deps.leaseMs ?? DEFAULT_LEASE_MS);
  if (!lease) return 'locked';
  try {
    return await refreshUnderLease(deps, lease, now);
  } catch (err) {
    logger.error('token refresh: unexpected failure', { teamId, ...errorFields(err) });
    await releaseRefreshLease(deps.ddb, deps.teamsTable, lease).catch(() => undefined);
    return 'error';
  }
}

async function refreshUnderLease(deps: RefreshTeamDeps, lease: Lease, now: () => number): Promise<RefreshOutcome> {
  const { teamId, team } = lease;
  const secret = await readTeamSecret(deps.secrets, deps.teamSecretPrefix, teamId);
  if (!secret.refreshToken) {
    return markReauthorizationRequired(deps, lease, now(), 'NoRefreshToken', 'the team secret holds no refresh token');
  }
  // The secret holds an older version than the last claim: a claimed write failed, or a stalled write landed after
  // a newer one. Its tokens may be dead (rotated by the lost write's refresh): refresh now; an invalid_grant then
  // leads to reauthorization as usual (docs/oauth.md, "Who writes the tokens").
  const behind = (secret.tokenVersion ?? 0) < (team.tokenVersion ?? 0);
  if (behind) {
    logger.warn('token refresh: secret older than the claimed tokenVersion; refreshing', { teamId, secretTokenVersion: secret.tokenVersion ?? 0, teamTokenVersion: team.tokenVersion ?? 0 });
    deps.countMetric?.('TokenSecretBehind');
  }
  if (!behind && !isRefreshDue(secret, team, now(), deps.windowMs)) {
    await release(deps, lease, adoptSecret(secret));
    return 'not_due';
  }
  if (now() > lease.until - (deps.minLeaseRemainingMs ?? DEFAULT_MIN_LEASE_REMAINING_MS)) {
    await release(deps, lease);
    return 'lease_too_short';
  }

  const sentRefreshToken = secret.refreshToken;
  let tokens: IssuedTokens;
  try {
    tokens = await deps.refreshAccessToken({
      baseUrl: deps.drchronoBaseUrl,
      clientId: secret.clientId,
      clientSecret: secret.clientSecret,
      refreshToken: sentRefreshToken,
    });
  } catch (err) {
    return handleRefreshFailure(deps, lease, err, sentRefreshToken, now);
  }

  // Pace first, then claim, then write at once: the claim bounds the write (see claimTokenVersion).
  await deps.beforeSecretWrite?.();
  const version = nextTokenVersion(team, secret.tokenVersion);
  const claim = await claimTokenVersion(deps.ddb, deps.teamsTable, lease, version, now(), TOKEN_WRITE_HOLD_MS);
  if (!claim) {
    // Only a writer holding the lease may claim: we lost it (ran past its end and another writer took it).
    // Writing now could overwrite that writer's tokens, so ours are dropped (if rotated, the grant may be lost).
    logger.error('token refresh: lease lost before the token write; refreshed tokens dropped', { teamId });
    deps.countMetric?.('TokenRefreshFailed');
    return 'error';
  }
  const written = secretWithTokens(secret, tokens, now(), version);
  try {
    await writeIssuedTokens(deps.secrets, deps.teamSecretPrefix, teamId, written, { deadlineMs: claim.until - TOKEN_WRITE_MARGIN_MS, now });
  } catch (err) {
    return recordTokensNotStored(deps, lease, err, now());
  }
  const at = now();
  const released = await release(deps, lease, {
    set: {
      tokenExpiresAt: written.accessTokenExpiresAt,
      tokensWrittenAt: at,
      lastRefreshAt: new Date(at).toISOString(),
      lastRefreshOutcome: 'ok',
      refreshFailures: 0,
      refreshPartition: REFRESH_PARTITION_TOKENS,
      updatedAt: new Date(at).toISOString(),
    },
    remove: ['refreshNotBefore', 'refreshRequestedAt', 'refreshRequestReason', 'refreshRequestedTokenVersion', 'refreshUncertainSince'],
  });
  deps.countMetric?.('TokensRefreshed');
  logger.info('token refresh: refreshed', { teamId, tokenVersion: written.tokenVersion, leaseKept: released });
  return 'refreshed';
}

async function handleRefreshFailure(
  deps: RefreshTeamDeps,
  lease: Lease,
  err: unknown,
  sentRefreshToken: string,
  now: () => number,
): Promise<RefreshOutcome> {
  const { teamId, team } = lease;
  if (err instanceof InvalidGrantError) {
    const latest = await readTeamSecret(deps.secrets, deps.teamSecretPrefix, teamId);
    if (latest.refreshToken && latest.refreshToken !== sentRefreshToken) {
      logger.info('token refresh: invalid_grant but tokens already rotated by another refresher', { teamId });
      await release(deps, lease, adoptSecret(latest));
      return 'not_due';
    }
    const uncertainSince = numberAttr(team, 'refreshUncertainSince');
    const why = uncertainSince
      ? `refresh token rejected (invalid_grant); an earlier refresh at ${new Date(uncertainSince).toISOString()} timed out or failed server-side and may have rotated it`
      : 'refresh token rejected (invalid_grant): re-authorised elsewhere or revoked';
    return markReauthorizationRequired(deps, lease, now(), 'InvalidGrantError', why);
  }

  const failures = (numberAttr(team, 'refreshFailures') ?? 0) + 1;
  let delayMs = refreshBackoffMs(failures);
  if (err instanceof DrChronoRateLimitedError) delayMs = Math.max(delayMs, err.retryAfterSeconds * 1000);
  const at = now();
  const invalidClient = err instanceof InvalidClientError;
  const outcome = invalidClient ? 'invalid_client' : 'transient_error';
  // A timeout, 5xx or unreadable 2xx may have been processed by DrChrono and rotated the refresh token we hold.
  const mayHaveReachedServer = !invalidClient && !(err instanceof DrChronoRateLimitedError);
  const set: Record<string, unknown> = {
    lastRefreshAt: new Date(at).toISOString(),
    lastRefreshOutcome: outcome,
    refreshFailures: failures,
    refreshNotBefore: at + delayMs,
    updatedAt: new Date(at).toISOString(),
  };
  if (mayHaveReachedServer && numberAttr(team, 'refreshUncertainSince') === undefined) set.refreshUncertainSince = at;
  await release(deps, lease, { set });
  deps.countMetric?.('TokenRefreshFailed');
  const f = errorFields(err);
  logger.warn('token refresh: failed, will retry after backoff', { teamId, outcome, errorClass: f.errorClass, failures, retryInMs: delayMs });
  if (invalidClient) {
    await writeLog(deps, teamId, {
      at: new Date(at).toISOString(),
      event: 'token_refresh',
      entity: 'team',
      outcome: 'failed',
      errorClass: f.errorClass,
      errorMessage: f.errorMessage,
      detail: 'DrChrono rejected the client id/secret (invalid_client): fix the team credentials; refresh retries hourly at most',
    });
  }
  return outcome;
}

/**
 * DrChrono issued new tokens but every secret write failed: they are gone. If DrChrono rotated the refresh token
 * the grant is now dead and the next attempt will get invalid_grant. Record why (refreshUncertainSince makes that
 * invalid_grant explain itself), back off, and tell the operator now rather than at the next sweep.
 */
async function recordTokensNotStored(deps: RefreshTeamDeps, lease: Lease, err: unknown, at: number): Promise<RefreshOutcome> {
  const { teamId, team } = lease;
  const failures = (numberAttr(team, 'refreshFailures') ?? 0) + 1;
  const iso = new Date(at).toISOString();
  const set: Record<string, unknown> = {
    lastRefreshAt: iso,
    lastRefreshOutcome: 'tokens_not_stored',
    refreshFailures: failures,
    refreshNotBefore: at + refreshBackoffMs(failures),
    updatedAt: iso,
  };
  if (numberAttr(team, 'refreshUncertainSince') === undefined) set.refreshUncertainSince = at;
  // The outcome is recorded but the lease is NOT released: an aborted PutSecretValue may still apply server-side.
  // The lease runs out at the claim's end (5 s after the write's deadline), so no other writer starts before then.
  await release(deps, lease, { set }, { keepLease: true }).catch((e: unknown) => {
    // Not rethrown: refreshTeam's catch-all would release the lease, which must run out instead.
    logger.error('token refresh: outcome not recorded after lost tokens', { teamId, errorClass: errorFields(e).errorClass });
  });
  deps.countMetric?.('TokenRefreshFailed');
  const f = errorFields(err);
  logger.error('token refresh: new tokens could not be stored and are lost; lease left to expire', { teamId, errorClass: f.errorClass, failures });
  await writeLog(deps, teamId, {
    at: iso,
    event: 'token_refresh',
    entity: 'team',
    outcome: 'failed',
    errorClass: 'TokensNotStoredError',
    errorMessage: `secret write failed after a successful refresh (${f.errorClass})`,
    detail: 'if DrChrono rotated the refresh token, the next refresh fails with invalid_grant and the clinic must reconnect',
  });
  return 'error';
}

async function markReauthorizationRequired(
  deps: RefreshTeamDeps,
  lease: Lease,
  at: number,
  errorClass: string,
  why: string,
): Promise<RefreshOutcome> {
  const iso = new Date(at).toISOString();
  await release(deps, lease, {
    set: { status: 'reauthorization_required', reauthRequiredAt: iso, lastRefreshAt: iso, lastRefreshOutcome: 'invalid_grant', updatedAt: iso },
    // Out of the token-expiry index: no more attempts until the team reconnects.
    remove: ['refreshPartition', 'refreshNotBefore', 'refreshRequestedAt', 'refreshRequestReason', 'refreshRequestedTokenVersion'],
  });
  deps.countMetric?.('TeamsReauthorizationRequired');
  logger.warn('token refresh: team needs reauthorization', { teamId: lease.teamId, errorClass });
  await writeLog(deps, lease.teamId, {
    at: iso,
    event: 'token_refresh',
    entity: 'team',
    outcome: 'failed',
    errorClass,
    errorMessage: why,
    detail: 'status set to reauthorization_required: the clinic must reconnect through the authorize link',
  });
  return 'reauthorization_required';
}

/** Team-item fields that mirror a secret someone else already updated. */
function adoptSecret(secret: TeamSecret): { set: Record<string, unknown>; remove: string[] } {
  return {
    set: { ...(secret.accessTokenExpiresAt !== undefined ? { tokenExpiresAt: secret.accessTokenExpiresAt } : {}), refreshPartition: REFRESH_PARTITION_TOKENS },
    remove: ['refreshRequestedAt', 'refreshRequestReason', 'refreshRequestedTokenVersion'],
  };
}

async function release(deps: RefreshTeamDeps, lease: Lease, update?: { set?: Record<string, unknown>; remove?: string[] }, opts?: { keepLease?: boolean }): Promise<boolean> {
  const ok = await releaseRefreshLease(deps.ddb, deps.teamsTable, lease, update, opts);
  if (!ok) logger.warn('token refresh: lease lost before release; outcome not recorded on the team item', { teamId: lease.teamId });
  return ok;
}

async function writeLog(deps: RefreshTeamDeps, teamId: string, entry: IntegrationLogEntry): Promise<void> {
  if (!deps.writeLog) return;
  try {
    await deps.writeLog(teamId, entry);
  } catch (err) {
    logger.error('token refresh: integration log write failed', { teamId, ...errorFields(err) });
  }
}

function numberAttr(team: TeamItem, name: string): number | undefined {
  const v = (team as Record<string, unknown>)[name];
  return typeof v === 'number' ? v : undefined;
}
