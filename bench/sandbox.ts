import { randomBytes, randomUUID } from 'node:crypto';
import type { PlatformInfo } from '../local/platform-info';
import { documentClient, secretsClient } from '../shared/aws/clients';
import { mintConnectLink } from '../shared/oauth/connect-link-key';
import { registerTeam } from '../shared/teams/register-team';
import { getTeamItem } from '../shared/teams/team-store';

/** The DrChrono sandbox's control API and the real OAuth connect flow, for benchmark set-up. */
export interface BenchTeam {
  teamId: string;
  clientId: string;
  clientSecret: string;
  webhookSecret: string;
}

export async function httpJson<T>(method: string, url: string, body?: unknown, expect?: number): Promise<T> {
  const res = await fetch(url, {
    method,
    ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
  });
  const text = await res.text();
  if (expect !== undefined && res.status !== expect) throw new Error(`${method} ${new URL(url).pathname} answered ${res.status}, expected ${expect}`);
  return (text === '' ? undefined : JSON.parse(text)) as T;
}

export function sandboxUrl(info: PlatformInfo, path: string): string {
  if (!info.sandboxUrl) throw new Error('the local platform runs without the DrChrono sandbox');
  return `${info.sandboxUrl}${path}`;
}

export async function createSandboxApp(info: PlatformInfo, extra: Record<string, unknown> = {}): Promise<{ clientId: string; clientSecret: string }> {
  const clientId = `bench-${randomBytes(6).toString('hex')}`;
  const clientSecret = randomBytes(16).toString('hex');
  await httpJson('POST', sandboxUrl(info, '/_sandbox/apps'), { clientId, clientSecret, redirectUris: [info.oauthRedirectUri], ...extra }, 201);
  return { clientId, clientSecret };
}

/** Register a team and connect it through the real OAuth flow (local API → sandbox approve → callback). */
export async function connectTeam(info: PlatformInfo, opts: { writeBack?: boolean } = {}): Promise<BenchTeam> {
  const app = await createSandboxApp(info);
  const teamId = randomUUID();
  const { webhookSecret } = await registerTeam(
    // write-back on: the connect link asks for DrChrono's write scopes (the write-back section needs them).
    { teamId, ...app, ...(opts.writeBack ? { writeBack: true } : {}) },
    { ddb: documentClient(), secrets: secretsClient(), teamsTable: info.resources.teamsTable, teamSecretPrefix: info.resources.teamSecretPrefix },
  );
  const link = await mintConnectLink(secretsClient(), info.resources.connectLinkKeySecret, info.apiBaseUrl, teamId);
  const authorize = await fetch(link.url, { redirect: 'manual' });
  const location = authorize.headers.get('location');
  // The state is bound to the browser by a cookie; the callback must carry it back, as a browser would.
  const cookie = authorize.headers.get('set-cookie')?.split(';')[0];
  await authorize.text();
  if (authorize.status !== 302 || !location) throw new Error(`authorize answered ${authorize.status}`);
  const approved = await httpJson<{ location: string }>('POST', sandboxUrl(info, '/_sandbox/oauth/approve'), { url: location, decision: 'approve' }, 200);
  const callback = await fetch(approved.location, { redirect: 'manual', headers: cookie ? { cookie } : {} });
  await callback.text();
  if (callback.status !== 200) throw new Error(`callback answered ${callback.status}`);
  const team = await getTeamItem(documentClient(), info.resources.teamsTable, teamId, true);
  if (team?.status !== 'connected') throw new Error('team not connected after the callback');
  return { teamId, ...app, webhookSecret };
}

export interface RateLimitView {
  calls: number;
  total: number;
  budget: number;
  throttled: number;
  byPath: Record<string, number>;
}

export function rateLimit(info: PlatformInfo, clientId: string): Promise<RateLimitView> {
  return httpJson<RateLimitView>('GET', sandboxUrl(info, `/_sandbox/apps/${clientId}/rate-limit`), undefined, 200);
}

export async function resetRateLimit(info: PlatformInfo, clientId: string): Promise<void> {
  await httpJson('DELETE', sandboxUrl(info, `/_sandbox/apps/${clientId}/rate-limit`), undefined, 200);
}
