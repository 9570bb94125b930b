import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { documentClient, secretsClient } from '../../shared/aws/clients';
import { DrChronoClient } from '../../shared/drchrono/client';
import { DrChronoUnauthorizedError } from '../../shared/drchrono/errors';
import { exchangeAuthorizationCode, refreshAccessToken } from '../../shared/drchrono/token-client';
import { requestTokenRefresh } from '../../shared/oauth/refresh-request';
import { refreshTeam, type RefreshOutcome } from '../../shared/oauth/refresh-team';
import type { RefreshSweepSummary } from '../../shared/oauth/refresh-sweep';
import { readIntegrationLog } from '../../shared/store/integration-log';
import { readTeamSecret, writeTeamSecret } from '../../shared/teams/team-secret';
import { getTeamItem, teamKey } from '../../shared/teams/team-store';
import { connectTeam, decideInSandbox, startAuthorize } from './helpers/connect-team';
import { httpJson } from './helpers/http';
import { platform, runScheduled } from './helpers/platform';

const HOUR = 3_600_000;
const prefix = () => platform().resources.teamSecretPrefix;
const teamsTable = () => platform().resources.teamsTable;
const sandbox = () => platform().sandboxUrl!;
const secretOf = (teamId: string) => readTeamSecret(secretsClient(), prefix(), teamId);
const teamOf = (teamId: string) => getTeamItem(documentClient(), teamsTable(), teamId, true);

/** Token-endpoint calls the sandbox counted for an app (its record of token requests). */
async function tokenCalls(clientId: string): Promise<number> {
  const { body } = await httpJson<{ byPath: Record<string, number> }>('GET', `${sandbox()}/_sandbox/apps/${clientId}/rate-limit`, undefined, 200);
  return body.byPath['/o/token/'] ?? 0;
}

/** Our records say the access token expires in an hour: inside the default 24 h window. */
async function makeDue(teamId: string, expiresInMs = HOUR): Promise<void> {
  const at = Date.now() + expiresInMs;
  await writeTeamSecret(secretsClient(), prefix(), teamId, { ...(await secretOf(teamId)), accessTokenExpiresAt: at });
  await documentClient().send(
    new UpdateCommand({ TableName: teamsTable(), Key: teamKey(teamId), UpdateExpression: 'SET tokenExpiresAt = :at', ExpressionAttributeValues: { ':at': at } }),
  );
}

async function accessTokenWorks(accessToken: string): Promise<boolean> {
  try {
    await new DrChronoClient({ baseUrl: sandbox(), accessToken: async () => accessToken, maxRetries: 0 }).currentUser();
    return true;
  } catch (err) {
    if (err instanceof DrChronoUnauthorizedError) return false;
    throw err;
  }
}

const runSweep = () => runScheduled<RefreshSweepSummary>('token-refresh');

describe('token refresh against the DrChrono sandbox', () => {
  it('refreshes a team whose token expires within the window, through the scheduled function', async () => {
    const team = await connectTeam();
    const before = await secretOf(team.teamId);
    await makeDue(team.teamId);

    const summary = await runSweep();
    expect(summary.refreshed).toBeGreaterThanOrEqual(1);

    const after = await secretOf(team.teamId);
    expect(after.accessToken).not.toBe(before.accessToken);
    expect(after.tokenVersion).toBe((before.tokenVersion ?? 0) + 1);
    expect(after.accessTokenExpiresAt).toBeGreaterThan(Date.now() + 47 * HOUR);
    expect(await accessTokenWorks(after.accessToken!)).toBe(true);
    expect(await accessTokenWorks(before.accessToken!)).toBe(false);
    expect(await teamOf(team.teamId)).toMatchObject({
      status: 'connected',
      tokenExpiresAt: after.accessTokenExpiresAt,
      lastRefreshOutcome: 'ok',
      lastRefreshAt: expect.any(String),
      refreshPartition: 'tokens',
    });
  });

  it('leaves a team whose token is not yet due alone', async () => {
    const team = await connectTeam();
    const before = await secretOf(team.teamId);
    const calls = await tokenCalls(team.clientId);
    await runSweep();
    expect(await secretOf(team.teamId)).toEqual(before);
    expect(await tokenCalls(team.clientId)).toBe(calls);
  });

  it('honours rotation: each refresh sends the refresh token the previous one returned, never an old one', async () => {
    const team = await connectTeam({ rotation: true });
    const refreshTokens = [(await secretOf(team.teamId)).refreshToken];
    const callsAfterConnect = await tokenCalls(team.clientId);

    for (let i = 0; i < 3; i++) {
      await makeDue(team.teamId);
      await runSweep();
      refreshTokens.push((await secretOf(team.teamId)).refreshToken);
    }

    // Three rotations, three token calls, and no rejected old token (that would have marked the team).
    expect(new Set(refreshTokens).size).toBe(4);
    expect(await tokenCalls(team.clientId)).toBe(callsAfterConnect + 3);
    expect(await teamOf(team.teamId)).toMatchObject({ status: 'connected', lastRefreshOutcome: 'ok' });
    // The sandbox really rotates: the first refresh token is dead.
    await expect(
      refreshAccessToken({ baseUrl: sandbox(), clientId: team.clientId, clientSecret: team.clientSecret, refreshToken: refreshTokens[0]! }),
    ).rejects.toMatchObject({ name: 'InvalidGrantError' });
  });

  it('50 concurrent refresh attempts for one team make exactly one token-endpoint call', async () => {
    const team = await connectTeam({ rotation: true });
    await httpJson('PATCH', `${sandbox()}/_sandbox/apps/${team.clientId}`, { latencyMs: 300 }, 200);
    await makeDue(team.teamId);
    const calls = await tokenCalls(team.clientId);

    const outcomes = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        refreshTeam(
          {
            ddb: documentClient(),
            secrets: secretsClient(),
            teamsTable: teamsTable(),
            teamSecretPrefix: prefix(),
            drchronoBaseUrl: sandbox(),
            refreshAccessToken,
            windowMs: 24 * HOUR,
            owner: `it-refresher-${i}`,
          },
          team.teamId,
        ),
      ),
    );

    expect(await tokenCalls(team.clientId)).toBe(calls + 1);
    const counts = outcomes.reduce<Partial<Record<RefreshOutcome, number>>>((acc, o) => ({ ...acc, [o]: (acc[o] ?? 0) + 1 }), {});
    expect(counts.refreshed).toBe(1);
    expect((counts.locked ?? 0) + (counts.not_due ?? 0)).toBe(49);
    expect(await accessTokenWorks((await secretOf(team.teamId)).accessToken!)).toBe(true);
  });

  it('refreshes at once when the request path asks for it, even before the token is due', async () => {
    const team = await connectTeam();
    const before = await secretOf(team.teamId);
    expect(await requestTokenRefresh(documentClient(), teamsTable(), team.teamId, 'integration test: 401 after re-read')).toBe(true);
    expect((await teamOf(team.teamId))?.tokenExpiresAt).toBe(before.accessTokenExpiresAt);

    await runSweep();
    const after = await secretOf(team.teamId);
    expect(after.accessToken).not.toBe(before.accessToken);
    expect(await teamOf(team.teamId)).toMatchObject({ refreshPartition: 'tokens', lastRefreshOutcome: 'ok' });
    expect((await teamOf(team.teamId)) as Record<string, unknown>).not.toHaveProperty('refreshRequestedAt');
  });

  it('backs off after a DrChrono 5xx and keeps the tokens it has', async () => {
    const team = await connectTeam();
    await makeDue(team.teamId);
    const before = await secretOf(team.teamId);
    await httpJson('POST', `${sandbox()}/_sandbox/faults`, { path: '/o/token/', kind: '503', count: 1 }, 201);

    await runSweep();
    expect(await secretOf(team.teamId)).toEqual(before);
    const failed = (await teamOf(team.teamId)) as Record<string, unknown>;
    expect(failed).toMatchObject({ status: 'connected', lastRefreshOutcome: 'transient_error', refreshFailures: 1 });
    expect(failed.refreshNotBefore).toBeGreaterThan(Date.now());

    // Still in backoff: the next run does not try again.
    const calls = await tokenCalls(team.clientId);
    await runSweep();
    expect(await tokenCalls(team.clientId)).toBe(calls);
  });

  it('marks the team reauthorization_required and logs it when a re-authorisation elsewhere killed the grant', async () => {
    const team = await connectTeam({ rotation: true });
    // Another installation runs the OAuth flow for the same DrChrono user and app: our tokens die.
    const authorize = await startAuthorize(team.teamId);
    const elsewhere = new URL(await decideInSandbox(authorize.location!, 'approve'));
    await exchangeAuthorizationCode({
      baseUrl: sandbox(),
      clientId: team.clientId,
      clientSecret: team.clientSecret,
      code: elsewhere.searchParams.get('code')!,
      redirectUri: platform().oauthRedirectUri,
    });
    await makeDue(team.teamId);

    await runSweep();
    const marked = (await teamOf(team.teamId)) as Record<string, unknown>;
    expect(marked).toMatchObject({ status: 'reauthorization_required', lastRefreshOutcome: 'invalid_grant' });
    expect(marked).not.toHaveProperty('refreshPartition');
    const log = await readIntegrationLog(documentClient(), platform().resources.integrationLogTable, team.teamId, { outcome: 'failed' });
    expect(log).toEqual([expect.objectContaining({ event: 'token_refresh', entity: 'team', errorClass: 'InvalidGrantError' })]);

    // Out of the index: later runs leave it alone until it reconnects.
    const calls = await tokenCalls(team.clientId);
    await runSweep();
    expect(await tokenCalls(team.clientId)).toBe(calls);
  });
});
