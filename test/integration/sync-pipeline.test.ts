import { ReceiveMessageCommand, SendMessageCommand, SetQueueAttributesCommand, ChangeMessageVisibilityBatchCommand } from '@aws-sdk/client-sqs';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { documentClient, secretsClient, sqsClient } from '../../shared/aws/clients';
import { INGEST_QUEUE } from '../../shared/config/queue-settings';
import { DrChronoClient } from '../../shared/drchrono/client';
import { refreshAccessToken } from '../../shared/drchrono/token-client';
import { readApiBudgetUsage } from '../../shared/budget/api-budget';
import { readIntegrationLog, type IntegrationLogEntry } from '../../shared/store/integration-log';
import { findPatientByChartId, getRecord, type StoredRecord } from '../../shared/store/records';
import { readTeamSecret, writeTeamSecret } from '../../shared/teams/team-secret';
import { getTeamItem, teamKey } from '../../shared/teams/team-store';
import { connectTeam, type ConnectedTeam } from './helpers/connect-team';
import { httpJson } from './helpers/http';
import { apiUrl, platform } from './helpers/platform';
import { waitFor } from './helpers/wait-for';
import { main } from '../../cli/main';
import { PLATFORM_INFO_ENV } from './setup/platform-process';

/**
 * The whole local pipeline: a change in the DrChrono sandbox → its webhook → local API → webhook function →
 * SQS ingest queue → sync function (SQS poller) → DynamoDB records and the integration log.
 * Expected values are derived here, field by field, from the sandbox's own copy of the object.
 */
type Json = Record<string, unknown>;
const SYNCED = ['PATIENT_CREATE', 'PATIENT_MODIFY', 'APPOINTMENT_CREATE', 'APPOINTMENT_MODIFY', 'APPOINTMENT_DELETE'];
// Short enough for retries within a test; restored afterwards for the suites that follow.
const TEST_VISIBILITY_SECONDS = 2;

const sandbox = (path: string) => `${platform().sandboxUrl}/_sandbox${path}`;
const ddb = () => documentClient();
const tables = () => platform().resources;

async function connectWithWebhook(setup?: (teamId: string) => Promise<void>): Promise<ConnectedTeam> {
  const team = await connectTeam();
  if (setup) await setup(team.teamId);
  await httpJson('PUT', sandbox(`/apps/${team.clientId}/webhook`), {
    callbackUrl: apiUrl(`/drchronowebhook/${team.teamId}`),
    secretToken: team.webhookSecret,
    events: SYNCED,
    active: true,
    // Webhook objects without verbose-only fields, so the worker has to call DrChrono for insurance and flags.
    verboseObjects: false,
  }, 200);
  const verified = await httpJson<{ ok: boolean }>('POST', sandbox(`/apps/${team.clientId}/webhook/verify`), undefined, 200);
  if (!verified.body.ok) throw new Error('webhook verification failed');
  return team;
}

/** The app stops receiving hooks, so later suites' sandbox changes do not reach this team. */
async function disconnectWebhook(team: ConnectedTeam | undefined): Promise<void> {
  if (team) await httpJson('PATCH', sandbox(`/apps/${team.clientId}/webhook`), { active: false }, 200);
}

async function sandboxGet(kind: 'patients' | 'appointments', id: string | number): Promise<Json> {
  return (await httpJson<Json>('GET', sandbox(`/${kind}/${id}`), undefined, 200)).body;
}

async function record(teamId: string, entity: 'patient' | 'appointment' | 'employee', id: string): Promise<StoredRecord | undefined> {
  return getRecord(ddb(), tables().recordsTable, teamId, entity, id, { consistent: true });
}

function waitForRecord(teamId: string, entity: 'patient' | 'appointment' | 'employee', id: string, ok: (r: StoredRecord) => boolean, what: string) {
  return waitFor(async () => {
    const r = await record(teamId, entity, id);
    return r && ok(r) ? r : undefined;
  }, { timeoutMs: 30_000, intervalMs: 250, description: what });
}

async function logEntries(teamId: string): Promise<IntegrationLogEntry[]> {
  return readIntegrationLog(ddb(), tables().integrationLogTable, teamId, { limit: 500 });
}

function waitForLog(teamId: string, ok: (e: IntegrationLogEntry) => boolean, what: string) {
  return waitFor(async () => (await logEntries(teamId)).find(ok), { timeoutMs: 30_000, intervalMs: 250, description: what });
}

// ------------------------------------------------------------------ expected values

const text = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);
const LANGUAGE: Json = { eng: 'English', spa: 'Spanish', blank: 'Blank' };
const STATUS: Json = { A: 'Active', I: 'Inactive', D: 'Inactive - Deceased' };

function expectedPatient(p: Json): Json {
  const ins = (which: string, key: string) => text((p[which] as Json | null | undefined)?.[key]);
  const attached = ((p.patient_flags_attached as Json[] | undefined) ?? []).filter((f) => f.archived !== true);
  const flagName = (f: Json) => ((p.patient_flags as Json[]) ?? []).find((t) => t.id === f.flag_type)?.name as string;
  const stateZip = [text(p.state), text(p.zip_code)].filter(Boolean).join(' ');
  return {
    'Dr Chrono ID': String(p.id),
    'Chart ID': text(p.chart_id),
    'First Name': text(p.first_name),
    'Middle Name': text(p.middle_name),
    'Last Name': text(p.last_name),
    'Date of Birth': text(p.date_of_birth),
    Sex: text(p.gender),
    'Patient SSN': text(p.social_security_number),
    Language: LANGUAGE[p.preferred_language as string],
    Status: STATUS[p.patient_status as string],
    'Home Phone': text(p.home_phone),
    'Cell Phone': text(p.cell_phone),
    Email: text(p.email),
    'Disable SMS/Txt': p.disable_sms_messages,
    Address: [text(p.address), text(p.city), stateZip].filter(Boolean).join(', ') || null,
    'Emergency Contact Name': text(p.emergency_contact_name),
    'Emergency Contact Phone': text(p.emergency_contact_phone),
    'Emergency Contact Relation': text(p.emergency_contact_relation),
    'Primary Provider': String(p.doctor),
    'Patient Flags': attached.length ? [...new Set(attached.map(flagName))] : null,
    'Patient Flags and Descriptions': attached.length ? attached.map((f) => (f.flag_text ? `${flagName(f)}: ${f.flag_text}` : flagName(f))) : null,
    'Date of Last Appointment': text(p.date_of_last_appointment),
    'Insurance Company': ins('primary_insurance', 'insurance_company'),
    'Insurance ID Number': ins('primary_insurance', 'insurance_id_number'),
    'Insurance Group Number': ins('primary_insurance', 'insurance_group_number'),
    'Secondary Insurance': ins('secondary_insurance', 'insurance_company'),
    'Secondary Insurance ID Number': ins('secondary_insurance', 'insurance_id_number'),
    'Secondary Insurance Group Number': ins('secondary_insurance', 'insurance_group_number'),
    'Responsible Party Name': text(p.responsible_party_name),
    'Responsible Party Relation': text(p.responsible_party_relation),
    'Responsible Party Email': text(p.responsible_party_email),
    'Responsible Party Phone': text(p.responsible_party_phone),
  };
}

const PROFILE_NAMES: Record<number, string> = { 447201: 'Annual Physical', 447202: 'Follow-up', 447203: 'New Patient', 447204: 'Telehealth' };

function expectedAppointment(a: Json, chartId: string): Json {
  return {
    Patient: chartId,
    Provider: String(a.doctor),
    'Appt Profile': PROFILE_NAMES[a.profile as number],
    'Appt Status': text(a.status),
    'Date of Service': a.scheduled_time,
    Reason: text(a.reason),
    Duration: a.duration,
    'Claim ID': String(a.id),
  };
}

function expectedEmployee(d: Json): Json {
  return {
    'First Name': text(d.first_name),
    'Last Name': text(d.last_name),
    'Work Phone': text(d.office_phone),
    'Personal Phone': text(d.cell_phone) ?? text(d.home_phone),
    'Chrono Doctor ID': String(d.id),
    NPI: text(d.npi_number) ?? text(d.group_npi_number),
    'Work Email': text(d.email),
  };
}

// ------------------------------------------------------------------ the suite

let team: ConnectedTeam;
const extraTeams: ConnectedTeam[] = [];
let patientId: number;
let chartId: string;

beforeAll(async () => {
  await sqsClient().send(
    new SetQueueAttributesCommand({ QueueUrl: platform().queueUrls.ingest, Attributes: { VisibilityTimeout: String(TEST_VISIBILITY_SECONDS) } }),
  );
  team = await connectWithWebhook();
}, 60_000);

afterAll(async () => {
  for (const t of [team, ...extraTeams]) await disconnectWebhook(t).catch(() => undefined);
  await httpJson('DELETE', sandbox('/faults'), undefined, 200).catch(() => undefined);
  await sqsClient().send(
    new SetQueueAttributesCommand({ QueueUrl: platform().queueUrls.ingest, Attributes: { VisibilityTimeout: String(INGEST_QUEUE.visibilityTimeoutSeconds) } }),
  );
});

describe('sync pipeline', () => {
  it('syncs a new patient with every mapped field, fetching verbose data and the unknown doctor', async () => {
    const created = (
      await httpJson<Json>('POST', sandbox('/patients'), { first_name: 'Ivy', last_name: 'Syncworth', preferred_language: 'spa', patient_status: 'A', doctor: 263813 }, 201)
    ).body;
    patientId = created.id as number;
    const full = await sandboxGet('patients', patientId);
    chartId = full.chart_id as string;

    const stored = await waitForRecord(team.teamId, 'patient', String(patientId), () => true, 'the patient record');
    expect(stored.fields).toEqual(expectedPatient(full));
    expect(stored.chartId).toBe(chartId);

    // DrChrono sends no doctor webhooks: the Primary Provider was fetched and stored as an Employee.
    const secret = await readTeamSecret(secretsClient(), tables().teamSecretPrefix, team.teamId);
    const doctor = await new DrChronoClient({ baseUrl: platform().sandboxUrl!, accessToken: async () => secret.accessToken! }).getDoctor(263813);
    const employee = await waitForRecord(team.teamId, 'employee', '263813', () => true, 'the doctor as an employee record');
    expect(employee.fields).toEqual(expectedEmployee(doctor as Json));

    const entry = await waitForLog(team.teamId, (e) => e.entity === 'patient' && e.drchronoId === String(patientId), 'the patient log entry');
    expect(entry).toMatchObject({ event: 'PATIENT_CREATE', outcome: 'created' });
    expect(entry.fieldsWritten).toHaveLength(Object.keys(expectedPatient(full)).length);
  });

  it('clears a field that DrChrono empties', async () => {
    await httpJson('PATCH', sandbox(`/patients/${patientId}`), { email: '' }, 200);
    const stored = await waitForRecord(team.teamId, 'patient', String(patientId), (r) => r.fields.Email === null, 'the cleared e-mail');
    expect(stored.fields).toEqual(expectedPatient(await sandboxGet('patients', patientId)));
  });

  it('keeps one record when the Chart ID changes in DrChrono', async () => {
    await httpJson('PATCH', sandbox(`/patients/${patientId}`), { chart_id: `${chartId}-B` }, 200);
    const stored = await waitForRecord(team.teamId, 'patient', String(patientId), (r) => r.fields['Chart ID'] === `${chartId}-B`, 'the new Chart ID');
    expect(stored.chartId).toBe(`${chartId}-B`);
    expect((await findPatientByChartId(ddb(), tables().recordsTable, team.teamId, `${chartId}-B`))?.drchronoId).toBe(String(patientId));
    expect(await findPatientByChartId(ddb(), tables().recordsTable, team.teamId, chartId)).toBeUndefined();
    chartId = `${chartId}-B`;
  });

  it('keeps the current state when two changes share an updated_at second, whichever arrives first', async () => {
    const deliveryIds = async () =>
      (await httpJson<{ id: string }[]>('GET', sandbox(`/deliveries?clientId=${team.clientId}&objectId=${patientId}&event=PATIENT_MODIFY`), undefined, 200)).body.map((d) => d.id);
    // Full (verbose) webhook objects: the worker writes what was delivered without fetching, so the two
    // states meet in the store with one updated_at and only a fetch can tell which is current.
    await httpJson('PATCH', sandbox(`/apps/${team.clientId}/webhook`), { verboseObjects: true }, 200);
    try {
      for (const order of ['fifo', 'reverse'] as const) {
        const before = new Set(await deliveryIds());
        await httpJson('POST', sandbox(`/apps/${team.clientId}/webhook/quirks`), { holding: true }, 200);
        // Two changes within one sandbox second (no clock step); a pair that straddles a second is redone.
        let stamps: unknown[] = [];
        for (let attempt = 0; attempt < 5 && !(stamps.length === 2 && stamps[0] === stamps[1]); attempt++) {
          stamps = [];
          for (const middle of [`${order}-older`, `${order}-current`]) {
            await httpJson('PATCH', sandbox(`/patients/${patientId}`), { middle_name: middle }, 200);
            stamps.push((await sandboxGet('patients', patientId)).updated_at);
          }
        }
        expect(stamps[1]).toBe(stamps[0]);
        await httpJson('POST', sandbox(`/apps/${team.clientId}/webhook/release`), { order }, 200);

        const fresh = (await deliveryIds()).filter((id) => !before.has(id));
        const entries = await waitFor(
          async () => {
            const mine = (await logEntries(team.teamId)).filter((e) => fresh.includes(e.deliveryId ?? ''));
            return mine.length >= fresh.length ? mine : undefined;
          },
          { timeoutMs: 30_000, intervalMs: 250, description: `log entries for the ${order} deliveries` },
        );
        const current = await sandboxGet('patients', patientId);
        expect(current.middle_name).toBe(`${order}-current`);
        const stored = await record(team.teamId, 'patient', String(patientId));
        expect(stored?.fields).toEqual(expectedPatient(current));
        // The later of the two to be processed met the other in the store: a tie, settled by one fetch.
        expect(entries.filter((e) => e.detail?.includes('tie resolved by fetching'))).not.toHaveLength(0);
      }
    } finally {
      await httpJson('PATCH', sandbox(`/apps/${team.clientId}/webhook`), { verboseObjects: false }, 200);
    }
  });

  let appointmentId: string;

  it('syncs an appointment that points at the patient by Chart ID, with the profile name', async () => {
    const created = (
      await httpJson<Json>('POST', sandbox('/appointments'), { patient: patientId, doctor: 263812, profile: 447202, reason: 'Check-up', duration: 15 }, 201)
    ).body;
    appointmentId = String(created.id);
    const full = await sandboxGet('appointments', appointmentId);
    const stored = await waitForRecord(team.teamId, 'appointment', appointmentId, () => true, 'the appointment record');
    expect(stored.fields).toEqual(expectedAppointment(full, chartId));
    expect(stored.deleted).toBe(false);
  });

  it('keeps the newest state whatever order and however often the deliveries arrive', async () => {
    await httpJson('POST', sandbox(`/apps/${team.clientId}/webhook/quirks`), { holding: true }, 200);
    for (const reason of ['First change', 'Second change', 'Final change']) {
      await httpJson('PATCH', sandbox(`/appointments/${appointmentId}`), { reason }, 200);
    }
    await httpJson('POST', sandbox(`/apps/${team.clientId}/webhook/quirks`), { holding: false, duplicateNext: 3 }, 200);
    await httpJson('POST', sandbox(`/apps/${team.clientId}/webhook/release`), { order: 'reverse' }, 200);

    const entries = await waitFor(
      async () => {
        const mine = (await logEntries(team.teamId)).filter((e) => e.event === 'APPOINTMENT_MODIFY' && e.drchronoId === appointmentId);
        return mine.length >= 6 ? mine : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 250, description: 'six modify entries (three changes, each delivered twice)' },
    );
    // Batches run in parallel, so which copies arrive first varies; what may not vary: a delivery writes at
    // most once (its duplicate is unchanged or stale), and the final state is the last change.
    for (const id of new Set(entries.map((e) => e.deliveryId))) {
      const outcomes = entries.filter((e) => e.deliveryId === id).map((e) => e.outcome);
      expect(outcomes).toHaveLength(2);
      expect(outcomes.filter((o) => o === 'updated').length).toBeLessThanOrEqual(1);
      expect(outcomes.every((o) => ['updated', 'unchanged', 'stale-skipped'].includes(o))).toBe(true);
    }
    const stored = await record(team.teamId, 'appointment', appointmentId);
    expect(stored?.fields).toEqual(expectedAppointment(await sandboxGet('appointments', appointmentId), chartId));
    expect(stored?.fields.Reason).toBe('Final change');
  });

  it('deletes an appointment, and a late retry of an older delivery does not bring it back', async () => {
    await httpJson('DELETE', sandbox(`/appointments/${appointmentId}`), undefined, 200);
    await waitForRecord(team.teamId, 'appointment', appointmentId, (r) => r.deleted, 'the deletion');

    // DrChrono retries hours later: redeliver the CREATE, the oldest state there is.
    const { body: creates } = await httpJson<{ id: string }[]>('GET', sandbox(`/deliveries?clientId=${team.clientId}&objectId=${appointmentId}&event=APPOINTMENT_CREATE`), undefined, 200);
    await httpJson('POST', sandbox(`/deliveries/${creates[0]!.id}/redeliver`), undefined, 200);
    await waitForLog(team.teamId, (e) => e.deliveryId === creates[0]!.id && e.outcome === 'stale-skipped', 'the stale retry');
    const stored = await record(team.teamId, 'appointment', appointmentId);
    expect(stored?.deleted).toBe(true);
  });

  it('re-reads the token after a 401 and carries on with the rotated token', async () => {
    const before = await readTeamSecret(secretsClient(), tables().teamSecretPrefix, team.teamId);
    // Rotate behind the worker's cache, as the refresher would: the old access token stops working.
    const fresh = await refreshAccessToken({ baseUrl: platform().sandboxUrl!, clientId: team.clientId, clientSecret: team.clientSecret, refreshToken: before.refreshToken! });
    await writeTeamSecret(secretsClient(), tables().teamSecretPrefix, team.teamId, {
      ...before,
      accessToken: fresh.accessToken,
      refreshToken: fresh.refreshToken,
      accessTokenExpiresAt: Date.now() + fresh.expiresIn * 1000,
      tokenVersion: (before.tokenVersion ?? 0) + 1,
    });
    await new Promise((r) => setTimeout(r, 5_500)); // the worker re-reads a secret at most every 5 s
    // The webhook object lacks insurance, so the worker calls DrChrono with the token it has cached.
    await httpJson('PATCH', sandbox(`/patients/${patientId}`), { first_name: 'Ivanna' }, 200);
    await waitForRecord(team.teamId, 'patient', String(patientId), (r) => r.fields['First Name'] === 'Ivanna', 'the update after the 401');
    const entries = (await logEntries(team.teamId)).filter((e) => e.drchronoId === String(patientId));
    expect(entries.some((e) => e.errorClass === 'DrChronoUnauthorizedError')).toBe(false);
    // Fixed by re-reading the secret: no refresh was requested from the refresher.
    const item = await getTeamItem(ddb(), tables().teamsTable, team.teamId, true);
    expect(item?.refreshRequestedAt).toBeUndefined();
  });

  it('honours the wait DrChrono states on a 429 and retries DrChrono 5xx', async () => {
    await httpJson('POST', sandbox('/faults'), { path: '/api/patients', kind: '429', retryAfterSeconds: 1, count: 1 }, 201);
    await httpJson('PATCH', sandbox(`/patients/${patientId}`), { last_name: 'Quotaworth' }, 200);
    await waitForRecord(team.teamId, 'patient', String(patientId), (r) => r.fields['Last Name'] === 'Quotaworth', 'the update after the 429');
    const deferred = (await logEntries(team.teamId)).find((e) => e.errorClass === 'DrChronoRateLimitedError');
    expect(deferred).toMatchObject({ outcome: 'deferred', drchronoId: String(patientId) });

    // Three 503s outlast the client's own retries: the message fails once and SQS redelivers it.
    await httpJson('POST', sandbox('/faults'), { path: '/api/patients', kind: '503', count: 3 }, 201);
    await httpJson('PATCH', sandbox(`/patients/${patientId}`), { last_name: 'Faultsby' }, 200);
    await waitForRecord(team.teamId, 'patient', String(patientId), (r) => r.fields['Last Name'] === 'Faultsby', 'the update after the 5xx');
  });

  it('defers deliveries when the team budget is spent instead of failing them into the DLQ', async () => {
    const budgeted = await connectWithWebhook(async (teamId) => {
      await ddb().send(new UpdateCommand({ TableName: tables().teamsTable, Key: teamKey(teamId), UpdateExpression: 'SET apiBudgetPerHour = :n', ExpressionAttributeValues: { ':n': 1 } }));
    });
    extraTeams.push(budgeted);
    // A new patient needs two calls (verbose patient, unknown doctor); the budget allows one.
    const created = (await httpJson<Json>('POST', sandbox('/patients'), { first_name: 'Budget', last_name: 'Tester', doctor: 263814 }, 201)).body;
    const entry = await waitForLog(budgeted.teamId, (e) => e.drchronoId === String(created.id) && e.outcome === 'deferred', 'the deferral');
    expect(entry).toMatchObject({ errorClass: 'ApiBudgetExhaustedError' });
    // The connect-time backfill may share the counter, so only: the budget was spent when the worker deferred.
    expect(await readApiBudgetUsage(ddb(), tables().teamsTable, budgeted.teamId)).toBeGreaterThanOrEqual(1);
    expect((await logEntries(budgeted.teamId)).some((e) => e.outcome === 'failed')).toBe(false);
    // Its deliveries would keep sharing batches (and integration-log writes) with the next tests' deliveries.
    await disconnectWebhook(budgeted);
  });

  it('does not acknowledge a delivery whose log entry could not be written: redelivered, it is logged', async () => {
    const created = (await httpJson<Json>('POST', sandbox('/patients'), { first_name: 'Audit', last_name: 'Trail', doctor: 263812 }, 201)).body;
    const id = String(created.id);
    await waitForLog(team.teamId, (e) => e.drchronoId === id && e.event === 'PATIENT_CREATE', 'the new patient\'s log entry');
    const since = new Date().toISOString();
    // Four failures outlast the SDK's attempts (DynamoDB's default is 4) of the batch's one log write for this team.
    const fault = (
      await httpJson<{ id: number }>('POST', apiUrl('/_local/faults'), { service: 'dynamodb', operations: ['PutItem'], resource: tables().integrationLogTable, bodyContains: team.teamId, kind: '500', count: 4 }, 201)
    ).body;
    await httpJson('PATCH', sandbox(`/patients/${id}`), { last_name: 'Logworth' }, 200);
    await waitForRecord(team.teamId, 'patient', id, (r) => r.fields['Last Name'] === 'Logworth', 'the update');
    const entry = await waitForLog(team.teamId, (e) => e.drchronoId === id && e.event === 'PATIENT_MODIFY' && e.at >= since, 'the delivery\'s log entry');
    // The first attempt wrote the record; the redelivery found it written.
    expect(entry.outcome).toBe('unchanged');
    // Every injected failure was used up (a consumed rule is removed).
    const faults = (await httpJson<{ faults: { id: number }[] }>('GET', apiUrl('/_local/faults'), undefined, 200)).body.faults;
    expect(faults.some((f) => f.id === fault.id)).toBe(false);
  });

  it('sends a poison message to the DLQ with its reason in the integration log', async () => {
    const marker = `poison-${Date.now()}`;
    await sqsClient().send(
      new SendMessageCommand({
        QueueUrl: platform().queueUrls.ingest,
        MessageBody: JSON.stringify({ v: 1, teamId: team.teamId, event: 'PATIENT_MODIFY', marker }),
        MessageAttributes: { teamId: { DataType: 'String', StringValue: team.teamId }, event: { DataType: 'String', StringValue: 'PATIENT_MODIFY' } },
      }),
    );
    const entry = await waitForLog(team.teamId, (e) => e.errorClass === 'InvalidIngestMessageError', 'the failed entry');
    expect(entry.detail).toContain('DLQ');
    const dlqUrl = platform().queueUrls.ingestDlq;
    const found = await waitFor(
      async () => {
        const out = await sqsClient().send(new ReceiveMessageCommand({ QueueUrl: dlqUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 5, WaitTimeSeconds: 1 }));
        const msgs = out.Messages ?? [];
        const mine = msgs.find((m) => m.Body?.includes(marker));
        const others = msgs.filter((m) => m !== mine);
        if (others.length) {
          await sqsClient().send(
            new ChangeMessageVisibilityBatchCommand({ QueueUrl: dlqUrl, Entries: others.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle!, VisibilityTimeout: 0 })) }),
          );
        }
        return mine;
      },
      { timeoutMs: 30_000, intervalMs: 500, description: 'the poison message in the DLQ' },
    );
    expect(found.Body).toContain(marker);
  });

  it('counts each processed webhook delivery once in team show, from the integration log, without writing the team item per batch', async () => {
    const counted = await connectWithWebhook();
    extraTeams.push(counted);
    const ids: string[] = [];
    for (const last of ['Countwell', 'Tallyson', 'Sumner']) {
      ids.push(String((await httpJson<Json>('POST', sandbox('/patients'), { first_name: 'Cora', last_name: last, doctor: 263812 }, 201)).body.id));
    }
    await httpJson('PATCH', sandbox(`/patients/${ids[0]}`), { last_name: 'Countwell-Two' }, 200);
    await waitForRecord(counted.teamId, 'patient', ids[0]!, (r) => r.fields['Last Name'] === 'Countwell-Two', 'the modified patient');
    // Four webhook deliveries (three creates, one modify), each logged once; the connect's backfill is not counted.
    const deliveries = await waitFor(async () => {
      const ds = new Set((await logEntries(counted.teamId)).filter((e) => e.deliveryId && SYNCED.includes(e.event)).map((e) => e.deliveryId));
      return ds.size >= 4 ? ds : undefined;
    }, { timeoutMs: 30_000, intervalMs: 250, description: 'four logged deliveries' });
    expect(deliveries.size).toBe(4);
    const out: string[] = [];
    const code = await main(['--platform-file', process.env[PLATFORM_INFO_ENV]!, 'team', 'show', counted.teamId, '--json'], { out: (l) => out.push(l), err: (l) => out.push(l) });
    expect(code).toBe(0);
    const shown = JSON.parse(out.join('\n')) as { team: { webhooksProcessed: number; lastDeliveryAt?: string } };
    expect(shown.team.webhooksProcessed).toBe(4);
    expect(shown.team.lastDeliveryAt).toEqual(expect.any(String));
    // The team item itself was not written by the sync worker: its stored counter is still the one it was created with.
    expect((await getTeamItem(ddb(), tables().teamsTable, counted.teamId, true))?.webhooksProcessed ?? 0).toBe(0);
  });
});
