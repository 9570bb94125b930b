import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { GetSecretValueCommand, ResourceNotFoundException } from '@aws-sdk/client-secrets-manager';
import { ChangeMessageVisibilityCommand, ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { BatchWriteCommand, GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { main } from '../../cli/main';
import { LOCAL_DRAIN_ENV } from '../../cli/commands/team-lifecycle';
import { documentClient, secretsClient, sqsClient } from '../../shared/aws/clients';
import { enqueueIngestMessage } from '../../shared/ingest/ingest-queue';
import { readIntegrationLog } from '../../shared/store/integration-log';
import { getRecord } from '../../shared/store/records';
import { markTeamConnected } from '../../shared/oauth/team-connection';
import { eraseTeamDeadLetters } from '../../shared/teams/dead-letter-erase';
import { getTeamItem } from '../../shared/teams/team-store';
import { WEBHOOK_TEAM_STATE_TTL_MS } from '../../shared/webhook/team-state-cache';
import { PLATFORM_INFO_ENV } from './setup/platform-process';
import { connectTeam, type ConnectedTeam } from './helpers/connect-team';
import { httpJson, httpRequest } from './helpers/http';
import { apiUrl, pausePoller, platform, pollerStats, resumePoller } from './helpers/platform';
import { waitFor } from './helpers/wait-for';

/**
 * Team lifecycle against the local platform: `team disable` (webhooks answered, nothing synced, tokens kept),
 * `team enable` (catch-up through reconcile), and `team remove --erase` on a team with thousands of records,
 * interrupted and resumed.
 */
type Json = Record<string, unknown>;

const ddb = () => documentClient();
const tables = () => platform().resources;
const sandbox = (path: string) => `${platform().sandboxUrl!}/_sandbox${path}`;

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(['--platform-file', process.env[PLATFORM_INFO_ENV]!, ...argv], { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

async function countPartition(table: string, pk: string): Promise<number> {
  let n = 0;
  let start: Record<string, unknown> | undefined;
  do {
    const out = await ddb().send(
      new QueryCommand({ TableName: table, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': pk }, Select: 'COUNT', ConsistentRead: true, ExclusiveStartKey: start }),
    );
    n += out.Count ?? 0;
    start = out.LastEvaluatedKey;
  } while (start);
  return n;
}

/** Team ids of the messages on the ingest DLQ (looked at without removing them: hidden briefly, then released). */
async function dlqTeamIds(): Promise<string[]> {
  const ids: string[] = [];
  const handles: string[] = [];
  for (;;) {
    const out = await sqsClient().send(new ReceiveMessageCommand({ QueueUrl: platform().queueUrls.ingestDlq, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, VisibilityTimeout: 30, MessageAttributeNames: ['teamId'] }));
    if (!out.Messages?.length) break;
    for (const m of out.Messages) {
      ids.push(m.MessageAttributes?.teamId?.StringValue ?? '');
      handles.push(m.ReceiptHandle!);
    }
  }
  for (const h of handles) await sqsClient().send(new ChangeMessageVisibilityCommand({ QueueUrl: platform().queueUrls.ingestDlq, ReceiptHandle: h, VisibilityTimeout: 0 }));
  return ids;
}

/**
 * A warm webhook container reuses a team's state for WEBHOOK_TEAM_STATE_TTL_MS (docs/webhook.md): a disable or a
 * fence reaches it within that, so the platform clock is moved past it (work queued meanwhile is the sync worker's
 * to ignore or drop, tested below).
 */
async function passWebhookTeamStateTtl(): Promise<void> {
  await httpJson('POST', apiUrl('/_local/clock'), { advanceSeconds: WEBHOOK_TEAM_STATE_TTL_MS / 1000 }, 200);
}

/** A signed delivery as DrChrono sends it (the token form of the signature). */
function deliver(teamId: string, webhookSecret: string, object: Json, event = 'PATIENT_MODIFY') {
  return httpRequest('POST', apiUrl(`/drchronowebhook/${teamId}`), {
    headers: { 'x-drchrono-signature': webhookSecret, 'x-drchrono-event': event, 'x-drchrono-delivery': `it-${randomUUID()}`, 'content-type': 'application/json' },
    body: JSON.stringify({ receiver: { id: 1 }, object }),
  });
}

describe('team disable / enable', () => {
  let team: ConnectedTeam;

  beforeAll(async () => {
    team = await connectTeam(); // waits for the connect backfill
    await httpJson('PUT', sandbox(`/apps/${team.clientId}/webhook`), {
      callbackUrl: apiUrl(`/drchronowebhook/${team.teamId}`),
      secretToken: team.webhookSecret,
      events: ['PATIENT_CREATE', 'PATIENT_MODIFY', 'APPOINTMENT_CREATE', 'APPOINTMENT_MODIFY', 'APPOINTMENT_DELETE'],
      active: true,
      verboseObjects: false,
    }, 200);
    const verified = await httpJson<{ ok: boolean }>('POST', sandbox(`/apps/${team.clientId}/webhook/verify`), undefined, 200);
    if (!verified.body.ok) throw new Error('webhook verification failed');
  }, 90_000);

  afterAll(async () => {
    if (team) await httpJson('PATCH', sandbox(`/apps/${team.clientId}/webhook`), { active: false }, 200);
  });

  let createdWhileDisabled: Json;

  it('disable: DrChrono\'s webhooks are answered 2xx, nothing is queued or synced, and the tokens stay in the refresher\'s index', async () => {
    const r = await cli('team', 'disable', team.teamId);
    expect(r).toMatchObject({ code: 0, err: '' });
    expect(r.out).toContain('disabled');
    expect((await cli('team', 'show', team.teamId)).out).toMatch(/Status:\s+disabled \(connected\)/);
    expect((await cli('team', 'list')).out).toMatch(new RegExp(`${team.teamId}\\s+disabled \\(connected\\)`));
    await passWebhookTeamStateTtl();

    createdWhileDisabled = (await httpJson<Json>('POST', sandbox('/patients'), { first_name: 'Paused', last_name: 'Clinic', doctor: 263812 }, 201)).body;
    const id = String(createdWhileDisabled.id);
    // The sandbox's delivery of PATIENT_CREATE got a 2xx: DrChrono keeps the hook.
    await waitFor(
      async () => {
        const { body } = await httpJson<{ status: string; event: string; objectId: string }[]>('GET', sandbox(`/deliveries?clientId=${team.clientId}&objectId=${id}`), undefined, 200);
        return body.some((d) => d.event === 'PATIENT_CREATE' && d.status === 'delivered') || undefined;
      },
      { timeoutMs: 30_000, description: 'the PATIENT_CREATE delivery answered 2xx' },
    );
    const item = await waitFor(async () => {
      const t = await getTeamItem(ddb(), tables().teamsTable, team.teamId, true);
      return (t?.webhooksIgnored ?? 0) >= 1 ? t : undefined;
    }, { timeoutMs: 10_000, description: 'the delivery counted as ignored' });
    expect(item).toMatchObject({ status: 'connected', refreshPartition: 'tokens' });
    expect(item.tokenExpiresAt).toEqual(expect.any(Number));
    expect(await getRecord(ddb(), tables().recordsTable, team.teamId, 'patient', id, { consistent: true })).toBeUndefined();
  }, 60_000);

  it('disable: work queued before the disable is dropped by the sync worker, logged as ignored, and writes no record', async () => {
    const id = String(createdWhileDisabled.id);
    const deliveryId = `queued-before-disable-${randomUUID()}`;
    await enqueueIngestMessage(sqsClient(), platform().queueUrls.ingest, {
      v: 1,
      teamId: team.teamId,
      event: 'PATIENT_CREATE',
      deliveryId,
      receivedAt: new Date().toISOString(),
      source: 'webhook',
      object: { id: Number(id) },
    });
    const entry = await waitFor(async () => {
      const log = await readIntegrationLog(ddb(), tables().integrationLogTable, team.teamId, { limit: 50 });
      return log.find((e) => e.deliveryId === deliveryId);
    }, { timeoutMs: 30_000, description: 'the queued delivery in the integration log' });
    expect(entry).toMatchObject({ outcome: 'ignored', detail: 'team is disabled' });
    expect(await getRecord(ddb(), tables().recordsTable, team.teamId, 'patient', id, { consistent: true })).toBeUndefined();
  }, 60_000);

  it('enable: the catch-up reconcile brings in what changed while the team was disabled', async () => {
    const r = await cli('team', 'enable', team.teamId);
    expect(r).toMatchObject({ code: 0, err: '' });
    expect(r.out).toContain('Catch-up queued');
    expect((await cli('team', 'show', team.teamId)).out).toMatch(/Status:\s+connected\n/);
    const id = String(createdWhileDisabled.id);
    const stored = await waitFor(() => getRecord(ddb(), tables().recordsTable, team.teamId, 'patient', id, { consistent: true }), {
      timeoutMs: 45_000,
      intervalMs: 250,
      description: 'the patient created while disabled',
    });
    expect(stored.fields).toMatchObject({ 'First Name': 'Paused', 'Last Name': 'Clinic' });
    expect(stored.lastDeliveryId).toMatch(/^reconcile:/);
  }, 60_000);

  it('refuses to disable or enable an unknown team', async () => {
    const r = await cli('team', 'disable', randomUUID());
    expect(r.code).toBe(1);
    expect(r.err).toContain('not registered');
  });
});

describe('team remove --erase', () => {
  const RECORDS = 3_000;
  const LOG_ITEMS = 400;
  let team: ConnectedTeam;
  let expected: { patients: number; appointments: number; employees: number; integrationLog: number; teamItems: number };

  beforeAll(async () => {
    team = await connectTeam();
    // Thousands of records in the team's partitions (synthetic, no seed values), as a large clinic has.
    const puts: { table: string; item: Json }[] = [];
    for (let i = 0; i < RECORDS; i++) {
      puts.push({ table: tables().recordsTable, item: { pk: `${team.teamId}#patient`, sk: String(900_000_000 + i), 'First Name': `Synthetic${i}`, version: 1, syncedAt: Date.now() } });
    }
    for (let i = 0; i < LOG_ITEMS; i++) {
      puts.push({ table: tables().integrationLogTable, item: { pk: team.teamId, sk: `2026-11-30T00:00:00.000Z#it-${String(i).padStart(5, '0')}`, v: 2, ev: [], e: [] } });
    }
    for (let i = 0; i < puts.length; i += 25 * 8) {
      await Promise.all(
        Array.from({ length: 8 }, (_, k) => puts.slice(i + k * 25, i + (k + 1) * 25)).filter((b) => b.length).map(async (batch) => {
          let request: Record<string, { PutRequest: { Item: Json } }[]> = {};
          for (const p of batch) (request[p.table] ??= []).push({ PutRequest: { Item: p.item } });
          while (Object.keys(request).length) {
            const out = await ddb().send(new BatchWriteCommand({ RequestItems: request }));
            request = (out.UnprocessedItems ?? {}) as typeof request;
          }
        }),
      );
    }
    expected = {
      patients: await countPartition(tables().recordsTable, `${team.teamId}#patient`),
      appointments: await countPartition(tables().recordsTable, `${team.teamId}#appointment`),
      employees: await countPartition(tables().recordsTable, `${team.teamId}#employee`),
      integrationLog: await countPartition(tables().integrationLogTable, team.teamId),
      teamItems: (await countPartition(tables().teamsTable, team.teamId)) - 1,
    };
    expect(expected.patients).toBeGreaterThan(RECORDS);
    expect(expected.teamItems).toBeGreaterThan(0); // the backfill job, name caches, budget counters
  }, 180_000);

  afterAll(async () => {
    await resumePoller('sync').catch(() => undefined);
    await resumePoller('backfill').catch(() => undefined);
  });

  it('refuses without --erase, and without --yes says what it would delete (exit 2), deleting nothing', async () => {
    const noErase = await cli('team', 'remove', team.teamId, '--yes');
    expect(noErase.code).toBe(2);
    expect(noErase.err).toContain('always erases');
    const dry = await cli('team', 'remove', team.teamId, '--erase');
    expect(dry.code).toBe(2);
    expect(dry.err).toMatch(new RegExp(`\\b${expected.patients}\\s+patient records`));
    expect(dry.err).toMatch(new RegExp(`\\b${expected.integrationLog}\\s+integration log items`));
    expect(dry.err).toContain('--erase --yes');
    expect(await countPartition(tables().recordsTable, `${team.teamId}#patient`)).toBe(expected.patients);
    expect((await getTeamItem(ddb(), tables().teamsTable, team.teamId, true))?.status).toBe('connected');
  }, 60_000);

  it('an interrupted removal leaves the team fenced (webhook 404, queued work dropped); running it again finishes and prints the counts', async () => {
    // No worker is running (pollers paused and idle), so there is nothing in flight to drain: the local-only
    // drain override is safe here. A delivery queued now must be dropped once the pollers run again.
    await pausePoller('sync');
    await pausePoller('backfill');
    const pendingDelivery = `pending-${randomUUID()}`;
    await enqueueIngestMessage(sqsClient(), platform().queueUrls.ingest, {
      v: 1,
      teamId: team.teamId,
      event: 'PATIENT_MODIFY',
      deliveryId: pendingDelivery,
      receivedAt: new Date().toISOString(),
      source: 'webhook',
      object: { id: 900_000_001 },
    });

    // Dead letters: one of this team (PHI no worker will read again) and one of another team, which must survive.
    const otherTeam = randomUUID();
    for (const t of [team.teamId, otherTeam]) {
      await sqsClient().send(
        new SendMessageCommand({
          QueueUrl: platform().queueUrls.ingestDlq,
          MessageBody: JSON.stringify({ v: 1, teamId: t, event: 'PATIENT_MODIFY', deliveryId: `dlq-${t}`, receivedAt: new Date().toISOString(), source: 'webhook', object: { id: 1 } }),
          MessageAttributes: { teamId: { DataType: 'String', StringValue: t }, event: { DataType: 'String', StringValue: 'PATIENT_MODIFY' } },
        }),
      );
    }

    // Write-back dead letters (FIFO) carry the app's field values: the team's must go, the other team's stay.
    for (const t of [team.teamId, otherTeam]) {
      const changeId = randomUUID();
      await sqsClient().send(
        new SendMessageCommand({
          QueueUrl: platform().queueUrls.writeBackDlq,
          MessageBody: JSON.stringify({ v: 1, changeId, teamId: t, entity: 'patient', op: 'update', key: 'CH-1', drchronoId: '1', fieldsWritten: ['Email'], payload: { email: 'x' }, baseVersion: null, requestedAt: new Date().toISOString() }),
          MessageGroupId: `${t}:patient:dlq`,
          MessageDeduplicationId: changeId,
          MessageAttributes: { teamId: { DataType: 'String', StringValue: t }, entity: { DataType: 'String', StringValue: 'patient' } },
        }),
      );
    }

    // First run: the real bin, slow enough to be killed mid-way.
    const child = spawn(process.execPath, [join(__dirname, '../../cli/drchrono-sync.mjs'), 'team', 'remove', team.teamId, '--erase', '--yes', '--rate', '300'], {
      env: { ...process.env, DRCHRONO_SYNC_PLATFORM_FILE: process.env[PLATFORM_INFO_ENV], [LOCAL_DRAIN_ENV]: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await waitFor(async () => {
      const left = await countPartition(tables().recordsTable, `${team.teamId}#patient`);
      return left < expected.patients - 300 || undefined;
    }, { timeoutMs: 60_000, intervalMs: 100, description: 'the first run deleting records' });
    child.kill('SIGKILL');
    await exited;

    const fenced = await getTeamItem(ddb(), tables().teamsTable, team.teamId, true);
    expect(fenced).toMatchObject({ status: 'removing' });
    expect(fenced?.refreshPartition).toBeUndefined();
    const left = await countPartition(tables().recordsTable, `${team.teamId}#patient`);
    expect(left).toBeGreaterThan(0);
    // Fenced: the webhook URL answers 404 (once a warm container's team state has expired) and queues nothing,
    // though the secret still exists.
    await passWebhookTeamStateTtl();
    expect((await deliver(team.teamId, team.webhookSecret, { id: 1 })).status).toBe(404);

    // Second run: continues and finishes.
    const prevDrain = process.env[LOCAL_DRAIN_ENV];
    process.env[LOCAL_DRAIN_ENV] = '0';
    let r;
    try {
      r = await cli('team', 'remove', team.teamId, '--erase', '--yes', '--rate', '1000');
    } finally {
      if (prevDrain === undefined) delete process.env[LOCAL_DRAIN_ENV];
      else process.env[LOCAL_DRAIN_ENV] = prevDrain;
    }
    expect(r).toMatchObject({ code: 0, err: '' });
    expect(r.out).toContain('Resuming removal');
    expect(r.out).toContain('(resumed run)');
    const printed = (label: string) => Number(new RegExp(`(\\d+)\\s+${label}`).exec(r.out)?.[1]);
    // A killed run can lose the count of the one batch it was writing (25 items); nothing is counted twice.
    expect(printed('patient records')).toBeGreaterThanOrEqual(expected.patients - 25);
    expect(printed('patient records')).toBeLessThanOrEqual(expected.patients);
    expect(printed('appointment records')).toBeLessThanOrEqual(expected.appointments);
    expect(printed('integration log items')).toBeLessThanOrEqual(expected.integrationLog);
    expect(printed('integration log items')).toBeGreaterThanOrEqual(LOG_ITEMS - 25);
    expect(printed('team secret')).toBe(1);
    expect(printed('dead-lettered queue messages')).toBe(2);
    const dlqTeams = await dlqTeamIds();
    expect(dlqTeams).toContain(otherTeam);
    expect(dlqTeams).not.toContain(team.teamId);
    await eraseTeamDeadLetters(sqsClient(), platform().queueUrls.ingestDlq, otherTeam); // leave the DLQ as other suites expect it
    expect(await eraseTeamDeadLetters(sqsClient(), platform().queueUrls.writeBackDlq, team.teamId)).toBe(0);
    expect(await eraseTeamDeadLetters(sqsClient(), platform().queueUrls.writeBackDlq, otherTeam)).toBe(1); // it survived; now cleaned up

    for (const pk of ['patient', 'appointment', 'employee'].map((e) => `${team.teamId}#${e}`)) expect(await countPartition(tables().recordsTable, pk)).toBe(0);
    expect(await countPartition(tables().integrationLogTable, team.teamId)).toBe(0);
    expect(await countPartition(tables().teamsTable, team.teamId)).toBe(1); // the audit item
    await expect(
      secretsClient().send(new GetSecretValueCommand({ SecretId: `${tables().teamSecretPrefix}${team.teamId}` })),
    ).rejects.toBeInstanceOf(ResourceNotFoundException);

    // The delivery that was queued before the removal is dropped when the workers run again: nothing comes back.
    const before = await pollerStats('sync');
    await resumePoller('sync');
    await resumePoller('backfill');
    await waitFor(async () => ((await pollerStats('sync')).succeeded > before.succeeded ? true : undefined), {
      timeoutMs: 30_000,
      description: 'the sync worker to take the pending delivery',
    });
    expect(await countPartition(tables().recordsTable, `${team.teamId}#patient`)).toBe(0);
    expect(await countPartition(tables().integrationLogTable, team.teamId)).toBe(0);
    expect(await countPartition(tables().teamsTable, team.teamId)).toBe(1);
  }, 180_000);

  it('keeps one PHI-free audit item: team id, times and counts only', async () => {
    const { Item } = await ddb().send(new GetCommand({ TableName: tables().teamsTable, Key: { pk: team.teamId, sk: 'TEAM' }, ConsistentRead: true }));
    expect(Object.keys(Item!).sort()).toEqual(
      ['createdAt', 'pk', 'refreshLeaseOwner', 'refreshLeaseUntil', 'removalCounts', 'removalStartedAt', 'removedAt', 'sk', 'status', 'teamId', 'updatedAt'].sort(),
    );
    expect(Item).toMatchObject({ teamId: team.teamId, status: 'removed' });
    expect(Object.keys(Item!.removalCounts as Json).sort()).toEqual(['appointments', 'deadLetters', 'employees', 'integrationLog', 'patients', 'secret', 'teamItems']);
    expect(Item!.removalCounts).toMatchObject({ deadLetters: 2, secret: 1 });
  });

  it('afterwards: the webhook answers 404, records shows nothing, team list shows the team as removed, and the id cannot be re-added', async () => {
    expect((await deliver(team.teamId, team.webhookSecret, { id: 1 })).status).toBe(404);
    const handshake = await httpRequest('GET', apiUrl(`/drchronowebhook/${team.teamId}?msg=abc`));
    expect(handshake.status).toBe(404);

    const records = await cli('records', team.teamId, 'patient');
    expect(records.code).toBe(0);
    expect(records.out).toContain('no patient records');

    const list = await cli('team', 'list', '--json');
    expect(JSON.parse(list.out)).toEqual(expect.arrayContaining([expect.objectContaining({ teamId: team.teamId, status: 'removed' })]));
    expect((await cli('team', 'show', team.teamId)).out).toMatch(/Status:\s+removed/);

    const again = await cli('team', 'add', team.teamId, '--client-id', 'x', '--client-secret', 'y');
    expect(again.code).toBe(1);
    expect(again.err).toContain('team ids are not reused');
    await expect(
      secretsClient().send(new GetSecretValueCommand({ SecretId: `${tables().teamSecretPrefix}${team.teamId}` })),
    ).rejects.toBeInstanceOf(ResourceNotFoundException);

    const rerun = await cli('team', 'remove', team.teamId, '--erase', '--yes');
    expect(rerun.code).toBe(0);
    expect(rerun.out).toContain('already removed');
    expect((await cli('team', 'enable', team.teamId)).code).toBe(1);
  }, 60_000);
});

describe('writers racing a removal', () => {
  it('an OAuth callback that claimed its token version before the fence cannot mark the fenced team connected again', async () => {
    const teamId = randomUUID();
    const fencedItem = { pk: teamId, sk: 'TEAM', teamId, status: 'removing', createdAt: 'x', updatedAt: 'x', tokenVersion: 3, refreshLeaseOwner: 'team-removal', refreshLeaseUntil: Number.MAX_SAFE_INTEGER };
    await ddb().send(new PutCommand({ TableName: tables().teamsTable, Item: fencedItem }));
    await markTeamConnected(ddb(), tables().teamsTable, teamId, {
      user: { id: 1, username: 'late-callback' },
      tokenExpiresAt: Date.now() + 3_600_000,
      now: new Date(),
      lease: { owner: 'oauth-callback:late', tokenVersion: 3 },
    });
    const after = await getTeamItem(ddb(), tables().teamsTable, teamId, true);
    expect(after).toMatchObject({ status: 'removing' });
    expect(after?.refreshPartition).toBeUndefined();
    expect(after?.drchronoUsername).toBeUndefined();
  });
});
