import { createHmac } from 'node:crypto';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { documentClient, secretsClient } from '../../shared/aws/clients';
import { main } from '../../cli/main';
import { setClientSecretCommand } from '../../cli/commands/team-secrets';
import { createCliContext } from '../../cli/context';
import { DrChronoClient } from '../../shared/drchrono/client';
import { DrChronoUnauthorizedError } from '../../shared/drchrono/errors';
import { refreshAccessToken } from '../../shared/drchrono/token-client';
import { refreshTeam, type RefreshTeamDeps } from '../../shared/oauth/refresh-team';
import { readTeamSecret, writeTeamSecret } from '../../shared/teams/team-secret';
import { getTeamItem, teamKey } from '../../shared/teams/team-store';
import { WEBHOOK_TEAM_STATE_TTL_MS } from '../../shared/webhook/team-state-cache';
import { PLATFORM_INFO_ENV } from './setup/platform-process';
import { connectTeam, createSandboxApp, registerTestTeam } from './helpers/connect-team';
import { httpJson, httpRequest } from './helpers/http';
import { apiUrl, platform } from './helpers/platform';
import { waitFor } from './helpers/wait-for';

/**
 * `team rotate-webhook-secret` and `team set-client-secret` against the local platform: the real webhook function
 * (with its per-container secret cache), the platform clock for the overlap's end, the DrChrono sandbox's webhook
 * verification, and the real token refresher interleaved with the operator's write.
 */
const HOUR = 3_600_000;
const MINUTE = 60_000;
const prefix = () => platform().resources.teamSecretPrefix;
const teamsTable = () => platform().resources.teamsTable;
const sandbox = (path: string) => `${platform().sandboxUrl}/_sandbox${path}`;
const secretOf = (teamId: string) => readTeamSecret(secretsClient(), prefix(), teamId);
const BODY = '{"receiver":{"id":1},"object":{"id":1}}';

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(['--platform-file', process.env[PLATFORM_INFO_ENV]!, ...argv], { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

async function rotate(teamId: string, overlap: string): Promise<string> {
  const r = await cli('team', 'rotate-webhook-secret', teamId, '--overlap', overlap);
  expect(r).toMatchObject({ code: 0, err: '' });
  return /Secret Token {4}([0-9a-f]{40})/.exec(r.out)![1]!;
}

type Form = 'token' | 'hmac';
/** A signed PING, as DrChrono's "Ping webhook" sends it: 200 when the signature is accepted, 401 otherwise. */
async function ping(teamId: string, token: string, form: Form): Promise<number> {
  const signature = form === 'token' ? token : createHmac('sha256', token).update(BODY).digest('hex');
  const res = await httpRequest('POST', apiUrl(`/drchronowebhook/${teamId}`), {
    body: BODY,
    headers: { 'content-type': 'application/json', 'x-drchrono-event': 'PING', 'x-drchrono-signature': signature },
  });
  return res.status;
}

async function accepted(teamId: string, token: string): Promise<[number, number]> {
  return [await ping(teamId, token, 'token'), await ping(teamId, token, 'hmac')];
}

async function advanceClock(ms: number): Promise<void> {
  await httpJson('POST', apiUrl('/_local/clock'), { advanceSeconds: ms / 1000 }, 200);
}

// The CLI stamps the overlap's end with the test process's (real) clock: each test starts from real time.
afterEach(async () => {
  await httpJson('POST', apiUrl('/_local/clock'), { reset: true }, 200);
});

describe('team rotate-webhook-secret', () => {
  it('accepts the old and the new token in both header forms during the overlap, and only the new one after it', async () => {
    const app = await createSandboxApp();
    const { teamId, webhookSecret: old } = await registerTestTeam(app);
    // The webhook function caches the old-only secret (a warm container).
    expect(await accepted(teamId, old)).toEqual([200, 200]);

    // Minutes, not hours: moving the shared platform clock by hours would fire every team's hourly schedules.
    const fresh = await rotate(teamId, '2m');
    expect(fresh).not.toBe(old);
    expect(await accepted(teamId, old)).toEqual([200, 200]);
    // The container's copy is a second old, but the team item's tokenVersion moved with the rotation: the warm
    // container re-reads at once and accepts the new token.
    expect(await accepted(teamId, fresh)).toEqual([200, 200]);
    expect(await accepted(teamId, old)).toEqual([200, 200]);

    // DrChrono's "Verify webhook" after pasting the new token: the handshake is signed with it.
    await httpJson('PUT', sandbox(`/apps/${app.clientId}/webhook`), { callbackUrl: apiUrl(`/drchronowebhook/${teamId}`), secretToken: fresh, events: ['PATIENT_MODIFY'], active: false }, 200);
    expect((await httpJson<{ ok: boolean }>('POST', sandbox(`/apps/${app.clientId}/webhook/verify`), undefined, 200)).body.ok).toBe(true);
    const handshake = await httpJson<{ secret_token: string }>('GET', apiUrl(`/drchronowebhook/${teamId}?msg=challenge-1`), undefined, 200);
    expect(handshake.body.secret_token).toBe(createHmac('sha256', fresh).update('challenge-1').digest('hex'));

    await advanceClock(2 * MINUTE);
    expect(await accepted(teamId, old)).toEqual([401, 401]);
    expect(await accepted(teamId, fresh)).toEqual([200, 200]);
    expect((await secretOf(teamId)).webhookSecret).toBe(fresh);
  });

  it('a second rotation inside the overlap keeps the first token until its own end', async () => {
    const { teamId, webhookSecret: a } = await registerTestTeam(await createSandboxApp());
    const b = await rotate(teamId, '3m');
    const c = await rotate(teamId, '1m');
    expect(await accepted(teamId, a)).toEqual([200, 200]);
    expect(await accepted(teamId, b)).toEqual([200, 200]);
    expect(await accepted(teamId, c)).toEqual([200, 200]);

    await advanceClock(MINUTE + 1_000);
    expect(await accepted(teamId, b)).toEqual([401, 401]);
    expect(await accepted(teamId, a)).toEqual([200, 200]);
    expect(await accepted(teamId, c)).toEqual([200, 200]);

    await advanceClock(2 * MINUTE);
    expect(await accepted(teamId, a)).toEqual([401, 401]);
    expect(await accepted(teamId, c)).toEqual([200, 200]);
  });

  it('with --overlap 0 refuses the old token once the team-state TTL has passed, also in a warm container that cached it', async () => {
    const { teamId, webhookSecret: old } = await registerTestTeam(await createSandboxApp());
    expect(await accepted(teamId, old)).toEqual([200, 200]);
    const fresh = await rotate(teamId, '0');
    // The container reuses the team's state (and so its tokenVersion) for WEBHOOK_TEAM_STATE_TTL_MS (docs/webhook.md).
    await advanceClock(WEBHOOK_TEAM_STATE_TTL_MS);
    expect(await accepted(teamId, old)).toEqual([401, 401]);
    expect(await accepted(teamId, fresh)).toEqual([200, 200]);
  });

  it('with --overlap 0 accepts the new token at once, and from then on refuses the old one, in a container that cached the old state', async () => {
    const { teamId, webhookSecret: old } = await registerTestTeam(await createSandboxApp());
    expect(await accepted(teamId, old)).toEqual([200, 200]);
    const fresh = await rotate(teamId, '0');
    // The refused signature makes the container read the team state fresh: the new tokenVersion, then the new secret.
    expect(await accepted(teamId, fresh)).toEqual([200, 200]);
    expect(await accepted(teamId, old)).toEqual([401, 401]);
  });

  it('refuses an unknown team and a bad overlap with the right exit codes', async () => {
    expect((await cli('team', 'rotate-webhook-secret', '6a0c7e1e-54f2-4bf0-8d5b-0c7f2f0e9a11')).code).toBe(1);
    expect((await cli('team', 'rotate-webhook-secret', '6a0c7e1e-54f2-4bf0-8d5b-0c7f2f0e9a11', '--overlap', '3 days')).code).toBe(2);
  });
});

describe('team set-client-secret', () => {
  /** The token endpoint of the sandbox app accepts this client secret from now on (DrChrono's "regenerate"). */
  const regenerate = (clientId: string, clientSecret: string) => httpJson('PATCH', sandbox(`/apps/${clientId}`), { clientSecret }, 200);

  async function makeDue(teamId: string): Promise<void> {
    const at = Date.now() + HOUR;
    await writeTeamSecret(secretsClient(), prefix(), teamId, { ...(await secretOf(teamId)), accessTokenExpiresAt: at });
    await documentClient().send(
      new UpdateCommand({ TableName: teamsTable(), Key: teamKey(teamId), UpdateExpression: 'SET tokenExpiresAt = :at', ExpressionAttributeValues: { ':at': at } }),
    );
  }

  function refresherDeps(over: Partial<RefreshTeamDeps> = {}): RefreshTeamDeps {
    return {
      ddb: documentClient(),
      secrets: secretsClient(),
      teamsTable: teamsTable(),
      teamSecretPrefix: prefix(),
      drchronoBaseUrl: platform().sandboxUrl!,
      refreshAccessToken,
      windowMs: 24 * HOUR,
      owner: `it-refresher-${Math.random().toString(36).slice(2)}`,
      writeLog: async () => undefined,
      ...over,
    };
  }

  async function accessTokenWorks(accessToken: string): Promise<boolean> {
    try {
      await new DrChronoClient({ baseUrl: platform().sandboxUrl!, accessToken: async () => accessToken, maxRetries: 0 }).currentUser();
      return true;
    } catch (err) {
      if (err instanceof DrChronoUnauthorizedError) return false;
      throw err;
    }
  }

  const context = () => createCliContext({ platformFile: process.env[PLATFORM_INFO_ENV]!, out: () => undefined, err: () => undefined });

  it('waits for a refresh that holds the lease, then stores the new client secret with the refreshed tokens', async () => {
    // The clinic app refreshes in the sandbox only with the client secret it currently has.
    const team = await connectTeam({ rotation: true, waitForBackfill: false });
    await makeDue(team.teamId);
    const waited = { value: false };
    let cliRun: Promise<number> | undefined;
    const outcome = await refreshTeam(
      refresherDeps({
        beforeSecretWrite: async () => {
          cliRun = setClientSecretCommand([team.teamId], await context(), {
            env: { DRCHRONO_CLIENT_SECRET: 'regenerated-secret-1' },
            update: {
              sleep: async (ms) => {
                waited.value = true;
                await new Promise((r) => setTimeout(r, ms));
              },
            },
          });
          await Promise.race([cliRun, waitFor(() => waited.value, { timeoutMs: 20_000, intervalMs: 20, description: 'the CLI to wait for the lease' })]);
        },
      }),
      team.teamId,
    );
    expect(outcome).toBe('refreshed');
    expect(await cliRun!).toBe(0);
    expect(waited.value).toBe(true);

    const secret = await secretOf(team.teamId);
    expect(secret.clientSecret).toBe('regenerated-secret-1');
    // The refresher's tokens survived the operator's write (with rotation, the pre-refresh ones are dead).
    expect(await accessTokenWorks(secret.accessToken!)).toBe(true);
    expect((await getTeamItem(documentClient(), teamsTable(), team.teamId, true))?.tokenVersion).toBe(secret.tokenVersion);

    // DrChrono now takes the new secret: the next refresh uses it and succeeds.
    await regenerate(team.clientId, 'regenerated-secret-1');
    await makeDue(team.teamId);
    expect(await refreshTeam(refresherDeps(), team.teamId)).toBe('refreshed');
    expect(await accessTokenWorks((await secretOf(team.teamId)).accessToken!)).toBe(true);
  });

  it('a refresh that starts while the operator writes stands down, and neither write is lost', async () => {
    const team = await connectTeam({ rotation: true, waitForBackfill: false });
    await makeDue(team.teamId);
    const before = await secretOf(team.teamId);
    let during: string | undefined;
    const code = await setClientSecretCommand([team.teamId], await context(), {
      env: { DRCHRONO_CLIENT_SECRET: 'regenerated-secret-2' },
      update: {
        beforeWrite: async () => {
          during = await refreshTeam(refresherDeps(), team.teamId);
        },
      },
    });
    expect(code).toBe(0);
    expect(during).toBe('locked');
    const after = await secretOf(team.teamId);
    expect(after).toMatchObject({ clientSecret: 'regenerated-secret-2', accessToken: before.accessToken, refreshToken: before.refreshToken });
    expect(await accessTokenWorks(after.accessToken!)).toBe(true);

    // Once the lease is free the refresher runs with the new client secret.
    await regenerate(team.clientId, 'regenerated-secret-2');
    expect(await refreshTeam(refresherDeps(), team.teamId)).toBe('refreshed');
    expect((await secretOf(team.teamId)).clientSecret).toBe('regenerated-secret-2');
  });

  it('reads the secret from stdin through the installed bin, never from an argument', async () => {
    const { teamId } = await registerTestTeam(await createSandboxApp());
    const { spawnSync } = await import('node:child_process');
    const { join } = await import('node:path');
    const bin = join(__dirname, '..', '..', 'cli', 'drchrono-sync.mjs');
    const env = { ...process.env };
    delete env.DRCHRONO_CLIENT_SECRET;
    const piped = spawnSync(process.execPath, [bin, '--platform-file', process.env[PLATFORM_INFO_ENV]!, 'team', 'set-client-secret', teamId], {
      input: 'from-stdin-secret\n',
      env,
      encoding: 'utf8',
    });
    expect(piped.status).toBe(0);
    expect(piped.stdout).toContain(`Team ${teamId}: client secret replaced`);
    expect(`${piped.stdout}${piped.stderr}`).not.toContain('from-stdin-secret');
    expect((await secretOf(teamId)).clientSecret).toBe('from-stdin-secret');

    const flagged = spawnSync(process.execPath, [bin, '--platform-file', process.env[PLATFORM_INFO_ENV]!, 'team', 'set-client-secret', teamId, '--client-secret', 'typed-secret'], {
      input: '',
      env,
      encoding: 'utf8',
    });
    expect(flagged.status).toBe(2);
    expect(`${flagged.stdout}${flagged.stderr}`).not.toContain('typed-secret');
    expect((await secretOf(teamId)).clientSecret).toBe('from-stdin-secret');
  });
});
