import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { run } from '../../../cli/commands/records';
import { fieldsFrom, formatChange, ifMatch, parseWriteArgs, runWrite, splitAssignment } from '../../../cli/commands/records-write';
import type { CliContext } from '../../../cli/context';
import { main } from '../../../cli/main';
import { LOCAL_CREDENTIALS } from '../../../shared/http/sigv4';
import { verifySigV4 } from '../../../local/api/sigv4-verify';

const TEAM = '3f2c1b0a-9d8e-4f7a-8b6c-5d4e3f2a1b0c';
const CHANGE = '6d1f0c7e-2b4a-4c39-9e8d-0a1b2c3d4e5f';
const REGION = 'us-east-1';
const VERSION = 'u#2026-11-30T08:00:00.000000000#1#2026-11-30T08:00:01.000Z';

interface Seen {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
  /** The fake API checks the signature the way the local API does. */
  signed: boolean;
}
type Handler = (req: Seen) => { status: number; body?: unknown; headers?: Record<string, string> };

let server: Server;
let baseUrl: string;
let seen: Seen[];
let handler: Handler;

beforeAll(async () => {
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const body = Buffer.concat(chunks);
        const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
        const [rawPath, rawQueryString = ''] = (req.url ?? '/').split('?') as [string, string?];
        const verdict = await verifySigV4({ method: req.method ?? 'GET', rawPath, rawQueryString, headers, body }, { region: REGION, credentials: LOCAL_CREDENTIALS, now: new Date() });
        const s: Seen = { method: req.method ?? '', path: rawPath, headers, body: body.toString('utf8'), signed: verdict.ok };
        seen.push(s);
        const answer = verdict.ok ? handler(s) : { status: 403, body: { message: 'Forbidden' } };
        res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
        res.end(answer.body === undefined ? '' : JSON.stringify(answer.body));
      })();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
});

beforeEach(() => {
  seen = [];
  handler = () => ({ status: 500 });
});

function ctxWithOutput(over: Partial<CliContext['resources']> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const ctx: CliContext = {
    target: 'local',
    resources: { stage: 'local', teamsTable: 't', recordsTable: 'r', integrationLogTable: 'l', teamSecretPrefix: 'p/', apiBaseUrl: baseUrl, region: REGION, ...over },
    ddb: DynamoDBDocumentClient.from(new DynamoDBClient({ region: REGION })),
    secrets: new SecretsManagerClient({ region: REGION }),
    sqs: new SQSClient({ region: REGION }),
    out: (l) => out.push(l),
    err: (l) => err.push(l),
  };
  return { ctx, out, err, stdout: () => out.join('\n'), stderr: () => err.join('\n') };
}

const change = (over: Record<string, unknown> = {}) => ({
  changeId: CHANGE,
  teamId: TEAM,
  entity: 'patient',
  op: 'upsert',
  key: 'DEMO-0001',
  drchronoId: '104857613',
  fieldsWritten: ['Email'],
  baseVersion: null,
  requestedAt: '2026-11-30T08:10:00.000Z',
  status: 'pending',
  ...over,
});

/** 202 for the write, then `outcomes` in turn for each GET of the change (the last one repeats). */
function api(outcomes: Record<string, unknown>[]): void {
  let polls = 0;
  handler = (req) => {
    if (req.method !== 'GET') return { status: 202, body: { changeId: CHANGE, status: 'pending' }, headers: { location: `/teams/${TEAM}/changes/${CHANGE}` } };
    const item = outcomes[Math.min(polls++, outcomes.length - 1)]!;
    return { status: 200, body: item };
  };
}

/** No real waiting between polls. */
const fastDeps = () => ({ sleep: async () => undefined });

describe('--set values', () => {
  it('split at the first "=" and keep the rest of the value as is', () => {
    expect(splitAssignment('Email=a=b@c.example')).toEqual(['Email', 'a=b@c.example']);
    expect(splitAssignment(' Cell Phone =  555 0100 ')).toEqual(['Cell Phone', '  555 0100 ']);
    expect(splitAssignment('Email=')).toEqual(['Email', '']);
  });

  it('need a name and an "="', () => {
    expect(() => splitAssignment('Email')).toThrow(expect.objectContaining({ exitCode: 2, message: expect.stringContaining('--set needs Field=value') }));
    expect(() => splitAssignment('=x')).toThrow(expect.objectContaining({ exitCode: 2, message: expect.stringContaining('field name') }));
  });

  it('are sent as text; --set-json adds JSON values; a field given twice is a usage error', () => {
    expect(fieldsFrom(['Duration=30', 'Email='], '{"Disable SMS/Txt": true, "Reason": null}')).toEqual({ Duration: '30', Email: '', 'Disable SMS/Txt': true, Reason: null });
    expect(() => fieldsFrom(['Email=a', 'Email=b'], undefined)).toThrow(expect.objectContaining({ exitCode: 2 }));
    expect(() => fieldsFrom(['Duration=30'], '{"Duration": 30}')).toThrow(expect.objectContaining({ exitCode: 2, message: expect.stringContaining('"Duration" is given twice') }));
    for (const bad of ['[1]', 'null', '30', '{oops']) expect(() => fieldsFrom([], bad)).toThrow(expect.objectContaining({ exitCode: 2, message: expect.stringContaining('--set-json must be a JSON object') }));
  });

  it('quote the base version for If-Match once', () => {
    expect(ifMatch(VERSION)).toBe(`"${VERSION}"`);
    expect(ifMatch(`"${VERSION}"`)).toBe(`"${VERSION}"`);
  });
});

describe('records set|create|delete arguments', () => {
  it('maps each command to its route and method', () => {
    expect(parseWriteArgs('set', [TEAM, 'patient', 'DEMO 1/2', '--set', 'Email=a@b.example']).request).toEqual({
      method: 'PUT',
      path: `/teams/${TEAM}/patients/DEMO%201%2F2`,
      body: { Email: 'a@b.example' },
    });
    expect(parseWriteArgs('set', [TEAM, 'patient', 'C1', '--set', 'Email=x', '--update-only', '--base-version', VERSION]).request).toMatchObject({ method: 'PATCH', baseVersion: VERSION });
    expect(parseWriteArgs('set', [TEAM, 'appointment', '771', '--set', 'Appt Status=Arrived']).request).toMatchObject({ method: 'PATCH', path: `/teams/${TEAM}/appointments/771` });
    expect(parseWriteArgs('create', [TEAM, 'appointment', '--set', 'Patient=C1']).request).toMatchObject({ method: 'POST', path: `/teams/${TEAM}/appointments`, body: { Patient: 'C1' } });
    expect(parseWriteArgs('delete', [TEAM, 'appointment', '771']).request).toEqual({ method: 'DELETE', path: `/teams/${TEAM}/appointments/771` });
    expect(parseWriteArgs('change', [TEAM, CHANGE.toUpperCase()])).toMatchObject({ changeId: CHANGE, wait: true, timeoutMs: 120_000 });
    expect(parseWriteArgs('set', [TEAM, 'patient', 'C1', '--set', 'A=b', '--no-wait', '--timeout', '2.5', '--json'])).toMatchObject({ wait: false, timeoutMs: 2500, json: true });
  });

  it.each([
    ['set', [TEAM, 'patient', 'C1'], 'at least one --set'],
    ['set', ['not-a-team', 'patient', 'C1', '--set', 'A=b'], 'team id must be a UUID'],
    ['set', [TEAM, 'employee', '5', '--set', 'A=b'], 'kind must be patient or appointment'],
    ['set', [TEAM, 'patient', '--set', 'A=b'], 'takes one Chart ID'],
    ['set', [TEAM, 'patient', 'C1', 'C2', '--set', 'A=b'], 'takes one Chart ID'],
    ['set', [TEAM, 'appointment', '7', '--set', 'A=b', '--update-only'], '--update-only is for'],
    ['create', [TEAM, 'patient', '--set', 'A=b'], 'records create makes appointments'],
    ['create', [TEAM, 'appointment', '7', '--set', 'A=b'], 'takes no key'],
    ['create', [TEAM, 'appointment', '--set', 'A=b', '--base-version', 'v'], '--base-version is for changes'],
    ['create', [TEAM, 'appointment'], 'needs the fields'],
    ['delete', [TEAM, 'patient', 'C1'], 'DrChrono has no patient delete'],
    ['delete', [TEAM, 'appointment', '7', '--set', 'A=b'], 'takes no --set'],
    ['change', [TEAM, 'nope'], 'change id must be a UUID'],
    ['change', [TEAM], 'takes a team id and a change id'],
    ['set', [TEAM, 'patient', 'C1', '--set', 'A=b', '--timeout', '0'], '--timeout must be a number of seconds above 0 and at most'],
    ['set', [TEAM, 'patient', 'C1', '--set', 'A=b', '--timeout', 'soon'], '--timeout must be'],
    ['set', [TEAM, 'patient', 'C1', '--sett', 'A=b'], 'Unknown option'],
  ] as const)('records %s %j is a usage error', (sub, argv, message) => {
    expect(() => parseWriteArgs(sub, [...argv])).toThrow(expect.objectContaining({ exitCode: 2, message: expect.stringContaining(message) }));
  });
});

describe('records set (against a fake write API that checks the signature)', () => {
  it('sends a signed PUT with the fields as a JSON object and If-Match, waits, prints the outcome and exits 0 when applied', async () => {
    api([change(), change({ status: 'applied', currentVersion: VERSION, baseVersion: 'u#old', completedAt: '2026-11-30T08:10:02.000Z' })]);
    const { ctx, stdout } = ctxWithOutput();
    const code = await runWrite('set', [TEAM, 'patient', 'DEMO-0001', '--set', 'Email=new@example.com', '--set', 'Cell Phone=', '--base-version', 'u#old'], ctx, fastDeps());
    expect(code).toBe(0);
    const [write, ...polls] = seen;
    expect(write).toMatchObject({ method: 'PUT', path: `/teams/${TEAM}/patients/DEMO-0001`, signed: true });
    expect(JSON.parse(write!.body)).toEqual({ Email: 'new@example.com', 'Cell Phone': '' });
    expect(write!.headers['if-match']).toBe('"u#old"');
    expect(write!.headers['content-type']).toBe('application/json');
    // if-match and content-type are covered by the signature, not just sent.
    expect(write!.headers.authorization).toMatch(/SignedHeaders=[^,]*content-type[^,]*if-match/);
    expect(polls.map((p) => `${p.method} ${p.path} ${p.signed}`)).toEqual([`GET /teams/${TEAM}/changes/${CHANGE} true`, `GET /teams/${TEAM}/changes/${CHANGE} true`]);
    expect(stdout()).toContain(`Change ${CHANGE}: applied`);
    expect(stdout()).toMatch(/Chart ID: +DEMO-0001/);
    expect(stdout()).toMatch(new RegExp(`Version: +${VERSION.replace(/[.#]/g, '\\$&')}`));
  });

  it.each(['rejected', 'conflict', 'failed'])('exits 1 when the change ends %s, with the reason and field errors', async (status) => {
    api([change({ status, reason: 'DrChrono refused the change', fieldErrors: { email: ['Enter a valid email address.'] }, currentVersion: VERSION })]);
    const { ctx, stdout } = ctxWithOutput();
    expect(await runWrite('set', [TEAM, 'patient', 'DEMO-0001', '--set', 'Email=x'], ctx, fastDeps())).toBe(1);
    expect(stdout()).toContain(`Change ${CHANGE}: ${status}`);
    expect(stdout()).toMatch(/Reason: +DrChrono refused the change/);
    expect(stdout()).toContain('    email: Enter a valid email address.');
    if (status === 'conflict') expect(stdout()).toMatch(/Current version: +u#/);
  });

  it('says how to re-read and retry after a conflict', async () => {
    api([change({ status: 'conflict', reason: 'changed in DrChrono since the base version', currentVersion: VERSION })]);
    const { ctx, stderr } = ctxWithOutput();
    await runWrite('set', [TEAM, 'patient', 'DEMO-0001', '--set', 'Email=x', '--base-version', 'u#old'], ctx, fastDeps());
    expect(stderr()).toContain(`drchrono-sync records ${TEAM} patient DEMO-0001`);
  });

  it('polls with backoff from 250 ms to 2 s and gives up at --timeout with exit 1, naming the command to follow the change', async () => {
    api([change()]);
    let clock = 0;
    const waits: number[] = [];
    const { ctx, stderr } = ctxWithOutput();
    const code = await runWrite('set', [TEAM, 'patient', 'DEMO-0001', '--set', 'Email=x', '--timeout', '10'], ctx, {
      now: () => clock,
      sleep: async (ms) => {
        waits.push(ms);
        clock += ms;
      },
    });
    expect(code).toBe(1);
    expect(waits).toEqual([250, 500, 1000, 2000, 2000, 2000, 2000]);
    expect(stderr()).toContain('still pending after 10 s');
    expect(stderr()).toContain(`drchrono-sync records change ${TEAM} ${CHANGE}`);
  });

  it('keeps waiting through a 5xx or a dropped poll, and reports the outcome once it comes', async () => {
    let polls = 0;
    handler = (req) => {
      if (req.method !== 'GET') return { status: 202, body: { changeId: CHANGE, status: 'pending' } };
      polls++;
      return polls === 1 ? { status: 503, body: { message: 'busy' } } : { status: 200, body: change({ status: 'applied' }) };
    };
    const { ctx } = ctxWithOutput();
    expect(await runWrite('set', [TEAM, 'patient', 'DEMO-0001', '--set', 'Email=x'], ctx, fastDeps())).toBe(0);
    expect(polls).toBe(2);
  });

  it('--no-wait prints only the change id on stdout and exits 0 without polling', async () => {
    api([change()]);
    const { ctx, out, stderr } = ctxWithOutput();
    expect(await runWrite('create', [TEAM, 'appointment', '--set', 'Patient=DEMO-0001', '--no-wait'], ctx, fastDeps())).toBe(0);
    expect(out).toEqual([CHANGE]);
    expect(stderr()).toContain(`records change ${TEAM} ${CHANGE}`);
    expect(seen.map((s) => s.method)).toEqual(['POST']);
  });

  it('--json prints the final change item as JSON', async () => {
    api([change({ status: 'applied', currentVersion: VERSION })]);
    const { ctx, stdout } = ctxWithOutput();
    expect(await runWrite('delete', [TEAM, 'appointment', '771', '--json'], ctx, fastDeps())).toBe(0);
    expect(seen[0]).toMatchObject({ method: 'DELETE', body: '' });
    expect(JSON.parse(stdout())).toMatchObject({ changeId: CHANGE, status: 'applied', currentVersion: VERSION });
  });

  it('prints every problem of a 400 and exits 1 without polling', async () => {
    handler = () => ({
      status: 400,
      body: { message: 'invalid change', problems: [{ field: 'Email', problem: 'not an e-mail address' }, { field: 'Dr Chrono ID', problem: 'read-only' }] },
    });
    const { ctx, stderr } = ctxWithOutput();
    expect(await runWrite('set', [TEAM, 'patient', 'DEMO-0001', '--set', 'Email=x', '--set', 'Dr Chrono ID=1'], ctx, fastDeps())).toBe(1);
    expect(stderr()).toContain('error: invalid change (nothing was sent to DrChrono)');
    expect(stderr()).toContain('  Email: not an e-mail address');
    expect(stderr()).toContain('  Dr Chrono ID: read-only');
    expect(seen).toHaveLength(1);
  });

  it("prints a 403's hint (write-back off or no write scopes) and exits 1", async () => {
    const hint = `drchrono-sync team write-back ${TEAM} on, then reconnect: drchrono-sync team connect-link ${TEAM}`;
    handler = () => ({ status: 403, body: { message: 'write-back is off for this team', hint } });
    const { ctx, stderr } = ctxWithOutput();
    expect(await runWrite('set', [TEAM, 'patient', 'DEMO-0001', '--set', 'Email=x'], ctx, fastDeps())).toBe(1);
    expect(stderr()).toContain('error: write-back is off for this team');
    expect(stderr()).toContain(`  ${hint}`);
  });

  it('explains a bare 403 Forbidden as a signature or credentials refusal', async () => {
    const { ctx, stderr } = ctxWithOutput();
    // Signed for another region: the fake API (like the local one) refuses the signature.
    ctx.resources.region = 'eu-west-1';
    expect(await runWrite('set', [TEAM, 'patient', 'DEMO-0001', '--set', 'Email=x'], ctx, fastDeps())).toBe(1);
    expect(seen[0]!.signed).toBe(false);
    expect(stderr()).toContain("refused the request's signature or credentials (403 Forbidden)");
  });

  it('prints a 404 (unknown team, record or change) and exits 1', async () => {
    handler = () => ({ status: 404, body: { message: 'no appointment with this Claim ID' } });
    const { ctx, stderr } = ctxWithOutput();
    expect(await runWrite('set', [TEAM, 'appointment', '999', '--set', 'Reason=x'], ctx, fastDeps())).toBe(1);
    expect(stderr()).toContain('error: no appointment with this Claim ID');
  });

  it('exits 1 with the address when the API cannot be reached', async () => {
    const { ctx, stderr } = ctxWithOutput({ apiBaseUrl: 'http://127.0.0.1:1' });
    const code = await main(['records', 'set', TEAM, 'patient', 'C1', '--set', 'A=b'], { out: () => undefined, err: (l) => ctx.err(l), context: async () => ctx });
    expect(code).toBe(1);
    expect(stderr()).toContain('cannot reach the write API at http://127.0.0.1:1');
  });
});

describe('records change', () => {
  it('prints a final change and exits by its outcome', async () => {
    handler = () => ({ status: 200, body: change({ status: 'rejected', reason: 'team is disabled' }) });
    const { ctx, stdout } = ctxWithOutput();
    expect(await runWrite('change', [TEAM, CHANGE], ctx, fastDeps())).toBe(1);
    expect(stdout()).toContain(`Change ${CHANGE}: rejected`);
  });

  it('exits 1 for an unknown change', async () => {
    handler = () => ({ status: 404, body: { message: 'no such change' } });
    const { ctx, stderr } = ctxWithOutput();
    expect(await runWrite('change', [TEAM, CHANGE], ctx, fastDeps())).toBe(1);
    expect(stderr()).toContain('no such change');
  });

  it('with --no-wait prints the current state once and exits 0 while pending', async () => {
    handler = () => ({ status: 200, body: change() });
    const { ctx, stdout } = ctxWithOutput();
    expect(await runWrite('change', [TEAM, CHANGE, '--no-wait'], ctx, fastDeps())).toBe(0);
    expect(stdout()).toContain(`Change ${CHANGE}: pending`);
    expect(seen).toHaveLength(1);
  });
});

describe('records dispatch and output', () => {
  it('routes records set|create|delete|change to the write commands', async () => {
    api([change({ status: 'applied' })]);
    const { ctx } = ctxWithOutput();
    expect(await run(['set', TEAM, 'patient', 'C1', '--set', 'Email=x', '--timeout', '5'], ctx)).toBe(0);
    expect(seen[0]!.method).toBe('PUT');
  });

  it('signs with the default AWS credential chain on --target aws (here: the environment\'s key)', async () => {
    const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY, profile: process.env.AWS_PROFILE };
    process.env.AWS_ACCESS_KEY_ID = 'AKIDCLIUNITTEST';
    process.env.AWS_SECRET_ACCESS_KEY = 'cli-unit-test-secret';
    delete process.env.AWS_PROFILE;
    try {
      api([change({ status: 'applied' })]);
      const { ctx } = ctxWithOutput();
      ctx.target = 'aws';
      await runWrite('set', [TEAM, 'patient', 'C1', '--set', 'Email=x'], ctx, fastDeps());
      expect(seen[0]!.headers.authorization).toMatch(new RegExp(`^AWS4-HMAC-SHA256 Credential=AKIDCLIUNITTEST/\\d{8}/${REGION}/execute-api/aws4_request`));
    } finally {
      for (const [k, v] of [['AWS_ACCESS_KEY_ID', saved.id], ['AWS_SECRET_ACCESS_KEY', saved.secret], ['AWS_PROFILE', saved.profile]] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });

  it('needs the API region', async () => {
    const { ctx } = ctxWithOutput({ region: undefined });
    await expect(runWrite('set', [TEAM, 'patient', 'C1', '--set', 'A=b'], ctx)).rejects.toMatchObject({ exitCode: 2, message: expect.stringContaining('--region') });
  });

  it('escapes control characters from DrChrono text in the outcome', () => {
    const lines = formatChange(change({ status: 'rejected', fieldErrors: { email: ['bad\u001b[2J'] } }) as never);
    expect(lines.join('\n')).toContain('bad\\x1b[2J');
  });
});
