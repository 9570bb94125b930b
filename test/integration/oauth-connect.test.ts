import { documentClient, secretsClient } from '../../shared/aws/clients';
import { DrChronoClient } from '../../shared/drchrono/client';
import { createOAuthState } from '../../shared/oauth/oauth-state';
import { readTeamSecret } from '../../shared/teams/team-secret';
import { getTeamItem } from '../../shared/teams/team-store';
import {
  createSandboxApp,
  decideInSandbox,
  followCallback,
  registerTestTeam,
  startAuthorize,
} from './helpers/connect-team';
import { platform } from './helpers/platform';

const ddb = () => documentClient();
const teamsTable = () => platform().resources.teamsTable;
const secretOf = (teamId: string) => readTeamSecret(secretsClient(), platform().resources.teamSecretPrefix, teamId);
const teamOf = (teamId: string) => getTeamItem(ddb(), teamsTable(), teamId, true);

async function newTeam(): Promise<{ teamId: string; clientId: string }> {
  const app = await createSandboxApp();
  const { teamId } = await registerTestTeam(app);
  return { teamId, clientId: app.clientId };
}

async function expectNothingStored(teamId: string): Promise<void> {
  const secret = await secretOf(teamId);
  expect(secret.accessToken).toBeUndefined();
  expect(secret.refreshToken).toBeUndefined();
  const team = await teamOf(teamId);
  expect(team?.status).toBe('registered');
  expect(team?.tokenExpiresAt).toBeUndefined();
}

describe('OAuth connect through the local API and the DrChrono sandbox', () => {
  it('authorize → sandbox approve → callback stores the tokens and records the DrChrono user', async () => {
    const { teamId, clientId } = await newTeam();
    const before = Date.now();

    const authorize = await startAuthorize(teamId);
    expect(authorize.status).toBe(302);
    const url = new URL(authorize.location!);
    expect(`${url.origin}${url.pathname}`).toBe(`${platform().sandboxUrl}/o/authorize/`);
    expect(url.searchParams.get('client_id')).toBe(clientId);
    expect(url.searchParams.get('redirect_uri')).toBe(platform().oauthRedirectUri);
    expect(url.searchParams.get('response_type')).toBe('code');
    expect(url.searchParams.get('scope')).toBe('patients:read calendar:read user:read');

    const location = await decideInSandbox(authorize.location!, 'approve');
    const code = new URL(location).searchParams.get('code')!;
    expect(authorize.setCookie).toMatch(/; HttpOnly; Secure; SameSite=Lax$/);
    const page = await followCallback(location, authorize.cookie);
    expect(page.status).toBe(200);
    expect(page.text).toContain('DrChrono connected');
    expect(page.headers.get('cache-control')).toBe('no-store');
    expect(page.headers.get('referrer-policy')).toBe('no-referrer');

    const secret = await secretOf(teamId);
    expect(secret.accessToken).toEqual(expect.any(String));
    expect(secret.refreshToken).toEqual(expect.any(String));
    expect(secret.tokenVersion).toBe(1);
    expect(secret.accessTokenExpiresAt).toBeGreaterThanOrEqual(before + 172_800_000);
    expect(secret.accessTokenExpiresAt).toBeLessThanOrEqual(Date.now() + 172_800_000);
    for (const value of [code, secret.accessToken!, secret.refreshToken!]) expect(page.text).not.toContain(value);

    // The stored token is the one DrChrono issued: it identifies the same user the team records.
    const user = await new DrChronoClient({ baseUrl: platform().sandboxUrl!, accessToken: async () => secret.accessToken! }).currentUser();
    const team = await teamOf(teamId);
    expect(team).toMatchObject({
      status: 'connected',
      drchronoUserId: Number(user.id),
      drchronoUsername: user.username,
      tokenExpiresAt: secret.accessTokenExpiresAt,
      refreshPartition: 'tokens',
    });
    expect(team?.drchronoDoctorId).toBe(Number(user.doctor));
    expect(team?.drchronoPracticeGroup).toBe(user.practice_group);
    expect(team?.connectedAt).toEqual(expect.any(String));
  });

  it('answers 404 for an unknown team', async () => {
    const res = await startAuthorize('6f1d2c3b-0000-4000-8000-000000000000');
    expect(res.status).toBe(404);
    expect(res.location).toBeNull();
  });

  it('rejects a tampered state with 400 and stores nothing', async () => {
    const { teamId } = await newTeam();
    const authorize = await startAuthorize(teamId);
    const location = new URL(await decideInSandbox(authorize.location!, 'approve'));
    const state = location.searchParams.get('state')!;
    const tampered = `${state.slice(0, -1)}${state.endsWith('A') ? 'B' : 'A'}`;
    location.searchParams.set('state', tampered);
    // Even a browser whose cookie was tampered to match finds no such state in the store.
    const page = await followCallback(location.toString(), `drchrono_sync_oauth_state=${tampered}`);
    expect(page.status).toBe(400);
    expect(page.text).toContain('Invalid link');
    await expectNothingStored(teamId);
  });

  it('rejects a callback from a browser that did not start the flow, and stores nothing', async () => {
    const { teamId } = await newTeam();
    const authorize = await startAuthorize(teamId);
    const location = await decideInSandbox(authorize.location!, 'approve');
    const page = await followCallback(location, null);
    expect(page.status).toBe(400);
    expect(page.text).toContain('same browser');
    await expectNothingStored(teamId);
    // The state was not used up: the browser that started the flow can still finish it.
    expect((await followCallback(location, authorize.cookie)).status).toBe(200);
  });

  it('rejects a reused state with 400 and keeps the tokens from the first use', async () => {
    const { teamId } = await newTeam();
    const authorize = await startAuthorize(teamId);
    const location = await decideInSandbox(authorize.location!, 'approve');
    expect((await followCallback(location, authorize.cookie)).status).toBe(200);
    const first = await secretOf(teamId);

    const replay = await followCallback(location, authorize.cookie);
    expect(replay.status).toBe(400);
    expect(replay.text).toContain('Invalid link');
    expect(await secretOf(teamId)).toEqual(first);
  });

  it('rejects an expired state with a "link expired" page and stores nothing', async () => {
    const { teamId } = await newTeam();
    const authorize = await startAuthorize(teamId);
    // A state issued 11 minutes ago, for the same team: only its age differs from a valid one.
    const oldState = await createOAuthState(ddb(), teamsTable(), teamId, new Date(Date.now() - 11 * 60_000));
    const url = new URL(authorize.location!);
    url.searchParams.set('state', oldState);
    const page = await followCallback(await decideInSandbox(url.toString(), 'approve'), `drchrono_sync_oauth_state=${oldState}`);
    expect(page.status).toBe(400);
    expect(page.text).toContain('Link expired');
    await expectNothingStored(teamId);
  });

  it('shows a clear page when the clinic admin denies access, and stores nothing', async () => {
    const { teamId } = await newTeam();
    const authorize = await startAuthorize(teamId);
    const location = await decideInSandbox(authorize.location!, 'deny');
    expect(new URL(location).searchParams.get('error')).toBe('access_denied');
    const page = await followCallback(location, authorize.cookie);
    expect(page.status).toBe(200);
    expect(page.text).toContain('Connection cancelled');
    await expectNothingStored(teamId);
  });
});
