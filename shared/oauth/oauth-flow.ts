import { randomUUID } from 'node:crypto';
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import * as z from 'zod/mini';
import { InvalidGrantError } from '../drchrono/errors';
import { errorFields, logger } from '../logging/logger';
import { parseTeamId } from '../teams/team-id';
import { readTeamSecret, TeamSecretNotFoundError, type TeamSecret } from '../teams/team-secret';
import { getTeamItem, isTeamRemoved, teamLifecycle } from '../teams/team-store';
import { buildAuthorizeUrl, grantedScopesOf, scopesToRequest, SYNC_SCOPES } from './authorize-url';
import { consumeOAuthState, createOAuthState } from './oauth-state';
import { oauthPage, redirectResponse, type HtmlResponse, type OAuthPageKind } from './oauth-pages';
import { clearedStateCookie, stateCookie, stateFromCookies, stateMatchesCookie } from './state-cookie';
import {
  acquireTokenLeaseForCallback,
  claimTokenVersion,
  nextTokenVersion,
  releaseRefreshLease,
  TOKEN_WRITE_HOLD_MS,
  TOKEN_WRITE_MARGIN_MS,
  type Lease,
} from './refresh-lease';
import { markTeamConnected, type DrChronoConnectionUser } from './team-connection';
import { decideBinding, practiceGroupOf } from './account-binding';
import { verifyConnectLink, type SigningKey } from './connect-link';
import { ACCOUNT_CHANGE_REFUSED_METRIC, CONNECT_LINK_REFUSED_METRIC, type OAuthMetricName } from './oauth-metrics';
import { secretWithTokens, writeIssuedTokens, type IssuedTokens } from './token-secret';

/**
 * The connect flow behind `GET /integration-oauth/authorize/{teamId}` and `GET /integration-oauth/callback`.
 * Plain functions over injected clients: the Lambda handler only parses the event and wires the dependencies.
 */
export interface OAuthFlowDeps {
  ddb: DynamoDBDocumentClient;
  secrets: SecretsManagerClient;
  sqs: SQSClient;
  teamsTable: string;
  teamSecretPrefix: string;
  drchronoBaseUrl: string;
  redirectUri: string;
  backfillQueueUrl?: string;
  /** The authorize route only needs the client id: a cached read (see TeamSecretCache). */
  readClientSecretCached: (teamId: string) => Promise<TeamSecret | null>;
  /** `scope`: what DrChrono says it granted, when its token response has one (undocumented: see grantedScopesOf). */
  exchangeCode: (args: { baseUrl: string; clientId: string; clientSecret: string; code: string; redirectUri: string }) => Promise<IssuedTokens & { scope?: string }>;
  fetchCurrentUser: (args: { baseUrl: string; accessToken: string }) => Promise<DrChronoConnectionUser>;
  /** The connect-link signing key with this id (current or previous), from a cache (connect-link-key.ts). */
  connectLinkKey: (keyId: string) => Promise<SigningKey | undefined>;
  /** Counts a CloudWatch metric (Powertools in the Lambda). */
  countMetric?: (name: OAuthMetricName) => void;
  now?: () => Date;
  /** How long the callback waits for a refresher's lease (default 5 s: the admin is waiting). */
  leaseWaitMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

/** Covers the callback's whole run (the oauth function times out at 15 s). */
const CALLBACK_LEASE_MS = 60_000;
/** A refresh holds the lease for about one token request; the admin's page should not wait much longer. */
const CALLBACK_LEASE_WAIT_MS = 5_000;
const CALLBACK_LEASE_POLL_MS = 250;

/** The message the callback puts on the backfill queue once a team is connected. */
export interface BackfillStartMessage {
  type: 'start';
  teamId: string;
  /** Set after an allowed account change: a start with a job id replaces a running backfill of the old account. */
  jobId?: string;
}

/**
 * `GET /integration-oauth/authorize/{teamId}?exp=&acc=&lid=&kid=&sig=`. The link's signature and expiry are checked
 * first (connect-link.ts): an unsigned, altered or expired link reads and writes nothing.
 */
export async function startAuthorization(deps: OAuthFlowDeps, rawTeamId: unknown, rawQuery?: Record<string, string | undefined>): Promise<HtmlResponse> {
  const teamId = parseTeamId(rawTeamId);
  if (!teamId) return oauthPage('unknown_team');
  const link = await verifyConnectLink(teamId, rawQuery, deps.connectLinkKey, Math.floor(now(deps).getTime() / 1000));
  if (!link.ok) {
    logger.info('oauth authorize: connect link refused', { teamId, outcome: `link_${link.reason}` });
    deps.countMetric?.(CONNECT_LINK_REFUSED_METRIC);
    return oauthPage(`link_${link.reason}`);
  }
  const team = await getTeamItem(deps.ddb, deps.teamsTable, teamId);
  if (!team || isTeamRemoved(team)) return oauthPage('unknown_team');
  if (teamLifecycle(team) === 'disabled') return oauthPage('team_disabled');
  const secret = await deps.readClientSecretCached(teamId);
  if (!secret) {
    logger.error('oauth authorize: team has no secret', { teamId });
    return oauthPage('server_error');
  }
  const accountChangeLinkId = link.claims.allowAccountChange ? link.claims.linkId : undefined;
  // Write scopes only for a team that opted in to write-back (docs/write-back.md, "Opt-in per team").
  const scopes = scopesToRequest(team);
  const state = await createOAuthState(deps.ddb, deps.teamsTable, teamId, now(deps), { accountChangeLinkId, scopes });
  logger.info('oauth authorize: redirecting to DrChrono', {
    teamId,
    keyId: link.keyId,
    allowAccountChange: link.claims.allowAccountChange,
    writeScopes: scopes.length > SYNC_SCOPES.length,
  });
  return redirectResponse(
    buildAuthorizeUrl({ baseUrl: deps.drchronoBaseUrl, clientId: secret.clientId, redirectUri: deps.redirectUri, state, scopes }),
    [stateCookie(state)],
  );
}

const CallbackQuerySchema = z.object({
  code: z.optional(z.string().check(z.minLength(1), z.maxLength(2048))),
  state: z.optional(z.string().check(z.maxLength(512))),
  error: z.optional(z.string().check(z.maxLength(256))),
});

/**
 * `cookies` are the request's cookies (API Gateway v2 `event.cookies`): the state is accepted only from the
 * browser that started the flow (see state-cookie.ts). Every answer clears the state cookie.
 */
export async function completeAuthorization(deps: OAuthFlowDeps, rawQuery: unknown, cookies?: readonly string[]): Promise<HtmlResponse> {
  const page = await callback(deps, rawQuery, stateFromCookies(cookies));
  return { ...page, cookies: [...(page.cookies ?? []), clearedStateCookie()] };
}

async function callback(deps: OAuthFlowDeps, rawQuery: unknown, cookieState: string | undefined): Promise<HtmlResponse> {
  const parsed = CallbackQuerySchema.safeParse(rawQuery ?? {});
  if (!parsed.success) return oauthPage('invalid');
  const query = parsed.data;
  // A state from another browser is refused before it is consumed, so a forged callback cannot burn the real one.
  if (query.state !== undefined && !stateMatchesCookie(query.state, cookieState)) {
    logger.info('oauth callback: state not bound to this browser', { outcome: 'wrong_browser' });
    return oauthPage('wrong_browser');
  }

  if (query.error !== undefined) {
    // The user cancelled (access_denied) or DrChrono refused. Use up the state so the link cannot be replayed.
    const consumed = query.state ? await consumeOAuthState(deps.ddb, deps.teamsTable, query.state, now(deps)) : undefined;
    const teamId = consumed?.ok ? consumed.teamId : undefined;
    const denied = query.error === 'access_denied';
    logger.info('oauth callback: authorization not granted', { teamId, outcome: denied ? 'denied' : 'provider_error' });
    return oauthPage(denied ? 'denied' : 'drchrono_error');
  }
  if (!query.code || !query.state) return oauthPage('invalid');

  const consumed = await consumeOAuthState(deps.ddb, deps.teamsTable, query.state, now(deps));
  if (!consumed.ok) {
    logger.info('oauth callback: state rejected', { outcome: consumed.reason });
    return oauthPage(consumed.reason);
  }
  const { teamId } = consumed;
  const team = await getTeamItem(deps.ddb, deps.teamsTable, teamId, true);
  if (!team || isTeamRemoved(team)) return oauthPage('unknown_team');
  if (teamLifecycle(team) === 'disabled') return oauthPage('team_disabled');

  // The refresher's lease, taken before the code is spent: no refresher (or other callback) writes tokens between
  // our exchange and our write, and a later exchange always writes later (see docs/oauth.md, "Who writes the tokens").
  const lease = await acquireTokenLeaseForCallback(deps.ddb, deps.teamsTable, teamId, `oauth-callback:${randomUUID()}`, {
    now: () => now(deps).getTime(),
    leaseMs: CALLBACK_LEASE_MS,
    waitMs: deps.leaseWaitMs ?? CALLBACK_LEASE_WAIT_MS,
    pollMs: CALLBACK_LEASE_POLL_MS,
    sleep: deps.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms))),
  });
  if (!lease) {
    logger.warn('oauth callback: token lease busy, code not exchanged', { teamId, outcome: 'busy' });
    return oauthPage('busy');
  }
  /** true once the lease needs no release here: released with the outcome, or left to run out after a failed write. */
  const released = { value: false };
  try {
    return await connectUnderLease(deps, lease, query.code, released, consumed.accountChangeLinkId, consumed.scopes ?? [...SYNC_SCOPES]);
  } finally {
    // Conditional on this owner: never releases a lease someone else took after ours ran out.
    if (!released.value) {
      await releaseRefreshLease(deps.ddb, deps.teamsTable, lease).catch((err: unknown) => {
        logger.warn('oauth callback: lease release failed; it expires on its own', { teamId, errorClass: errorFields(err).errorClass });
      });
    }
  }
}

async function connectUnderLease(
  deps: OAuthFlowDeps,
  lease: Lease,
  code: string,
  released: { value: boolean },
  accountChangeLinkId: string | undefined,
  requestedScopes: string[],
): Promise<HtmlResponse> {
  const { teamId } = lease;
  let secret: TeamSecret;
  try {
    // A fresh read, not the cache: the whole secret is written back below, so it must be current.
    secret = await readTeamSecret(deps.secrets, deps.teamSecretPrefix, teamId);
  } catch (err) {
    logger.error('oauth callback: cannot read team secret', { teamId, ...errorFields(err) });
    return oauthPage(err instanceof TeamSecretNotFoundError ? 'unknown_team' : 'server_error');
  }

  // The code "expires extremely quickly": exchange it before anything slow.
  let tokens: IssuedTokens & { scope?: string };
  try {
    tokens = await deps.exchangeCode({
      baseUrl: deps.drchronoBaseUrl,
      clientId: secret.clientId,
      clientSecret: secret.clientSecret,
      code,
      redirectUri: deps.redirectUri,
    });
  } catch (err) {
    logger.warn('oauth callback: code exchange failed', { teamId, errorClass: errorFields(err).errorClass });
    // An expired or reused code is the admin's to retry; anything else is DrChrono's or our configuration's.
    return oauthPage(err instanceof InvalidGrantError ? 'expired' : 'drchrono_error');
  }

  // Who authorised, before anything is stored: the team is bound to one DrChrono account (account-binding.ts).
  // A failed lookup stores nothing: the tokens are dropped and the admin runs the link again.
  let user: DrChronoConnectionUser;
  try {
    user = await deps.fetchCurrentUser({ baseUrl: deps.drchronoBaseUrl, accessToken: tokens.accessToken });
  } catch (err) {
    logger.warn('oauth callback: current user lookup failed; nothing stored', { teamId, errorClass: errorFields(err).errorClass });
    return oauthPage('drchrono_error');
  }
  // lease.team was read by the lease acquire, and only lease holders change the binding: it is current.
  const binding = decideBinding(lease.team, user, { linkId: accountChangeLinkId });
  if (binding.kind === 'refused') {
    // Ids only (no names): which account was refused for which binding.
    logger.warn('oauth callback: another DrChrono account refused; nothing stored', {
      teamId,
      outcome: binding.reason === 'permission_used' ? 'account_change_permission_used' : 'account_mismatch',
      drchronoUserId: user.id,
      drchronoPracticeGroup: practiceGroupOf(user),
      boundDrchronoUserId: lease.team.boundDrchronoUserId ?? lease.team.drchronoUserId,
    });
    deps.countMetric?.(ACCOUNT_CHANGE_REFUSED_METRIC);
    return oauthPage(binding.reason === 'permission_used' ? 'account_change_used' : 'account_mismatch');
  }

  // Store the tokens before anything else can fail: the code is spent, the tokens exist nowhere else.
  // First claim the next tokenVersion on the team item (only while we own the lease; it records the binding and
  // spends a one-time account-change permission), then write the secret.
  const issuedAt = now(deps);
  const version = nextTokenVersion(lease.team, secret.tokenVersion);
  const claim = await claimTokenVersion(deps.ddb, deps.teamsTable, lease, version, issuedAt.getTime(), TOKEN_WRITE_HOLD_MS, {
    userId: user.id,
    practiceGroup: practiceGroupOf(user),
    changed: binding.kind !== 'same',
    ...(binding.kind === 'change' ? { spendLinkId: binding.linkId } : {}),
  });
  if (!claim) {
    logger.error('oauth callback: token lease lost before the token write; tokens dropped', { teamId });
    return oauthPage('server_error');
  }
  if (binding.kind === 'change') {
    logger.warn('oauth callback: DrChrono account changed by an operator-issued link', {
      teamId,
      outcome: 'account_changed',
      drchronoUserId: user.id,
      drchronoPracticeGroup: practiceGroupOf(user),
      previousDrchronoUserId: lease.team.boundDrchronoUserId ?? lease.team.drchronoUserId,
    });
  }
  const withTokens = secretWithTokens(secret, tokens, issuedAt.getTime(), version);
  try {
    await writeIssuedTokens(deps.secrets, deps.teamSecretPrefix, teamId, withTokens, {
      deadlineMs: claim.until - TOKEN_WRITE_MARGIN_MS,
      now: () => now(deps).getTime(),
    });
  } catch (err) {
    // An aborted PutSecretValue may still apply server-side: the lease is not released but runs out at the
    // claim's end, so no other writer starts before the stalled request is surely dead.
    released.value = true;
    logger.error('oauth callback: tokens could not be stored; lease left to expire', { teamId, errorClass: errorFields(err).errorClass });
    throw err;
  }

  // grantedScopes goes with the connection state, conditional on the version we claimed: a later writer's
  // scopes are never overwritten by ours.
  const grantedScopes = grantedScopesOf(requestedScopes, tokens.scope);
  released.value = await markTeamConnected(deps.ddb, deps.teamsTable, teamId, {
    user,
    tokenExpiresAt: withTokens.accessTokenExpiresAt ?? issuedAt.getTime(),
    now: issuedAt,
    lease: { owner: lease.owner, tokenVersion: version },
    grantedScopes,
  });
  logger.info('oauth callback: team connected', { teamId, drchronoUserId: user.id, tokenVersion: withTokens.tokenVersion });
  // A connect start never replaces a running backfill; after an account change the running one reads the old
  // practice's cursor with the new account's token, so the new practice gets its own job.
  await enqueueBackfill(deps, teamId, binding.kind === 'change' ? `account-change-v${version}` : undefined);
  return oauthPage('connected', { username: user.username });
}

async function enqueueBackfill(deps: OAuthFlowDeps, teamId: string, jobId?: string): Promise<void> {
  if (!deps.backfillQueueUrl) return;
  const message: BackfillStartMessage = { type: 'start', teamId, ...(jobId ? { jobId } : {}) };
  try {
    await deps.sqs.send(
      new SendMessageCommand({
        QueueUrl: deps.backfillQueueUrl,
        MessageBody: JSON.stringify(message),
        MessageAttributes: { teamId: { DataType: 'String', StringValue: teamId } },
      }),
    );
  } catch (err) {
    // The team is connected either way; the error is logged so an operator can start the backfill.
    logger.error('oauth callback: backfill enqueue failed', { teamId, ...errorFields(err) });
  }
}

function now(deps: OAuthFlowDeps): Date {
  return deps.now ? deps.now() : new Date();
}

export type { OAuthPageKind };
