import { randomBytes, randomUUID } from 'node:crypto';
import type { PlatformInfo } from '../../local/platform-info';
import { documentClient, secretsClient } from '../../shared/aws/clients';
import { DrChronoNetworkError } from '../../shared/drchrono/errors';
import { exchangeAuthorizationCode, refreshAccessToken } from '../../shared/drchrono/token-client';
import { DEFAULT_REFRESH_CONCURRENCY, DEFAULT_REFRESH_WINDOW_MINUTES, MINUTE_MS } from '../../shared/oauth/refresh-index';
import { runRefreshSweep, type RefreshSweepSummary } from '../../shared/oauth/refresh-sweep';
import { markTeamConnected } from '../../shared/oauth/team-connection';
import { writeIntegrationLog } from '../../shared/store/integration-log';
import { createTeamSecret } from '../../shared/teams/team-secret';
import { createTeamItem } from '../../shared/teams/team-store';
import { httpJson, sandboxUrl, type BenchTeam } from '../sandbox';
import { summarizeBy, type Summary } from '../stats';

/**
 * Section 6: the scheduled refresher's sweep (runRefreshSweep, production settings: concurrency 25, secret
 * writes paced at 40/s) over 1k and 10k connected teams, each with its own sandbox app whose token endpoint
 * answers after 300 ms. Teams are seeded directly (sandbox app + grant + token exchange, secret, team item)
 * instead of 10k browser flows. Wall time is compared with two bounds: the concurrency bound
 * (teams x latency / concurrency) and the secret-write pacing bound (teams / 40 per s).
 */
export const TOKEN_LATENCY_MS = 300;
/** The sweep's default PutSecretValue pacing (shared/oauth/refresh-sweep.ts). */
export const SECRET_WRITES_PER_SECOND = 40;
const SEED_CONCURRENCY = 48;

export interface SweepRun {
  teams: number;
  wallMs: number;
  summary: RefreshSweepSummary;
  concurrencyBoundMs: number;
  pacingBoundMs: number;
  idealMs: number;
  ratioToIdeal: number;
  ratioToConcurrencyBound: number;
  seedMs: number;
}

export interface SweepSize {
  teams: number;
  wallMs: Summary;
  ratioToIdeal: Summary;
  ratioToConcurrencyBound: Summary;
  concurrencyBoundMs: number;
  pacingBoundMs: number;
  runs: SweepRun[];
}

export interface RefreshSweepSection {
  concurrency: number;
  tokenLatencyMs: number;
  secretWritesPerSecond: number;
  sizes: SweepSize[];
}

export async function forEachLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

/**
 * One connected team with its own sandbox app, seeded directly (sandbox app + grant + token exchange, secret,
 * team item) rather than through the browser flow. Its access token expires at `expiresAt` (default: the
 * token's own lifetime); `tokenLatencyMs` slows the app's token endpoint from then on.
 */
export async function seedConnectedTeam(info: PlatformInfo, o: { expiresAt?: number; tokenLatencyMs?: number } = {}): Promise<BenchTeam> {
  const nowMs = Date.now();
  const teamId = randomUUID();
  const clientId = `sweep-${randomBytes(6).toString('hex')}`;
  const clientSecret = randomBytes(16).toString('hex');
  const webhookSecret = randomBytes(20).toString('hex');
  const redirectUri = info.oauthRedirectUri;
  await httpJson('POST', sandboxUrl(info, '/_sandbox/apps'), { clientId, clientSecret, redirectUris: [redirectUri] }, 201);
  const { location } = await httpJson<{ location: string }>('POST', sandboxUrl(info, '/_sandbox/oauth/approve'), { client_id: clientId, redirect_uri: redirectUri, decision: 'approve' }, 200);
  const code = new URL(location).searchParams.get('code');
  if (!code) throw new Error('sandbox approve gave no code');
  const tokens = await exchangeAuthorizationCode({ baseUrl: info.sandboxUrl!, clientId, clientSecret, code, redirectUri });
  const expiresAt = o.expiresAt ?? nowMs + tokens.expiresIn * 1000;
  await createTeamSecret(secretsClient(), info.resources.teamSecretPrefix, teamId, {
    clientId,
    clientSecret,
    webhookSecret,
    accessToken: tokens.accessToken,
    refreshToken: tokens.refreshToken,
    accessTokenExpiresAt: expiresAt,
    tokenVersion: 1,
  });
  await createTeamItem(documentClient(), info.resources.teamsTable, teamId);
  await markTeamConnected(documentClient(), info.resources.teamsTable, teamId, { user: { id: 9001, username: 'bench' }, tokenExpiresAt: expiresAt, now: new Date(nowMs) });
  // Latency applies from now on: the seeding exchange above ran at full speed.
  if (o.tokenLatencyMs !== undefined) await httpJson('PATCH', sandboxUrl(info, `/_sandbox/apps/${clientId}`), { latencyMs: o.tokenLatencyMs }, 200);
  return { teamId, clientId, clientSecret, webhookSecret };
}

/** Seeding is set-up, not measurement: a transient network error seeds a fresh team instead of failing the run. */
export async function seedConnectedTeamWithRetry(info: PlatformInfo, o: Parameters<typeof seedConnectedTeam>[1] = {}, attempts = 3): Promise<BenchTeam> {
  for (let i = 1; ; i++) {
    try {
      return await seedConnectedTeam(info, o);
    } catch (err) {
      if (i >= attempts || !(err instanceof DrChronoNetworkError)) throw err;
    }
  }
}

async function sweepOnce(info: PlatformInfo, teams: number): Promise<SweepRun> {
  const s0 = Date.now();
  await forEachLimit(
    Array.from({ length: teams }, (_, i) => i),
    SEED_CONCURRENCY,
    // Due within the refresh window (60 min), so the sweep refreshes every one.
    async () => void (await seedConnectedTeamWithRetry(info, { expiresAt: Date.now() + 60 * MINUTE_MS, tokenLatencyMs: TOKEN_LATENCY_MS })),
  );
  const seedMs = Date.now() - s0;
  const ddb = documentClient();
  const t0 = performance.now();
  const summary = await runRefreshSweep({
    ddb,
    secrets: secretsClient(),
    teamsTable: info.resources.teamsTable,
    teamSecretPrefix: info.resources.teamSecretPrefix,
    drchronoBaseUrl: info.sandboxUrl!,
    refreshAccessToken: (args) => refreshAccessToken({ ...args, timeoutMs: 15_000 }),
    windowMs: DEFAULT_REFRESH_WINDOW_MINUTES * MINUTE_MS,
    concurrency: DEFAULT_REFRESH_CONCURRENCY,
    secretWritesPerSecond: SECRET_WRITES_PER_SECOND,
    owner: `bench:${randomUUID()}`,
    writeLog: async (teamId, entry) => {
      await writeIntegrationLog(ddb, info.resources.integrationLogTable, teamId, [entry], { groupId: 'bench' });
    },
  });
  const wallMs = performance.now() - t0;
  const concurrencyBoundMs = (summary.due * TOKEN_LATENCY_MS) / DEFAULT_REFRESH_CONCURRENCY;
  const pacingBoundMs = (summary.due / SECRET_WRITES_PER_SECOND) * 1000;
  const idealMs = Math.max(concurrencyBoundMs, pacingBoundMs);
  return {
    teams,
    wallMs,
    summary,
    concurrencyBoundMs,
    pacingBoundMs,
    idealMs,
    ratioToIdeal: wallMs / idealMs,
    ratioToConcurrencyBound: wallMs / concurrencyBoundMs,
    seedMs,
  };
}

export async function runRefreshSweepSection(
  info: PlatformInfo,
  plan: { teams: number; runs: number }[],
  log: (l: string) => void,
): Promise<RefreshSweepSection> {
  const sizes: SweepSize[] = [];
  for (const p of plan) {
    const runs: SweepRun[] = [];
    for (let r = 0; r < p.runs; r++) {
      const run = await sweepOnce(info, p.teams);
      log(
        `  sweep ${p.teams} teams run ${r + 1}/${p.runs}: ${(run.wallMs / 1000).toFixed(1)} s (due ${run.summary.due}, refreshed ${run.summary.refreshed}, failed ${run.summary.failed}); ` +
          `bounds: concurrency ${(run.concurrencyBoundMs / 1000).toFixed(1)} s, pacing ${(run.pacingBoundMs / 1000).toFixed(1)} s; seeding took ${(run.seedMs / 1000).toFixed(1)} s`,
      );
      runs.push(run);
    }
    sizes.push({
      teams: p.teams,
      wallMs: summarizeBy(runs, (r) => r.wallMs),
      ratioToIdeal: summarizeBy(runs, (r) => r.ratioToIdeal),
      ratioToConcurrencyBound: summarizeBy(runs, (r) => r.ratioToConcurrencyBound),
      concurrencyBoundMs: (p.teams * TOKEN_LATENCY_MS) / DEFAULT_REFRESH_CONCURRENCY,
      pacingBoundMs: (p.teams / SECRET_WRITES_PER_SECOND) * 1000,
      runs,
    });
  }
  return { concurrency: DEFAULT_REFRESH_CONCURRENCY, tokenLatencyMs: TOKEN_LATENCY_MS, secretWritesPerSecond: SECRET_WRITES_PER_SECOND, sizes };
}
