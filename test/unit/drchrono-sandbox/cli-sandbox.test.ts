import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { run } from '../../../cli/commands/sandbox';
import { CliError, type CliContext } from '../../../cli/context';
import type { RunningSandbox } from '../../../local/drchrono-sandbox/index';
import { sandbox } from './helpers';

const TEAM = '3f2c1b0a-9d8e-4f7a-8b6c-5d4e3f2a1b0c';
const WEBHOOK_SECRET = 'b'.repeat(40);

let sb: RunningSandbox;
let receiver: Server;
let apiBase: string;
let posts: Array<{ event: string; delivery: string }>;
const secrets = mockClient(SecretsManagerClient);

beforeAll(async () => {
  sb = await sandbox();
  receiver = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const msg = new URL(req.url ?? '/', 'http://x').searchParams.get('msg');
      if (req.method === 'GET' && msg) return void res.writeHead(200).end(JSON.stringify({ secret_token: createHmac('sha256', WEBHOOK_SECRET).update(msg).digest('hex') }));
      posts.push({ event: String(req.headers['x-drchrono-event']), delivery: String(req.headers['x-drchrono-delivery']) });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
  apiBase = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await sb.close();
  receiver.closeAllConnections();
  await new Promise((r) => receiver.close(r));
});

let lines: string[];
function ctx(): CliContext {
  return {
    target: 'local',
    resources: {
      stage: 'local',
      teamsTable: 't',
      recordsTable: 'r',
      integrationLogTable: 'l',
      teamSecretPrefix: 'drchrono-sync/local/teams/',
      apiBaseUrl: apiBase,
      webhookUrlTemplate: `${apiBase}/drchronowebhook/{teamId}`,
      oauthRedirectUri: `${apiBase}/integration-oauth/callback`,
      sandboxUrl: sb.url,
    },
    ddb: {} as DynamoDBDocumentClient,
    secrets: new SecretsManagerClient({ region: 'us-east-1' }),
    sqs: {} as SQSClient,
    out: (l) => void lines.push(l),
    err: (l) => void lines.push(l),
  };
}

beforeEach(async () => {
  lines = [];
  posts = [];
  secrets.reset();
  secrets.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify({ clientId: 'team-app', clientSecret: 'team-secret', webhookSecret: WEBHOOK_SECRET }) });
  await run(['reset'], ctx());
});

describe('drchrono-sync sandbox', () => {
  it('connect-team wires the team app to the local webhook route and passes verification', async () => {
    expect(await run(['connect-team', TEAM], ctx())).toBe(0);
    const app = sb.engine.state.apps['team-app']!;
    expect(app.clientSecret).toBe('team-secret');
    expect(app.webhook.callbackUrl).toBe(`${apiBase}/drchronowebhook/${TEAM}`);
    expect(app.webhook.secretToken).toBe(WEBHOOK_SECRET);
    expect(lines.join('\n')).toContain('verification: passed');
  });

  it('patient create delivers PATIENT_CREATE and prints the delivery outcome', async () => {
    await run(['connect-team', TEAM], ctx());
    lines = [];
    expect(await run(['patient', 'create', '--set', 'first_name=Cli', '--set', 'doctor=263813'], ctx())).toBe(0);
    expect(posts.map((p) => p.event)).toEqual(['PATIENT_CREATE']);
    expect(lines[0]).toMatch(/^patient \d+ created$/);
    expect(lines[1]).toContain(`delivery ${posts[0]!.delivery} PATIENT_CREATE`);
    expect(lines[1]).toContain('delivered');
  });

  it('appointment modify and delete fire their events', async () => {
    await run(['connect-team', TEAM], ctx());
    await run(['appointment', 'modify', '246813579', '--set', 'status=Arrived'], ctx());
    await run(['appointment', 'delete', '246813579'], ctx());
    expect(posts.map((p) => p.event)).toEqual(['APPOINTMENT_MODIFY', 'APPOINTMENT_DELETE']);
  });

  it('webhook off stops deliveries and redeliver sends a recorded one', async () => {
    await run(['connect-team', TEAM], ctx());
    await run(['webhook', 'off', 'team-app'], ctx());
    await run(['patient', 'create', '--set', 'first_name=Muted'], ctx());
    expect(posts).toHaveLength(0);
    await run(['webhook', 'on', 'team-app'], ctx());
    const id = sb.engine.state.deliveries.at(-1)!.id;
    expect(await run(['redeliver', id], ctx())).toBe(0);
    expect(posts.map((p) => p.delivery)).toEqual([id]);
  });

  it('app configure changes the budget and rate-limit reports it', async () => {
    await run(['app', 'configure', 'sandbox-client', '--budget', '42', '--rotate', 'on'], ctx());
    lines = [];
    await run(['rate-limit', 'sandbox-client'], ctx());
    expect(lines[0]).toMatch(/^sandbox-client: 0\/42 calls this hour/);
    expect(sb.engine.state.apps['sandbox-client']!.rotateRefreshTokens).toBe(true);
  });

  it('rejects a bad --set and an unknown command as usage errors', async () => {
    await expect(run(['patient', 'create', '--set', 'novalue'], ctx())).rejects.toMatchObject({ exitCode: 2 });
    await expect(run(['frobnicate'], ctx())).rejects.toBeInstanceOf(CliError);
  });

  it('lists every webhook subcommand in the usage text, verify included', async () => {
    await run(['help'], ctx());
    const usage = lines.join('\n');
    for (const sub of ['configure', 'on|off', 'quirks', 'release', 'verify']) expect(usage).toMatch(new RegExp(`^  webhook ${sub.replace('|', '\\|')} `, 'm'));
  });

  it('reports a sandbox validation error without a stack trace', async () => {
    await expect(run(['patient', 'create', '--set', 'doctor=1'], ctx())).rejects.toThrow(/HTTP 400/);
  });
});
