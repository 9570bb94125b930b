import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { secretsClient } from '../../shared/aws/clients';
import { main } from '../../cli/main';
import { PLATFORM_INFO_ENV } from './setup/platform-process';
import { httpRequest } from './helpers/http';
import { platform } from './helpers/platform';

/** The operator CLI against the running local platform, reading its platform info file like `npm start` users do. */
async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(['--platform-file', process.env[PLATFORM_INFO_ENV]!, ...argv], {
    out: (l) => out.push(l),
    err: (l) => err.push(l),
  });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('drchrono-sync team (local platform)', () => {
  const teamId = randomUUID();

  it('team add registers the team and prints the DrChrono settings, which the webhook then accepts', async () => {
    const r = await cli('team', 'add', teamId, '--client-id', 'cli-client', '--client-secret', 'cli-client-secret');
    expect(r).toMatchObject({ code: 0, err: '' });
    expect(r.out).toContain(`Redirect URI      ${platform().oauthRedirectUri}`);
    expect(r.out).toContain(`Callback URL    ${platform().apiBaseUrl}/drchronowebhook/${teamId}`);
    const token = /Secret Token {4}([0-9a-f]{40})/.exec(r.out)?.[1];
    expect(token).toBeDefined();

    const secret = await secretsClient().send(new GetSecretValueCommand({ SecretId: `${platform().resources.teamSecretPrefix}${teamId}` }));
    expect(JSON.parse(secret.SecretString!)).toEqual({ clientId: 'cli-client', clientSecret: 'cli-client-secret', webhookSecret: token });

    // The printed Callback URL and Secret Token are what DrChrono will use: a PING with them succeeds.
    const ping = await httpRequest('POST', `${platform().apiBaseUrl}/drchronowebhook/${teamId}`, {
      headers: { 'x-drchrono-event': 'PING', 'x-drchrono-signature': token! },
    });
    expect(ping.status).toBe(200);
  });

  it('team show prints the registered team', async () => {
    const r = await cli('team', 'show', teamId);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(new RegExp(`Team:\\s+${teamId}`));
    expect(r.out).toMatch(/Status:\s+registered/);
    expect(r.out).toMatch(/Webhooks processed:\s+0/);
    expect(r.out).not.toContain('cli-client-secret');
  });

  it('team show --json gives machine-readable output', async () => {
    const r = await cli('team', 'show', teamId, '--json');
    expect(JSON.parse(r.out).team).toMatchObject({ teamId, status: 'registered', webhooksProcessed: 0, webhooksIgnored: 0 });
  });

  it('team list includes the team', async () => {
    const r = await cli('team', 'list', '--json');
    expect(JSON.parse(r.out)).toEqual(expect.arrayContaining([expect.objectContaining({ teamId, status: 'registered' })]));
  });

  it('team add refuses a team that is already registered', async () => {
    const r = await cli('team', 'add', teamId, '--client-id', 'x', '--client-secret', 'y');
    expect(r.code).toBe(1);
    expect(r.err).toContain('already registered');
  });

  it('team add rejects a team id that is not a UUID', async () => {
    const r = await cli('team', 'add', 'clinic-42', '--client-id', 'x', '--client-secret', 'y');
    expect(r.code).toBe(2);
    expect(r.err).toContain('team id must be a UUID');
  });

  it('runs as the drchrono-sync bin', () => {
    const res = spawnSync(process.execPath, [join(__dirname, '../../cli/drchrono-sync.mjs'), 'team', 'show', teamId], {
      env: { ...process.env, DRCHRONO_SYNC_PLATFORM_FILE: process.env[PLATFORM_INFO_ENV] },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(res.stderr).not.toContain('error:');
    expect(res.status).toBe(0);
    expect(res.stdout).toMatch(new RegExp(`Team:\\s+${teamId}`));
  });
});
