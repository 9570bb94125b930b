import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { documentClient, secretsClient, sqsClient } from '../../shared/aws/clients';
import { DrChronoClient } from '../../shared/drchrono/client';
import { DrChronoUnauthorizedError } from '../../shared/drchrono/errors';
import { exchangeAuthorizationCode, refreshAccessToken } from '../../shared/drchrono/token-client';
import { completeAuthorization, type OAuthFlowDeps } from '../../shared/oauth/oauth-flow';
import type { HtmlResponse } from '../../shared/oauth/oauth-pages';
import { refreshTeam, type RefreshTeamDeps } from '../../shared/oauth/refresh-team';
import { connectionUserFromProfile } from '../../shared/oauth/team-connection';
import { readIntegrationLog } from '../../shared/store/integration-log';
import { readTeamSecret, writeTeamSecret } from '../../shared/teams/team-secret';
import { getTeamItem, teamKey } from '../../shared/teams/team-store';
import { connectTeam, decideInSandbox, startAuthorize } from './helpers/connect-team';
import { platform } from './helpers/platform';
import { waitFor } from './helpers/wait-for';

/**
 * The two token writers, the scheduled refresher and the OAuth callback, run for real against the emulators and
 * the DrChrono sandbox, with one injected into the other's gap between DrChrono's answer and the secret write.
 * The sandbox kills a user's earlier tokens when OAuth runs again, so a lost reconnect shows up as a dead token.
 */
const HOUR = 3_600_000;
const prefix = () => platform().resources.teamSecretPrefix;
const teamsTable = () => platform().resources.teamsTable;
const sandbox = () => platform().sandboxUrl!;
const secretOf = (teamId: string) => readTeamSecret(secretsClient(), prefix(), teamId);
const teamOf = (teamId: string) => getTeamItem(documentClient(), teamsTable(), teamId, true);

async function makeDue(teamId: string): Promise<void> {
  const at = Date.now() + HOUR;
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

function refresherDeps(over: Partial<RefreshTeamDeps> = {}): RefreshTeamDeps {
  return {
    ddb: documentClient(),
    secrets: secretsClient(),
    teamsTable: teamsTable(),
    teamSecretPrefix: prefix(),
    drchronoBaseUrl: sandbox(),
    refreshAccessToken,
    windowMs: 24 * HOUR,
    owner: `it-refresher-${Math.random().toString(36).slice(2)}`,
    writeLog: async () => undefined,
    ...over,
  };
}

/** The callback's dependencies, as functions/oauth wires them; `blocked` records that it waited for the lease. */
function callbackDeps(over: Partial<OAuthFlowDeps> = {}): OAuthFlowDeps & { waited: { value: boolean } } {
  const waited = { value: false };
  return {
    ddb: documentClient(),
    secrets: secretsClient(),
    sqs: sqsClient(),
    teamsTable: teamsTable(),
    teamSecretPrefix: prefix(),
    drchronoBaseUrl: sandbox(),
    redirectUri: platform().oauthRedirectUri,
    readClientSecretCached: async (teamId) => secretOf(teamId),
    // Only the callback runs here (the state is created directly): no connect link is verified.
    connectLinkKey: async () => undefined,
    exchangeCode: (args) => exchangeAuthorizationCode(args),
    fetchCurrentUser: async ({ baseUrl, accessToken }) =>
      connectionUserFromProfile(await new DrChronoClient({ baseUrl, accessToken: async () => accessToken }).currentUser()),
    sleep: async (ms) => {
      waited.value = true;
      await new Promise((r) => setTimeout(r, ms));
    },
    waited,
    ...over,
  };
}

/** A second connect for the team, stopped where DrChrono redirects the browser to our callback. */
async function pendingCallback(teamId: string): Promise<{ query: Record<string, string>; cookies: string[] }> {
  const authorize = await startAuthorize(teamId);
  const location = await decideInSandbox(authorize.location!, 'approve');
  return { query: Object.fromEntries(new URL(location).searchParams), cookies: [authorize.cookie!] };
}

/** Runs `start` and resolves once it has finished or is waiting for the token lease, whichever comes first. */
async function untilDoneOrWaiting(start: () => Promise<HtmlResponse>, waited: { value: boolean }): Promise<{ running: Promise<HtmlResponse> }> {
  const running = start();
  const waiting = waitFor(() => waited.value, { timeoutMs: 20_000, intervalMs: 20, description: 'the callback to wait for the lease' });
  await Promise.race([running, waiting.catch(() => undefined)]);
  return { running };
}

describe('token writers never overwrite each other', () => {
  it('keeps a reconnect whose callback lands while the refresher is between its refresh and its secret write', async () => {
    const team = await connectTeam({ rotation: true, waitForBackfill: false });
    const before = await secretOf(team.teamId);
    await makeDue(team.teamId);
    const reconnect = await pendingCallback(team.teamId);
    const cb = callbackDeps();

    let callback: Promise<HtmlResponse> | undefined;
    const outcome = await refreshTeam(
      refresherDeps({
        beforeSecretWrite: async () => {
          callback = (await untilDoneOrWaiting(() => completeAuthorization(cb, reconnect.query, reconnect.cookies), cb.waited)).running;
        },
      }),
      team.teamId,
    );
    const page = await callback!;

    expect(outcome).toBe('refreshed');
    expect(page.statusCode).toBe(200);
    const after = await secretOf(team.teamId);
    // The reconnect ran last at DrChrono (it waited for the refresher's lease), so its tokens are the live ones.
    expect(await accessTokenWorks(after.accessToken!)).toBe(true);
    expect(after.tokenVersion).toBe((before.tokenVersion ?? 0) + 2);
    expect(await teamOf(team.teamId)).toMatchObject({ status: 'connected', tokenVersion: after.tokenVersion });
    expect((await teamOf(team.teamId))?.refreshLeaseOwner).toBeUndefined();
  });

  it('does not let a refresher run between the callback\'s code exchange and its secret write', async () => {
    const team = await connectTeam({ rotation: true, waitForBackfill: false });
    const before = await secretOf(team.teamId);
    await makeDue(team.teamId);
    const reconnect = await pendingCallback(team.teamId);

    let refresherOutcome: string | undefined;
    const cb = callbackDeps({
      exchangeCode: async (args) => {
        const tokens = await exchangeAuthorizationCode(args);
        refresherOutcome = await refreshTeam(refresherDeps(), team.teamId);
        return tokens;
      },
    });
    const page = await completeAuthorization(cb, reconnect.query, reconnect.cookies);

    expect(page.statusCode).toBe(200);
    expect(refresherOutcome).toBe('locked');
    const after = await secretOf(team.teamId);
    expect(await accessTokenWorks(after.accessToken!)).toBe(true);
    expect(after.tokenVersion).toBe((before.tokenVersion ?? 0) + 1);
    const team2 = await teamOf(team.teamId);
    expect(team2).toMatchObject({ status: 'connected', tokenVersion: after.tokenVersion });
    const log = await readIntegrationLog(documentClient(), platform().resources.recordsTable, team.teamId, { limit: 50 });
    expect(log.filter((e) => e.event === 'token_refresh')).toEqual([]);
  });

  it('keeps the later of two callbacks (two browser tabs), with a higher tokenVersion each', async () => {
    const team = await connectTeam({ rotation: true, waitForBackfill: false });
    const before = await secretOf(team.teamId);
    const tabA = await pendingCallback(team.teamId);
    const tabB = await pendingCallback(team.teamId);
    const cbB = callbackDeps();

    let pageB: Promise<HtmlResponse> | undefined;
    const cbA = callbackDeps({
      exchangeCode: async (args) => {
        const tokens = await exchangeAuthorizationCode(args);
        pageB = (await untilDoneOrWaiting(() => completeAuthorization(cbB, tabB.query, tabB.cookies), cbB.waited)).running;
        return tokens;
      },
    });
    const pageA = await completeAuthorization(cbA, tabA.query, tabA.cookies);

    expect(pageA.statusCode).toBe(200);
    expect((await pageB!).statusCode).toBe(200);
    const after = await secretOf(team.teamId);
    expect(await accessTokenWorks(after.accessToken!)).toBe(true);
    expect(after.tokenVersion).toBe((before.tokenVersion ?? 0) + 2);
    expect(await teamOf(team.teamId)).toMatchObject({ status: 'connected', tokenVersion: after.tokenVersion });
  });
});
