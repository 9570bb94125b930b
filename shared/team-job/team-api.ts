import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ApiBudgetExhaustedError, DrChronoRateLimitedError, DrChronoUnauthorizedError } from '../drchrono/errors';
import { requestTokenRefresh } from '../oauth/refresh-request';
import type { TeamSecret } from '../teams/team-secret';

/**
 * Token handling and "come back later" classification for backfill and reconcile work items, mirroring the
 * sync worker: never refresh a token inline; after a 401 re-read the secret once, then ask the refresher.
 */
export const TOKEN_REFRESH_PAUSE_SECONDS = 5 * 60;
export const NOT_CONNECTED_PAUSE_SECONDS = 60 * 60;
/** Budget pauses end a little after the top of the hour, spread so paused teams do not all start at :00. */
const BUDGET_RESET_SPREAD_SECONDS = 60;
const SECRET_REREAD_MIN_AGE_MS = 5_000;

export class TokenRefreshRequestedError extends Error {
  override name = 'TokenRefreshRequestedError';
}

export class TeamNotConnectedError extends Error {
  override name = 'TeamNotConnectedError';
}


/** The sync path (processIngestMessage) asked to come back later in the middle of a page. */
export class DeferredByWorker extends Error {
  override name = 'DeferredByWorker';
  constructor(
    readonly delaySeconds: number,
    readonly errorClass: string,
    readonly reason: string,
  ) {
    super(reason);
  }
}

export interface TeamTokenDeps {
  ddb: DynamoDBDocumentClient;
  teamsTable: string;
  secrets: { get(teamId: string): Promise<TeamSecret | null>; refresh(teamId: string, minAgeMs?: number): Promise<TeamSecret | null> };
  now: () => Date;
}

/**
 * Runs `fn` with the team's access token; one retry with a re-read secret after a 401. `minTokenVersion` is the team
 * item's `tokenVersion`: a cached secret below it predates the last token write and is read again first. That
 * matters after a DrChrono account change (account-binding.ts): the previous account's token still works, so no
 * 401 would ever tell us, and the job would import the previous practice until the cache expired.
 */
export async function withTeamToken<T>(
  teamId: string,
  deps: TeamTokenDeps,
  who: string,
  fn: (token: string) => Promise<T>,
  minTokenVersion?: number,
): Promise<T> {
  let secret = await deps.secrets.get(teamId);
  if (secret && minTokenVersion !== undefined && (secret.tokenVersion ?? 0) < minTokenVersion) {
    secret = await deps.secrets.refresh(teamId, SECRET_REREAD_MIN_AGE_MS);
  }
  if (!secret?.accessToken) throw new TeamNotConnectedError(`team ${teamId} has no access token`);
  try {
    return await fn(secret.accessToken);
  } catch (err) {
    if (!(err instanceof DrChronoUnauthorizedError)) throw err;
    const fresh = await deps.secrets.refresh(teamId, SECRET_REREAD_MIN_AGE_MS);
    // The version of the token DrChrono rejected last: the refresher ignores requests about tokens it replaced.
    let rejectedTokenVersion = secret.tokenVersion;
    // Same token under a newer version (an operator's secret write claims one without changing tokens): name the
    // version the refresher now sees, or it would take the request for one about a token it already replaced.
    if (fresh?.accessToken === secret.accessToken && fresh.tokenVersion !== undefined) rejectedTokenVersion = fresh.tokenVersion;
    if (fresh?.accessToken && fresh.accessToken !== secret.accessToken) {
      rejectedTokenVersion = fresh.tokenVersion;
      try {
        return await fn(fresh.accessToken);
      } catch (err2) {
        if (!(err2 instanceof DrChronoUnauthorizedError)) throw err2;
      }
    }
    await requestTokenRefresh(deps.ddb, deps.teamsTable, teamId, `${who}: DrChrono answered 401`, deps.now(), rejectedTokenVersion);
    throw new TokenRefreshRequestedError('token refresh requested');
  }
}

export interface Pause {
  delaySeconds: number;
  until: Date;
  reason: string;
  errorClass: string;
}

/** A failure that means "not now" rather than "broken", with how long to wait. Undefined for real failures. */
export function pauseFor(err: unknown, now: Date, random: () => number = Math.random): Pause | undefined {
  const after = (s: number) => new Date(now.getTime() + s * 1000);
  if (err instanceof ApiBudgetExhaustedError) {
    const wait = Math.max(1, Math.ceil((err.resetAt.getTime() - now.getTime()) / 1000)) + Math.floor(random() * BUDGET_RESET_SPREAD_SECONDS);
    return { delaySeconds: wait, until: err.resetAt, reason: 'team API budget exhausted', errorClass: err.name };
  }
  if (err instanceof DrChronoRateLimitedError) {
    const wait = Math.max(1, err.retryAfterSeconds);
    return { delaySeconds: wait, until: after(wait), reason: 'DrChrono rate limit', errorClass: err.name };
  }
  if (err instanceof TokenRefreshRequestedError) {
    return { delaySeconds: TOKEN_REFRESH_PAUSE_SECONDS, until: after(TOKEN_REFRESH_PAUSE_SECONDS), reason: 'token refresh requested', errorClass: err.name };
  }
  if (err instanceof DeferredByWorker) {
    return { delaySeconds: err.delaySeconds, until: after(err.delaySeconds), reason: err.reason, errorClass: err.errorClass };
  }
  if (err instanceof TeamNotConnectedError) {
    return { delaySeconds: NOT_CONNECTED_PAUSE_SECONDS, until: after(NOT_CONNECTED_PAUSE_SECONDS), reason: 'waiting for the team to connect', errorClass: err.name };
  }
  return undefined;
}
