import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { SetQueueAttributesCommand, StartMessageMoveTaskCommand } from '@aws-sdk/client-sqs';
import { documentClient, sqsClient } from '../../shared/aws/clients';
import { INGEST_QUEUE } from '../../shared/config/queue-settings';
import { readIntegrationLog, type IntegrationLogEntry } from '../../shared/store/integration-log';
import { getRecord } from '../../shared/store/records';
import { run as dlq } from '../../cli/commands/dlq';
import { createCliContext } from '../../cli/context';
import { main } from '../../cli/main';
import { PLATFORM_INFO_ENV } from './setup/platform-process';
import { connectTeam, type ConnectedTeam } from './helpers/connect-team';
import { httpJson } from './helpers/http';
import { apiUrl, platform } from './helpers/platform';
import { waitFor } from './helpers/wait-for';

/**
 * `dlq list` and `dlq redrive` against the local platform. Dead letters are made the real way: sandbox changes
 * are delivered as signed webhooks to two teams while the records table fails every write, so the sync worker
 * fails each delivery maxReceiveCount times, logs the reason and SQS moves it to the DLQ.
 */
type Json = Record<string, unknown>;
interface Letter {
  queue: string;
  teamId?: string;
  event?: string;
  deliveryId?: string;
  drchronoId?: string;
  ageSeconds: number | null;
  reason: { errorClass?: string; errorMessage?: string; detail?: string } | null;
}

/**
 * Short, but above the sync poller's 1 s batching window plus a batch's run: with less, a message becomes visible
 * again before its batch is acknowledged, is received again and the delete of the old receipt does not take.
 */
const TEST_VISIBILITY_SECONDS = 3;
const sandbox = (path: string) => `${platform().sandboxUrl}/_sandbox${path}`;
const BIN = join(__dirname, '..', '..', 'cli', 'drchrono-sync.mjs');
let teamA: ConnectedTeam;
let teamB: ConnectedTeam;
const created: { id: number; lastName: string }[] = [];

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(['--platform-file', process.env[PLATFORM_INFO_ENV]!, ...argv], { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

async function letters(...filters: string[]): Promise<Letter[]> {
  const r = await cli('dlq', 'list', '--queue', 'ingest', '--json', ...filters);
  expect(r.code).toBe(0);
  return (JSON.parse(r.out) as Letter[]).filter((l) => l.teamId === teamA.teamId || l.teamId === teamB.teamId);
}

async function connectWithWebhook(): Promise<ConnectedTeam> {
  const team = await connectTeam();
  await httpJson('PUT', sandbox(`/apps/${team.clientId}/webhook`), {
    callbackUrl: apiUrl(`/drchronowebhook/${team.teamId}`),
    secretToken: team.webhookSecret,
    events: ['PATIENT_CREATE', 'PATIENT_MODIFY'],
    active: true,
  }, 200);
  const verified = await httpJson<{ ok: boolean }>('POST', sandbox(`/apps/${team.clientId}/webhook/verify`), undefined, 200);
  if (!verified.body.ok) throw new Error('webhook verification failed');
  return team;
}

const logOf = (teamId: string): Promise<IntegrationLogEntry[]> => readIntegrationLog(documentClient(), platform().resources.integrationLogTable, teamId, { limit: 500 });
const recordOf = (teamId: string, id: string) => getRecord(documentClient(), platform().resources.recordsTable, teamId, 'patient', id, { consistent: true });

function setVisibility(seconds: number) {
  return sqsClient().send(new SetQueueAttributesCommand({ QueueUrl: platform().queueUrls.ingest, Attributes: { VisibilityTimeout: String(seconds) } }));
}

beforeAll(async () => {
  teamA = await connectWithWebhook();
  teamB = await connectWithWebhook();
  // Retries in seconds instead of 3 minutes, so the five receives before the DLQ happen quickly.
  await setVisibility(TEST_VISIBILITY_SECONDS);
  await httpJson('POST', apiUrl('/_local/faults'), {
    service: 'dynamodb',
    operations: ['PutItem', 'UpdateItem', 'TransactWriteItems', 'BatchWriteItem'],
    resource: platform().resources.recordsTable,
    kind: '500',
    count: 10_000,
  }, 201);
  for (const lastName of ['Deadletterson', 'Redriveworth']) {
    const body = (await httpJson<Json>('POST', sandbox('/patients'), { first_name: 'Dlq', last_name: lastName, doctor: 263813 }, 201)).body;
    created.push({ id: body.id as number, lastName });
  }
  // Two new patients, two teams: four deliveries fail every receive and reach the DLQ, each logged as failed.
  await waitFor(async () => ((await letters()).length >= 4 ? true : undefined), { timeoutMs: 90_000, intervalMs: 500, description: 'four dead letters' });
  await httpJson('DELETE', apiUrl('/_local/faults'), undefined, 200);
}, 240_000);

afterAll(async () => {
  await httpJson('DELETE', apiUrl('/_local/faults'), undefined, 200).catch(() => undefined);
  await setVisibility(INGEST_QUEUE.visibilityTimeoutSeconds);
  for (const t of [teamA, teamB]) if (t) await httpJson('PATCH', sandbox(`/apps/${t.clientId}/webhook`), { active: false }, 200).catch(() => undefined);
});

describe('drchrono-sync dlq', () => {
  it('lists every dead letter with its ids, age and the failure reason from the integration log, consuming none', async () => {
    const all = await letters();
    expect(all).toHaveLength(4);
    for (const l of all) {
      expect(l).toMatchObject({ queue: 'ingest', event: 'PATIENT_CREATE' });
      expect(created.map((p) => String(p.id))).toContain(l.drchronoId);
      expect(l.deliveryId).toBeDefined();
      expect(l.ageSeconds).toBeGreaterThanOrEqual(0);
      expect(l.reason?.errorClass).toBeDefined();
      expect(l.reason?.detail).toMatch(/moving to the DLQ after 5 receives/);
    }

    const text = await cli('dlq', 'list', '--team', teamA.teamId);
    expect(text.code).toBe(0);
    const lines = text.out.split('\n');
    expect(lines[0]).toMatch(/^QUEUE\s+TEAM\s+EVENT\s+DELIVERY\s+DRCHRONO ID\s+AGE\s+RECEIVES\s+REASON$/);
    const mine = all.filter((l) => l.teamId === teamA.teamId);
    for (const l of mine) expect(lines.some((line) => line.includes(l.deliveryId!) && line.includes(l.drchronoId!) && line.includes(l.reason!.errorClass!))).toBe(true);
    expect(lines.at(-1)).toBe('2 dead letters');
    // Ids only: never a field value of the delivered patient.
    for (const p of created) expect(text.out).not.toContain(p.lastName);

    // Listing released everything it looked at: the same four are still there.
    expect((await letters()).map((l) => l.deliveryId).sort()).toEqual(all.map((l) => l.deliveryId).sort());
  });

  it('prints the whole --json listing when stdout is a pipe', async () => {
    const child = spawn(process.execPath, [BIN, '--platform-file', process.env[PLATFORM_INFO_ENV]!, 'dlq', 'list', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => chunks.push(d));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code).toBe(0);
    const listed = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Letter[];
    expect(listed.filter((l) => l.teamId === teamA.teamId || l.teamId === teamB.teamId)).toHaveLength(4);
  });

  it('redrive --team --max moves exactly that many of that team, and the delivery is applied', async () => {
    const r = await cli('dlq', 'redrive', '--queue', 'ingest', '--team', teamA.teamId, '--max', '1');
    expect(r.code).toBe(0);
    expect(r.out).toContain('ingest DLQ: 1 moved back to the ingest queue');
    const left = await letters();
    expect(left.filter((l) => l.teamId === teamA.teamId)).toHaveLength(1);
    expect(left.filter((l) => l.teamId === teamB.teamId)).toHaveLength(2);
    const moved = /moved {2}ingest {2}\S+ {2}PATIENT_CREATE {2}(\S+) {2}(\S+)/.exec(r.out)!;
    const [, deliveryId, drchronoId] = moved;
    await waitFor(() => recordOf(teamA.teamId, drchronoId!), { timeoutMs: 30_000, intervalMs: 250, description: 'the redriven patient record' });
    const log = await waitFor(async () => (await logOf(teamA.teamId)).filter((e) => e.deliveryId === deliveryId), { description: 'log entries' });
    expect(log.map((e) => e.outcome)).toEqual(expect.arrayContaining(['failed', 'info', 'created']));
  });

  it('a redrive that dies between the copy and the delete leaves the message in the DLQ; the next one delivers it again harmlessly', async () => {
    const [letter] = (await letters()).filter((l) => l.teamId === teamA.teamId);
    const ctx = await createCliContext({ platformFile: process.env[PLATFORM_INFO_ENV]!, out: () => undefined, err: () => undefined });
    const crash = async () => {
      throw new Error('operator machine lost power');
    };
    // The command reports the stop (exit 1); the message it was moving, and the rest it held, are released.
    expect(await dlq(['redrive', '--team', teamA.teamId], ctx, { afterSend: crash })).toBe(1);
    // The copy was sent and is applied; the dead letter is still there.
    await waitFor(() => recordOf(teamA.teamId, letter!.drchronoId!), { timeoutMs: 30_000, intervalMs: 250, description: 'the first copy applied' });
    expect((await letters()).filter((l) => l.teamId === teamA.teamId).map((l) => l.deliveryId)).toEqual([letter!.deliveryId]);

    const again = await cli('dlq', 'redrive', '--team', teamA.teamId);
    expect(again.out).toContain('1 dead letter redriven');
    expect((await letters()).filter((l) => l.teamId === teamA.teamId)).toEqual([]);
    // The order guard makes the second copy a no-op: one `created`, one `unchanged` (or stale-skipped).
    const outcomes = await waitFor(
      async () => {
        const o = (await logOf(teamA.teamId)).filter((e) => e.deliveryId === letter!.deliveryId && e.entity === 'patient' && e.outcome !== 'failed').map((e) => e.outcome);
        return o.length >= 2 ? o.sort() : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 250, description: 'both copies processed' },
    );
    expect(outcomes[0]).toBe('created');
    expect(['stale-skipped', 'unchanged']).toContain(outcomes[1]);
    const rec = await recordOf(teamA.teamId, letter!.drchronoId!);
    expect(rec?.fields['Last Name']).toBe(created.find((p) => String(p.id) === letter!.drchronoId)!.lastName);
  });

  it('redrive without filters moves the rest (locally by copy and delete: fauxqs has no message move task)', async () => {
    await expect(
      sqsClient().send(new StartMessageMoveTaskCommand({ SourceArn: `arn:aws:sqs:us-east-1:000000000000:${new URL(platform().queueUrls.ingestDlq).pathname.split('/').pop()}` })),
    ).rejects.toThrow();
    expect((await letters()).filter((l) => l.teamId === teamB.teamId)).toHaveLength(2);
    const r = await cli('dlq', 'redrive', '--queue', 'ingest');
    expect(r).toMatchObject({ code: 0, err: '' });
    // Without --team it moves every dead letter, other suites' too (e.g. sync-pipeline's poison message): at least team B's two.
    expect(Number(/ingest DLQ: (\d+) moved back to the ingest queue/.exec(r.out)?.[1])).toBeGreaterThanOrEqual(2);
    expect(r.out.split('\n').filter((l) => l.includes(teamB.teamId))).toHaveLength(2);
    expect(await letters()).toEqual([]);
    for (const p of created) {
      const rec = await waitFor(() => recordOf(teamB.teamId, String(p.id)), { timeoutMs: 30_000, intervalMs: 250, description: 'team B record' });
      expect(rec.fields['Last Name']).toBe(p.lastName);
    }
    const info = (await logOf(teamB.teamId)).filter((e) => e.outcome === 'info' && e.detail === 'redriven from the ingest DLQ by an operator');
    expect(info).toHaveLength(2);
    expect((await cli('dlq', 'list', '--team', teamB.teamId)).out).toBe(`no dead letters for team ${teamB.teamId} in the ingest, backfill and write-back DLQs`);
  });
});
