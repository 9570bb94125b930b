import { randomBytes, randomUUID } from 'node:crypto';
import { documentClient, secretsClient } from '../../../shared/aws/clients';
import { mintConnectLink } from '../../../shared/oauth/connect-link-key';
import { registerTeam } from '../../../shared/teams/register-team';
import { getTeamItem } from '../../../shared/teams/team-store';
import { getBackfillJob } from '../../../shared/backfill/job-store';
import { httpJson } from './http';
import { platform } from './platform';
import { waitFor } from './wait-for';

/**
 * Connects a team the way a clinic does: register it, create its DrChrono app in the sandbox, then run the real
 * OAuth flow through the local API (authorize → sandbox approve, no browser → callback). Each call gets its own
 * sandbox app, so teams never invalidate each other's tokens.
 */
export interface ConnectedTeam {
  teamId: string;
  clientId: string;
  clientSecret: string;
  webhookSecret: string;
  /** The sandbox user who approved (DrChrono user id recorded on the team). */
  userId: number;
}

export interface SandboxAppOptions {
  /** Refresh-token rotation in the sandbox app: a refresh kills the old refresh token. */
  rotation?: boolean;
}

function sandboxUrl(path: string): string {
  const base = platform().sandboxUrl;
  if (!base) throw new Error('the local platform runs without the DrChrono sandbox');
  return `${base}${path}`;
}

/** Creates a sandbox app (a DrChrono API application) whose redirect URI is the local callback. */
export async function createSandboxApp(opts: SandboxAppOptions = {}): Promise<{ clientId: string; clientSecret: string }> {
  const clientId = `it-${randomBytes(6).toString('hex')}`;
  const clientSecret = randomBytes(16).toString('hex');
  await httpJson(
    'POST',
    sandboxUrl('/_sandbox/apps'),
    { clientId, clientSecret, redirectUris: [platform().oauthRedirectUri], rotateRefreshTokens: opts.rotation ?? false },
    201,
  );
  return { clientId, clientSecret };
}

/** Registers a team (secret + item) for the given app, as `drchrono-sync team add` does. */
export async function registerTestTeam(app: { clientId: string; clientSecret: string }): Promise<{ teamId: string; webhookSecret: string }> {
  const teamId = randomUUID();
  const { webhookSecret } = await registerTeam(
    { teamId, clientId: app.clientId, clientSecret: app.clientSecret },
    { ddb: documentClient(), secrets: secretsClient(), teamsTable: platform().resources.teamsTable, teamSecretPrefix: platform().resources.teamSecretPrefix },
  );
  return { teamId, webhookSecret };
}

/**
 * A signed connect link for the team, as `drchrono-sync team connect-link` prints it: signed with the local
 * platform's current connect-link key (read from its Secrets Manager).
 */
export async function connectLink(teamId: string, opts: { ttlSeconds?: number; allowAccountChange?: boolean; now?: Date } = {}): Promise<string> {
  const info = platform();
  const secretId = info.resources.connectLinkKeySecret;
  return (await mintConnectLink(secretsClient(), secretId, info.apiBaseUrl, teamId, opts)).url;
}

/**
 * GET the team's connect link (signed, unless `link` is given) without following the redirect. `cookie` is the
 * state cookie ("name=value") a browser would keep and send back to the callback.
 */
export async function startAuthorize(
  teamId: string,
  link?: string,
): Promise<{ status: number; location: string | null; text: string; setCookie: string | null; cookie: string | null }> {
  const res = await fetch(link ?? (await connectLink(teamId)), { redirect: 'manual' });
  const setCookie = res.headers.get('set-cookie');
  const cookie = setCookie ? (setCookie.split(';')[0] ?? null) : null;
  return { status: res.status, location: res.headers.get('location'), text: await res.text(), setCookie, cookie };
}

/** The sandbox user's decision on DrChrono's authorize page; returns where DrChrono redirects the browser. */
export async function decideInSandbox(authorizeUrl: string, decision: 'approve' | 'deny' = 'approve', userId?: number): Promise<string> {
  const { body } = await httpJson<{ location: string }>(
    'POST',
    sandboxUrl('/_sandbox/oauth/approve'),
    { url: authorizeUrl, decision, ...(userId === undefined ? {} : { user_id: userId }) },
    200,
  );
  return body.location;
}

/** Follows DrChrono's redirect to our callback, as the browser would: with the state cookie it was given. */
export async function followCallback(location: string, cookie: string | null): Promise<{ status: number; headers: Headers; text: string }> {
  const res = await fetch(location, { redirect: 'manual', headers: cookie ? { cookie } : {} });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

/**
 * Runs the whole connect flow for a new team and returns its ids and credentials. Connecting starts a backfill;
 * by default this waits until it has completed, so a test's own changes never race the import of the seed data.
 * Pass `waitForBackfill: false` to observe the backfill itself.
 */
export async function connectTeam(opts: SandboxAppOptions & { userId?: number; waitForBackfill?: boolean } = {}): Promise<ConnectedTeam> {
  const app = await createSandboxApp(opts);
  const { teamId, webhookSecret } = await registerTestTeam(app);
  const authorize = await startAuthorize(teamId);
  if (authorize.status !== 302 || !authorize.location) throw new Error(`authorize answered ${authorize.status}`);
  const callback = await followCallback(await decideInSandbox(authorize.location, 'approve', opts.userId), authorize.cookie);
  if (callback.status !== 200) throw new Error(`callback answered ${callback.status}`);
  const team = await getTeamItem(documentClient(), platform().resources.teamsTable, teamId, true);
  if (team?.status !== 'connected' || team.drchronoUserId === undefined) throw new Error('team not connected after the callback');
  if (opts.waitForBackfill ?? true) {
    await waitFor(
      async () => (await getBackfillJob(documentClient(), platform().resources.teamsTable, teamId))?.status === 'completed',
      { timeoutMs: 60_000, intervalMs: 200, description: 'the connect backfill to complete' },
    );
  }
  return { teamId, ...app, webhookSecret, userId: team.drchronoUserId };
}
