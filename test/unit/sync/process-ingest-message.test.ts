import { chartKey, storedContentHash } from '../../../shared/store/records';
import { DEFAULT_TEAM_SYNC_CONFIG, mapPatient } from '../../../shared/mapping';
import { versionKey } from '../../../shared/store/record-version';
import { mockClient } from 'aws-sdk-client-mock';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { TeamSecretCache } from '../../../shared/teams/team-secret-cache';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import {
  DrChronoNotFoundError,
  DrChronoRateLimitedError,
  DrChronoServerError,
  DrChronoUnauthorizedError,
} from '../../../shared/drchrono/errors';
import {
  MAX_TIE_FETCHES,
  NOT_CONNECTED_DEFER_SECONDS,
  processIngestMessage,
  SECRET_REREAD_MIN_AGE_MS,
  TOKEN_REFRESH_DEFER_SECONDS,
  type ProcessResult,
} from '../../../shared/sync/process-ingest-message';
import { appointmentObj, harness, message, NOW, patientObj, TEAM, teamItem } from './helpers';

function entries(r: ProcessResult) {
  if (r.status !== 'done') throw new Error(`expected done, got ${r.status}`);
  return r.entries;
}

/** Record writes (UpdateCommand/PutCommand on the records table), as [command, key]. */
function recordWrites(h: ReturnType<typeof harness>) {
  return h.ddbMock
    .calls()
    .map((c) => c.args[0])
    .filter((cmd) => (cmd.input as { TableName?: string }).TableName === 'records' && (cmd instanceof UpdateCommand || cmd instanceof PutCommand))
    .map((cmd) => (cmd.input as { Key?: { pk: string; sk: string }; Item?: { pk: string; sk: string } }).Key ?? (cmd.input as { Item: { pk: string; sk: string } }).Item);
}

describe('processIngestMessage: what is not synced', () => {
  it('logs an unsynced event as ignored without touching DrChrono or the records', async () => {
    const h = harness();
    const r = await processIngestMessage(message('TASK_CREATE', { id: 5 }), h.deps);
    expect(entries(r)).toEqual([expect.objectContaining({ outcome: 'ignored', event: 'TASK_CREATE', drchronoId: '5' })]);
    expect(h.fake.calls).toEqual([]);
    expect(recordWrites(h)).toEqual([]);
  });

  it('ignores deliveries for an unknown team', async () => {
    const h = harness(null);
    const r = await processIngestMessage(message('PATIENT_CREATE', patientObj()), h.deps);
    expect(entries(r)[0]).toMatchObject({ outcome: 'ignored', detail: 'unknown team' });
  });

  it('ignores deliveries for a disabled team', async () => {
    const h = harness(teamItem({ status: 'disabled' }));
    const r = await processIngestMessage(message('PATIENT_CREATE', patientObj()), h.deps);
    expect(entries(r)[0]).toMatchObject({ outcome: 'ignored', detail: 'team is disabled' });
  });

  it('ignores deliveries queued before `team disable` (disabledAt), keeping the connection state', async () => {
    const h = harness(teamItem({ status: 'connected', disabledAt: '2026-11-30T05:00:00.000Z' }));
    const r = await processIngestMessage(message('PATIENT_CREATE', patientObj()), h.deps);
    expect(entries(r)).toEqual([expect.objectContaining({ outcome: 'ignored', detail: 'team is disabled' })]);
    expect(h.fake.calls).toEqual([]);
    expect(recordWrites(h)).toEqual([]);
  });

  it.each(['removing', 'removed'] as const)('drops a delivery of a %s team with no log entry and no write at all', async (status) => {
    const h = harness(teamItem({ status }));
    const r = await processIngestMessage(message('PATIENT_CREATE', patientObj()), h.deps);
    expect(r).toEqual({ status: 'done', entries: [] });
    expect(h.fake.calls).toEqual([]);
    const writes = h.ddbMock.calls().filter((c) => !(c.args[0] instanceof GetCommand));
    expect(writes).toEqual([]);
  });

  it('stores a tombstone for a deleted break instead of failing the delivery into the DLQ', async () => {
    const h = harness();
    const r = await processIngestMessage(message('APPOINTMENT_DELETE', appointmentObj({ id: '246813600', appt_is_break: true, patient: null })), h.deps);
    expect(r.status).toBe('done');
    expect(entries(r)).toEqual([expect.objectContaining({ outcome: 'deleted', drchronoId: '246813600' })]);
    expect(recordWrites(h)).toEqual([expect.objectContaining({ pk: `${TEAM}#appointment`, sk: '246813600', deleted: true })]);
  });

  it('skips and logs an appointment break without writing it', async () => {
    const h = harness();
    const r = await processIngestMessage(message('APPOINTMENT_CREATE', appointmentObj({ appt_is_break: true, patient: null })), h.deps);
    expect(entries(r)[0]).toMatchObject({ outcome: 'ignored', entity: 'appointment' });
    expect(recordWrites(h)).toEqual([]);
  });
});

describe('processIngestMessage: patients', () => {
  it('writes a full webhook patient without any DrChrono call when the store knows its doctor', async () => {
    const h = harness();
    h.ddbMock.on(GetCommand, { TableName: 'records', Key: { pk: `${TEAM}#employee`, sk: '263812' } }).resolves({ Item: { pk: `${TEAM}#employee`, sk: '263812' } });
    const r = await processIngestMessage(message('PATIENT_CREATE', patientObj()), h.deps);
    const [entry] = entries(r);
    expect(entry).toMatchObject({ outcome: 'created', entity: 'patient', drchronoId: '104857601', deliveryId: 'delivery-1' });
    expect(entry!.fieldsWritten).toEqual(expect.arrayContaining(['Chart ID', 'Insurance Company', 'Patient Flags']));
    expect(h.fake.calls).toEqual([]);
    expect(recordWrites(h)).toEqual([{ pk: `${TEAM}#patient`, sk: '104857601' }]);
  });

  it('fetches the verbose patient when the team maps insurance and the webhook object lacks it', async () => {
    const h = harness();
    const slim = patientObj();
    delete slim.primary_insurance;
    delete slim.secondary_insurance;
    const r = await processIngestMessage(message('PATIENT_MODIFY', slim), h.deps);
    expect(h.fake.calls).toContain('getPatient(verbose)');
    expect(entries(r)[0]!.fieldsWritten).toContain('Insurance Company');
  });

  describe('the echo of a state already fetched verbose (fetched-state-covers.ts)', () => {
    const KEY = { pk: `${TEAM}#patient`, sk: '104857601' };
    /** The record as writeRecord stores a verbose fetch of the fixture patient sent at 10:13:59 (empty fields absent). */
    function storedFetch(): Record<string, unknown> {
      const fetched = mapPatient(patientObj(), { config: DEFAULT_TEAM_SYNC_CONFIG, profileNames: new Map(), flagTypeNames: new Map(), observedAt: '2026-11-21T10:13:59.000Z', authority: 'fetched' });
      const present = Object.fromEntries(Object.entries(fetched.fields).filter(([, v]) => v !== null));
      return { ...KEY, ...present, version: versionKey(fetched.version), contentHash: storedContentHash(fetched), chartKey: chartKey(TEAM, fetched.key), lastDeliveryId: 'change-1', syncedAt: 1 };
    }
    const slimPatient = (o: Record<string, unknown> = {}) => {
      const p = patientObj(o);
      delete p.primary_insurance;
      delete p.secondary_insurance;
      delete p.patient_flags_attached;
      return p;
    };

    it('is `unchanged` without a DrChrono call or a record write when the stored verbose fetch has its updated_at and fields', async () => {
      const h = harness();
      h.ddbMock.on(GetCommand, { TableName: 'records', Key: KEY }).resolves({ Item: storedFetch() });
      const r = await processIngestMessage(message('PATIENT_MODIFY', slimPatient()), h.deps);
      expect(entries(r)).toEqual([expect.objectContaining({ outcome: 'unchanged', entity: 'patient', drchronoId: '104857601', fieldsWritten: [] })]);
      expect(h.fake.calls).toEqual([]);
      expect(recordWrites(h)).toEqual([]);
      expect(h.ddbMock.commandCalls(PutCommand, { TableName: 'records' })).toHaveLength(0);
    });

    it('still fetches verbose when a field the delivery carries differs within the same second', async () => {
      const h = harness();
      h.ddbMock.on(GetCommand, { TableName: 'records', Key: KEY }).resolves({ Item: storedFetch() });
      h.fake.patient = patientObj({ email: 'other@example.invalid' });
      const r = await processIngestMessage(message('PATIENT_MODIFY', slimPatient({ email: 'other@example.invalid' })), h.deps);
      expect(h.fake.calls).toContain('getPatient(verbose)');
      expect(entries(r)[0]!.fieldsWritten).toContain('Email');
      expect(recordWrites(h)).toContainEqual(KEY);
    });
  });

  it('marks the patient deleted, keeping its Chart ID, when the verbose fetch answers 404', async () => {
    const h = harness();
    const slim = patientObj();
    delete slim.primary_insurance;
    h.fake.failures.push(new DrChronoNotFoundError({ method: 'GET', path: '/api/patients/{id}' }));
    const r = await processIngestMessage(message('PATIENT_MODIFY', slim), h.deps);
    expect(entries(r)[0]).toMatchObject({ outcome: 'deleted', entity: 'patient', drchronoId: '104857601', fieldsWritten: [] });
    const [write] = h.ddbMock.commandCalls(UpdateCommand).map((c) => c.args[0].input).filter((i) => i.TableName === 'records');
    expect(write!.UpdateExpression).toMatch(/^SET #version = :v, #deleted = :true, .* REMOVE /);
    // Chart ID (and its index key) stay, so `records <team> patient <Chart ID>` still finds it, as deleted.
    expect(Object.values(write!.ExpressionAttributeNames!)).not.toContain('Chart ID');
    expect(write!.UpdateExpression).not.toContain('chartKey');
  });

  it('does not fetch verbose data for a team that maps no insurance or flag fields', async () => {
    const h = harness(teamItem({ syncFields: { patient: ['Chart ID', 'First Name'] } }));
    const slim = patientObj();
    delete slim.primary_insurance;
    delete slim.patient_flags_attached;
    const r = await processIngestMessage(message('PATIENT_MODIFY', slim), h.deps);
    expect(h.fake.calls).toEqual([]);
    expect(entries(r)[0]).toMatchObject({ fieldsWritten: ['Chart ID', 'First Name'] });
    expect(entries(r)[0]!.fieldsSkipped).toContain('Patient SSN');
  });

  it('fetches and upserts an unknown Primary Provider once per container', async () => {
    const h = harness();
    const first = await processIngestMessage(message('PATIENT_CREATE', patientObj()), h.deps);
    expect(entries(first).map((e) => [e.entity, e.outcome])).toEqual([
      ['patient', 'created'],
      ['employee', 'created'],
    ]);
    expect(recordWrites(h)).toContainEqual({ pk: `${TEAM}#employee`, sk: '263812' });
    await processIngestMessage(message('PATIENT_MODIFY', patientObj(), { deliveryId: 'delivery-2' }), h.deps);
    expect(h.fake.calls.filter((c) => c === 'getDoctor')).toHaveLength(1);
  });

  it('still writes the patient when its doctor is gone from DrChrono', async () => {
    const h = harness();
    h.fake.failures.push(new DrChronoNotFoundError({ method: 'GET', path: '/api/doctors/{id}' }));
    const r = await processIngestMessage(message('PATIENT_CREATE', patientObj()), h.deps);
    expect(entries(r).map((e) => e.outcome)).toEqual(['created', 'info']);
  });

  it('fails a patient that does not have the documented shape, for a retry and the DLQ', async () => {
    const h = harness();
    const r = await processIngestMessage(message('PATIENT_CREATE', patientObj({ doctor: 'not-a-number' })), h.deps);
    expect(r.status).toBe('retry');
    if (r.status === 'retry') expect(r.entry).toMatchObject({ outcome: 'failed', errorClass: 'MappingValidationError' });
  });
});

describe('processIngestMessage: a Chart ID change reaches the appointments', () => {
  const PATIENT_KEY = { pk: `${TEAM}#patient`, sk: '104857601' };

  it('fans out a Chart ID change even when the team does not map "Chart ID" (only appointment "Patient")', async () => {
    const team = teamItem({ syncFields: { patient: ['First Name', 'Last Name'], appointment: ['Patient'], employee: [] } });
    // 1st delivery: learn the content hash of this patient's state.
    const first = harness(team);
    await processIngestMessage(message('PATIENT_MODIFY', patientObj({ chart_id: 'NEW0001' })), first.deps);
    const h0 = first.ddbMock.commandCalls(UpdateCommand).map((c) => c.args[0].input).find((i) => i.TableName === 'records')!;
    const hash = String(h0.ExpressionAttributeValues![':h']);

    // Stored: an OLDER state (earlier updated_at) with Chart ID OLD0001 whose content hash equals the incoming
    // one (as for a record written when the hash covered only the mapped fields): the write reports 'unchanged'.
    const h = harness(team);
    h.ddbMock.on(UpdateCommand, { TableName: 'records', Key: PATIENT_KEY }).resolves({
      Attributes: { ...PATIENT_KEY, version: 'u#2024-01-01T00:00:00.000000000#0#2026-11-01T00:00:00.000Z', contentHash: hash, chartKey: chartKey(TEAM, 'OLD0001') },
    });
    // The fan-out re-reads the patient as the write left it.
    h.ddbMock.on(GetCommand, { TableName: 'records', Key: PATIENT_KEY }).resolves({ Item: { chartKey: chartKey(TEAM, 'NEW0001'), version: 'u#2024-01-15T10:30:00.000000000#0#2026-11-21T10:15:00.000Z' } });
    await processIngestMessage(message('PATIENT_MODIFY', patientObj({ chart_id: 'NEW0001' })), h.deps);

    const record = h.ddbMock.commandCalls(UpdateCommand).map((c) => c.args[0].input).find((i) => i.TableName === 'records' && i.Key?.sk === '104857601')!;
    expect(record.ExpressionAttributeValues![':chartKey']).toBe(chartKey(TEAM, 'NEW0001')); // the write moved the Chart ID…
    // …so the appointments are fanned out to (chartFanOut set, appointment partition queried).
    expect(h.ddbMock.commandCalls(QueryCommand)).toHaveLength(1);
  });
});

describe('processIngestMessage: appointments', () => {
  it('resolves the profile name once and caches it per team in memory and in the teams table', async () => {
    const h = harness();
    const r = await processIngestMessage(message('APPOINTMENT_CREATE', appointmentObj()), h.deps);
    expect(entries(r)[0]).toMatchObject({ outcome: 'created', entity: 'appointment', drchronoId: '246813579' });
    const putProfiles = h.ddbMock.commandCalls(PutCommand, { TableName: 'teams' });
    expect(putProfiles.find((c) => c.args[0].input.Item?.sk === 'PROFILES')!.args[0].input.Item).toMatchObject({ pk: TEAM, sk: 'PROFILES', names: { '447201': 'Annual Physical' } });
    await processIngestMessage(message('APPOINTMENT_MODIFY', appointmentObj(), { deliveryId: 'd2' }), h.deps);
    expect(h.fake.calls.filter((c) => c === 'listAppointmentProfiles')).toHaveLength(1);
  });

  it("uses the stored patient's Chart ID for the Patient reference without a DrChrono call", async () => {
    const h = harness();
    h.ddbMock
      .on(GetCommand, { TableName: 'records', Key: { pk: `${TEAM}#patient`, sk: '104857601' } })
      .resolves({ Item: { pk: `${TEAM}#patient`, sk: '104857601', chartKey: chartKey(TEAM, 'DOJA000001') } });
    await processIngestMessage(message('APPOINTMENT_CREATE', appointmentObj()), h.deps);
    expect(h.fake.calls).not.toContain('getPatient');
    const update = h.ddbMock.commandCalls(UpdateCommand, { TableName: 'records', Key: { pk: `${TEAM}#appointment`, sk: '246813579' } });
    expect(Object.values(update[0]!.args[0].input.ExpressionAttributeValues!)).toContain('DOJA000001');
  });

  it('writes "Patient" empty for an appointment whose patient is a tombstone, saying why, though the tombstone kept its Chart ID', async () => {
    const h = harness();
    h.ddbMock
      .on(GetCommand, { TableName: 'records', Key: { pk: `${TEAM}#patient`, sk: '104857601' } })
      .resolves({ Item: { chartKey: chartKey(TEAM, 'DOJA000001'), version: 'z#2026-11-21T09:00:00.000Z', deleted: true } });
    const r = await processIngestMessage(message('APPOINTMENT_CREATE', appointmentObj()), h.deps);
    expect(h.fake.calls).not.toContain('getPatient');
    const update = h.ddbMock.commandCalls(UpdateCommand, { TableName: 'records', Key: { pk: `${TEAM}#appointment`, sk: '246813579' } })[0]!.args[0].input;
    expect(Object.values(update.ExpressionAttributeValues!)).not.toContain('DOJA000001');
    expect(update.ExpressionAttributeValues![':patientVersion']).toBe('z#2026-11-21T09:00:00.000Z');
    expect(entries(r)[0]!.detail).toContain('Patient cleared: patient 104857601 deleted in DrChrono');
  });

  it('clears "Patient" on the appointments of a patient the sync path finds deleted (404), through the order-safe fan-out', async () => {
    const h = harness();
    const PATIENT_KEY = { pk: `${TEAM}#patient`, sk: '104857601' };
    // The tombstone write replaces a stored live patient (ALL_OLD).
    h.ddbMock.on(UpdateCommand, { TableName: 'records', Key: PATIENT_KEY }).resolves({ Attributes: { ...PATIENT_KEY, version: 'u#2024-01-15T10:30:00.000000000#0#2026-11-21T10:15:00.000Z', chartKey: chartKey(TEAM, 'DOJA000001') } });
    h.ddbMock.on(GetCommand, { TableName: 'records', Key: PATIENT_KEY }).resolves({ Item: { ...PATIENT_KEY, chartKey: chartKey(TEAM, 'DOJA000001'), version: 'z#2026-11-21T10:16:00.000Z', deleted: true } });
    h.ddbMock.on(QueryCommand, { TableName: 'records' }).resolves({ Items: [{ sk: 'A1', Patient: 'DOJA000001', patientVersion: 'u#2024-01-15T10:30:00.000000000#0#2026-11-21T10:15:00.000Z' }] });
    h.fake.failures.push(new DrChronoNotFoundError({ method: 'GET', path: '/api/patients/{id}' }));
    // A slim object (no insurance): the verbose fetch the team's fields need is what answers 404.
    const slim = patientObj();
    delete slim.primary_insurance;
    const r = await processIngestMessage(message('PATIENT_MODIFY', slim), h.deps);
    expect(entries(r)[0]).toMatchObject({ outcome: 'deleted', drchronoId: '104857601' });
    expect(entries(r)[0]!.detail).toContain('Patient cleared on 1 appointment(s)');
    const cleared = h.ddbMock.commandCalls(UpdateCommand, { TableName: 'records', Key: { pk: `${TEAM}#appointment`, sk: 'A1' } })[0]!.args[0].input;
    expect(cleared.UpdateExpression).toContain('REMOVE #patient');
    expect(cleared.ConditionExpression).toContain('patientVersion < :pv');
    expect(cleared.ExpressionAttributeValues![':pv']).toBe('z#2026-11-21T10:16:00.000Z');
  });

  it('writes APPOINTMENT_DELETE as a deletion without fetching anything', async () => {
    const h = harness();
    const r = await processIngestMessage(message('APPOINTMENT_DELETE', { id: '246813579' }), h.deps);
    expect(entries(r)[0]).toMatchObject({ outcome: 'deleted', entity: 'appointment' });
    expect(h.fake.calls).toEqual([]);
  });
});

describe('processIngestMessage: DrChrono budget, limits and failures', () => {
  it('defers until the budget resets when the team budget is spent', async () => {
    const h = harness();
    h.ddbMock.on(UpdateCommand, { TableName: 'teams', Key: { pk: TEAM, sk: 'BUDGET#2026-11-21T10' } }).rejects(
      new ConditionalCheckFailedException({ message: 'spent', $metadata: {} }),
    );
    const slim = patientObj();
    delete slim.primary_insurance;
    const r = await processIngestMessage(message('PATIENT_MODIFY', slim), h.deps);
    expect(r.status).toBe('defer');
    if (r.status !== 'defer') return;
    expect(r.delaySeconds).toBeGreaterThanOrEqual(45 * 60);
    expect(r.delaySeconds).toBeLessThanOrEqual(46 * 60);
    expect(r.entry).toMatchObject({ outcome: 'deferred', errorClass: 'ApiBudgetExhaustedError' });
    expect(h.fake.calls).toEqual([]);
  });

  it('uses the team apiBudgetPerHour as the limit', async () => {
    const h = harness(teamItem({ apiBudgetPerHour: 7 }));
    const slim = patientObj();
    delete slim.primary_insurance;
    await processIngestMessage(message('PATIENT_MODIFY', slim), h.deps);
    const budget = h.ddbMock.commandCalls(UpdateCommand, { TableName: 'teams', Key: { pk: TEAM, sk: 'BUDGET#2026-11-21T10' } });
    expect(budget[0]!.args[0].input.ExpressionAttributeValues![':max']).toBe(6);
  });

  it('defers by the wait DrChrono states on a 429', async () => {
    const h = harness();
    h.fake.failures.push(new DrChronoRateLimitedError(37));
    const r = await processIngestMessage(message('APPOINTMENT_CREATE', appointmentObj()), h.deps);
    expect(r).toMatchObject({ status: 'defer', delaySeconds: 37, entry: { outcome: 'deferred', errorClass: 'DrChronoRateLimitedError' } });
  });

  it('fails for an SQS retry on a DrChrono server error', async () => {
    const h = harness();
    h.fake.failures.push(new DrChronoServerError({ method: 'GET', path: '/api/appointment_profiles', status: 502 }));
    const r = await processIngestMessage(message('APPOINTMENT_CREATE', appointmentObj()), h.deps);
    expect(r).toMatchObject({ status: 'retry', entry: { outcome: 'failed', errorClass: 'DrChronoServerError' } });
  });

  it('defers a team that is not connected', async () => {
    const h = harness(teamItem({ status: 'reauthorization_required' }));
    const r = await processIngestMessage(message('PATIENT_CREATE', patientObj()), h.deps);
    expect(r).toMatchObject({ status: 'defer', delaySeconds: NOT_CONNECTED_DEFER_SECONDS, entry: { errorClass: 'TeamNotConnected' } });
  });
});

describe('processIngestMessage: a secret cached before the connect', () => {
  it('re-reads the secret when the team is connected but the cached copy has no access token, and syncs', async () => {
    const h = harness();
    const cachedBeforeConnect = { clientId: 'c', clientSecret: 's', webhookSecret: 'w' };
    const afterConnect = { ...cachedBeforeConnect, accessToken: 'token-1', tokenVersion: 1 };
    h.deps.secrets = {
      get: async () => cachedBeforeConnect,
      refresh: async (_teamId, minAgeMs) => {
        h.secret.reads += 1;
        expect(minAgeMs).toBe(SECRET_REREAD_MIN_AGE_MS);
        return afterConnect;
      },
    };
    const r = await processIngestMessage(message('PATIENT_CREATE', patientObj()), h.deps);
    expect(r.status).toBe('done');
    expect(h.secret.reads).toBe(1);
    expect(h.fake.tokens[0]).toBe('token-1');
  });

  it('re-reads a connected team\'s token-less secret at most once per SECRET_REREAD_MIN_AGE_MS, not once per delivery', async () => {
    const h = harness();
    const sm = mockClient(SecretsManagerClient);
    sm.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify({ clientId: 'c', clientSecret: 's', webhookSecret: 'w'.repeat(40) }) });
    let clock = 1_000_000;
    const cache = new TeamSecretCache({ client: () => new SecretsManagerClient({ region: 'us-east-1' }), prefix: 'p/', now: () => clock });
    h.deps.secrets = cache;
    for (let i = 0; i < 5; i++) {
      const r = await processIngestMessage(message('PATIENT_CREATE', patientObj()), h.deps);
      expect(r).toMatchObject({ status: 'defer', delaySeconds: NOT_CONNECTED_DEFER_SECONDS });
    }
    // The first delivery reads the secret (cache miss) and may re-read it once; the next four read nothing.
    const reads = sm.commandCalls(GetSecretValueCommand).length;
    expect(reads).toBeLessThanOrEqual(2);
    clock += SECRET_REREAD_MIN_AGE_MS;
    await processIngestMessage(message('PATIENT_CREATE', patientObj()), h.deps);
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(reads + 1);
    sm.restore();
  });

  it("re-reads a cached secret older than the team's tokenVersion (after an account change the old token still works)", async () => {
    const h = harness(teamItem({ tokenVersion: 5 }));
    const previousAccount = { clientId: 'c', clientSecret: 's', webhookSecret: 'w', accessToken: 'token-previous-account', tokenVersion: 4 };
    const newAccount = { ...previousAccount, accessToken: 'token-new-account', tokenVersion: 5 };
    h.deps.secrets = {
      get: async () => previousAccount,
      refresh: async () => {
        h.secret.reads += 1;
        return newAccount;
      },
    };
    const r = await processIngestMessage(message('PATIENT_CREATE', patientObj()), h.deps);
    expect(r.status).toBe('done');
    expect(h.secret.reads).toBe(1);
    expect(h.fake.tokens[0]).toBe('token-new-account');
  });

  it('does not re-read the secret for a team that is not connected', async () => {
    const h = harness(teamItem({ status: 'registered' }));
    h.secret.current = { clientId: 'c', clientSecret: 's', webhookSecret: 'w' };
    const r = await processIngestMessage(message('PATIENT_CREATE', patientObj()), h.deps);
    expect(r).toMatchObject({ status: 'defer', delaySeconds: NOT_CONNECTED_DEFER_SECONDS });
    expect(h.secret.reads).toBe(0);
  });
});

describe('processIngestMessage: the team secret is read only when a DrChrono call is about to be made', () => {
  const secretJson = JSON.stringify({ clientId: 'c', clientSecret: 's', webhookSecret: 'w'.repeat(40), accessToken: 'token-1', tokenVersion: 7 });
  function withSecretsManager(h: ReturnType<typeof harness>) {
    const sm = mockClient(SecretsManagerClient);
    sm.on(GetSecretValueCommand).resolves({ SecretString: secretJson });
    h.deps.secrets = new TeamSecretCache({ client: () => new SecretsManagerClient({ region: 'us-east-1' }), prefix: 'p/' });
    return sm;
  }
  const knowsDoctor = (h: ReturnType<typeof harness>) =>
    h.ddbMock.on(GetCommand, { TableName: 'records', Key: { pk: `${TEAM}#employee`, sk: '263812' } }).resolves({ Item: { pk: `${TEAM}#employee`, sk: '263812' } });

  it('makes no Secrets Manager call for a verbose delivery stored without a DrChrono call', async () => {
    const h = harness();
    knowsDoctor(h);
    const sm = withSecretsManager(h);
    const r = await processIngestMessage(message('PATIENT_CREATE', patientObj()), h.deps);
    expect(entries(r)[0]).toMatchObject({ outcome: 'created' });
    expect(h.fake.calls).toEqual([]);
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(0);
    sm.restore();
  });

  it('reads the secret once for a delivery that needs a fetch', async () => {
    const h = harness();
    knowsDoctor(h);
    const sm = withSecretsManager(h);
    const slim = patientObj();
    delete slim.primary_insurance;
    delete slim.secondary_insurance;
    const r = await processIngestMessage(message('PATIENT_MODIFY', slim), h.deps);
    expect(r.status).toBe('done');
    expect(h.fake.calls).toEqual(['getPatient(verbose)']);
    expect(h.fake.tokens).toEqual(['token-1']);
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(1);
    sm.restore();
  });

  it('reads the secret once for a delivery that makes several DrChrono calls', async () => {
    const h = harness();
    const sm = withSecretsManager(h);
    // Unknown profile name, unknown patient and unknown doctor: three calls, one read.
    const r = await processIngestMessage(message('APPOINTMENT_CREATE', appointmentObj()), h.deps);
    expect(r.status).toBe('done');
    expect(h.fake.calls.length).toBeGreaterThan(1);
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(1);
    sm.restore();
  });

  it('defers a team that is not connected without reading its secret, even when the delivery needs no call', async () => {
    const h = harness(teamItem({ status: 'reauthorization_required' }));
    knowsDoctor(h);
    const sm = withSecretsManager(h);
    const r = await processIngestMessage(message('PATIENT_CREATE', patientObj()), h.deps);
    expect(r).toMatchObject({ status: 'defer', delaySeconds: NOT_CONNECTED_DEFER_SECONDS, entry: { errorClass: 'TeamNotConnected' } });
    expect(recordWrites(h)).toEqual([]);
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(0);
    sm.restore();
  });

  it('defers a connected team whose secret has no token before spending budget, when a call is needed', async () => {
    const h = harness();
    h.secret.current = { clientId: 'c', clientSecret: 's', webhookSecret: 'w' };
    const slim = patientObj();
    delete slim.primary_insurance;
    const r = await processIngestMessage(message('PATIENT_MODIFY', slim), h.deps);
    expect(r).toMatchObject({ status: 'defer', delaySeconds: NOT_CONNECTED_DEFER_SECONDS, entry: { errorClass: 'TeamNotConnected' } });
    expect(h.fake.calls).toEqual([]);
    expect(h.ddbMock.commandCalls(UpdateCommand, { TableName: 'teams' })).toHaveLength(0);
  });
});

describe('processIngestMessage: 401 handling', () => {
  it('re-reads the secret after a 401 and retries once with the newer token', async () => {
    const h = harness();
    h.fake.validTokens = new Set(['token-2']);
    h.fake.unauthorized = () => new DrChronoUnauthorizedError();
    h.deps.secrets.refresh = async () => {
      h.secret.reads += 1;
      return { ...h.secret.current!, accessToken: 'token-2' };
    };
    const r = await processIngestMessage(message('APPOINTMENT_CREATE', appointmentObj()), h.deps);
    expect(r.status).toBe('done');
    expect(h.secret.reads).toBe(1);
    expect(h.fake.tokens[0]).toBe('token-1');
    expect(h.fake.tokens.at(-1)).toBe('token-2');
  });

  it('requests a token refresh and defers when the re-read secret holds the same token', async () => {
    const h = harness();
    h.fake.validTokens = new Set();
    h.fake.unauthorized = () => new DrChronoUnauthorizedError();
    const r = await processIngestMessage(message('APPOINTMENT_CREATE', appointmentObj()), h.deps);
    expect(r).toMatchObject({ status: 'defer', delaySeconds: TOKEN_REFRESH_DEFER_SECONDS, entry: { errorClass: 'DrChronoUnauthorizedError' } });
    const refresh = h.ddbMock.commandCalls(UpdateCommand, { TableName: 'teams', Key: { pk: TEAM, sk: 'TEAM' } });
    expect(refresh).toHaveLength(1);
    expect(refresh[0]!.args[0].input.UpdateExpression).toContain('refreshPartition');
    expect(refresh[0]!.args[0].input.ExpressionAttributeValues?.[':tv']).toBe(7);
  });

  it('names the re-read version when an operator secret write moved the version but kept the rejected token', async () => {
    // rotate-webhook-secret / set-client-secret claim a new version without changing tokens: naming the cached
    // version would make the refresher ignore the request as about a token it already replaced.
    const h = harness();
    h.fake.validTokens = new Set();
    h.fake.unauthorized = () => new DrChronoUnauthorizedError();
    h.deps.secrets.refresh = async () => ({ ...h.secret.current!, webhookSecret: 'rotated', tokenVersion: 9 });
    const r = await processIngestMessage(message('APPOINTMENT_CREATE', appointmentObj()), h.deps);
    expect(r.status).toBe('defer');
    const refresh = h.ddbMock.commandCalls(UpdateCommand, { TableName: 'teams', Key: { pk: TEAM, sk: 'TEAM' } });
    expect(refresh[0]!.args[0].input.ExpressionAttributeValues?.[':tv']).toBe(9);
  });

  it('requests a refresh when the newer token is rejected too', async () => {
    const h = harness();
    h.fake.validTokens = new Set();
    h.fake.unauthorized = () => new DrChronoUnauthorizedError();
    h.deps.secrets.refresh = async () => ({ ...h.secret.current!, accessToken: 'token-2', tokenVersion: 8 });
    const r = await processIngestMessage(message('APPOINTMENT_CREATE', appointmentObj()), h.deps);
    expect(r.status).toBe('defer');
    expect(h.fake.tokens).toEqual(['token-1', 'token-2']);
    // The refresher must hear about the token it issued last, not the one it already replaced.
    const refresh = h.ddbMock.commandCalls(UpdateCommand, { TableName: 'teams', Key: { pk: TEAM, sk: 'TEAM' } });
    expect(refresh[0]!.args[0].input.ExpressionAttributeValues?.[':tv']).toBe(8);
  });
});

it('stamps entries with the injected clock', async () => {
  const h = harness();
  const r = await processIngestMessage(message('TASK_CREATE', { id: 1 }), h.deps);
  expect(entries(r)[0]!.at).toBe(NOW.toISOString());
});

describe('processIngestMessage: a version tie (two DrChrono states in one updated_at second)', () => {
  const PATIENT_KEY = { pk: `${TEAM}#patient`, sk: '104857601' };
  const APPOINTMENT_KEY = { pk: `${TEAM}#appointment`, sk: '246813579' };
  /** The stored item: another state delivered with the same updated_at as the fixtures, before this one. */
  const storedSameSecond = () =>
    new ConditionalCheckFailedException({
      message: 'The conditional request failed',
      $metadata: {},
      Item: { version: { S: 'u#2024-01-15T10:30:00.000000000#0#2026-11-21T10:13:00.000Z' }, contentHash: { S: 'other' } },
    });

  /** A team whose doctor is already stored, so the only DrChrono call left is the tie's fetch. */
  function tieHarness(key: { pk: string; sk: string }) {
    const h = harness();
    h.ddbMock.on(GetCommand, { TableName: 'records', Key: { pk: `${TEAM}#employee`, sk: '263812' } }).resolves({ Item: { pk: `${TEAM}#employee`, sk: '263812' } });
    h.ddbMock
      .on(UpdateCommand, { TableName: 'records', Key: key })
      .rejectsOnce(storedSameSecond())
      .resolves({ Attributes: { version: 'u#2024-01-15T10:30:00.000000000#0#2026-11-21T10:13:00.000Z', contentHash: 'other' } });
    return h;
  }

  /**
   * The stored same-second state of the patient has a Chart ID fan-out that never finished (chartFanOut): the
   * delivered write, a tie, carries it on (appointment A1, OLD0001 -> NEW0001) before the tie's look-up.
   */
  function storeTieWithUnfinishedFanOut(h: ReturnType<typeof harness>): void {
    const storedVersion = 'u#2024-01-15T10:30:00.000000000#0#2026-11-21T10:13:00.000Z';
    h.ddbMock
      .on(UpdateCommand, { TableName: 'records', Key: PATIENT_KEY })
      .rejectsOnce(
        new ConditionalCheckFailedException({
          message: 'The conditional request failed',
          $metadata: {},
          Item: { version: { S: storedVersion }, contentHash: { S: 'other' }, chartKey: { S: chartKey(TEAM, 'NEW0001') }, chartFanOut: { BOOL: true } },
        }),
      )
      .resolves({ Attributes: {} });
    h.ddbMock.on(GetCommand, { TableName: 'records', Key: PATIENT_KEY }).resolves({ Item: { chartKey: chartKey(TEAM, 'NEW0001'), version: storedVersion } });
    h.ddbMock.on(QueryCommand, { TableName: 'records' }).resolves({ Items: [{ sk: 'A1', Patient: 'OLD0001', patientVersion: 'u#2024-01-01T00:00:00.000000000#0#2026-11-01T00:00:00.000Z' }] });
  }

  const recordUpdates = (h: ReturnType<typeof harness>, key: { pk: string; sk: string }) =>
    h.ddbMock.commandCalls(UpdateCommand, { TableName: 'records', Key: key }).map((c) => c.args[0].input);

  it('fetches the patient and writes the fetched state with the fetch authority', async () => {
    const h = tieHarness(PATIENT_KEY);
    h.fake.patient = patientObj({ email: 'current@example.com' });
    const r = await processIngestMessage(message('PATIENT_MODIFY', patientObj({ email: 'older@example.com' })), h.deps);

    expect(h.fake.calls).toEqual(['getPatient(verbose)']);
    const [delivered, fetched] = recordUpdates(h, PATIENT_KEY);
    expect(delivered!.ExpressionAttributeValues?.[':v']).toBe('u#2024-01-15T10:30:00.000000000#0#2026-11-21T10:14:00.000Z');
    expect(fetched!.ExpressionAttributeValues?.[':v']).toBe(`u#2024-01-15T10:30:00.000000000#1#${NOW.toISOString()}`);
    expect(Object.values(fetched!.ExpressionAttributeValues!)).toContain('current@example.com');
    expect(entries(r)).toEqual([expect.objectContaining({ outcome: 'updated', entity: 'patient', detail: expect.stringContaining('tie resolved by fetching') })]);
  });

  it('fetches the appointment by id on a tie', async () => {
    const h = tieHarness(APPOINTMENT_KEY);
    h.ddbMock
      .on(GetCommand, { TableName: 'records', Key: PATIENT_KEY })
      .resolves({ Item: { ...PATIENT_KEY, chartKey: chartKey(TEAM, 'DOJA000001') } });
    h.fake.appointment = appointmentObj({ reason: 'Current reason' });
    const r = await processIngestMessage(message('APPOINTMENT_MODIFY', appointmentObj({ reason: 'Older reason' })), h.deps);

    expect(h.fake.calls.filter((c) => c === 'getAppointment')).toHaveLength(1);
    expect(Object.values(recordUpdates(h, APPOINTMENT_KEY)[1]!.ExpressionAttributeValues!)).toContain('Current reason');
    expect(entries(r)[0]).toMatchObject({ outcome: 'updated', entity: 'appointment' });
  });

  it('marks the patient deleted when DrChrono answers the tie fetch with 404 (patients have no delete webhook)', async () => {
    const h = tieHarness(PATIENT_KEY);
    h.fake.failures.push(new DrChronoNotFoundError({ method: 'GET', path: '/api/patients/{id}' }));
    const r = await processIngestMessage(message('PATIENT_MODIFY', patientObj()), h.deps);

    const [, tombstone] = recordUpdates(h, PATIENT_KEY);
    expect(tombstone).toMatchObject({ ConditionExpression: 'attribute_not_exists(pk) OR NOT (#deleted = :true)', ExpressionAttributeValues: expect.objectContaining({ ':true': true }) });
    expect(entries(r)[0]).toMatchObject({ outcome: 'deleted', entity: 'patient', detail: expect.stringContaining('not found in DrChrono (404): patient marked deleted') });
  });

  it('defers the delivery when the team budget is spent before the tie fetch', async () => {
    const h = tieHarness(PATIENT_KEY);
    h.ddbMock.on(UpdateCommand, { TableName: 'teams', Key: { pk: TEAM, sk: 'BUDGET#2026-11-21T10' } }).rejects(
      new ConditionalCheckFailedException({ message: 'spent', $metadata: {} }),
    );
    const r = await processIngestMessage(message('PATIENT_MODIFY', patientObj()), h.deps);

    expect(r).toMatchObject({ status: 'defer', entry: { outcome: 'deferred', errorClass: 'ApiBudgetExhaustedError' } });
    expect(h.fake.calls).toEqual([]);
    expect(recordUpdates(h, PATIENT_KEY)).toHaveLength(1);
  });

  it('says what it wrote (a Chart ID fan-out) when the tie fetch then finds no access token: written, then deferred', async () => {
    const h = tieHarness(PATIENT_KEY);
    // Connected, but the secret holds no token: the tie's fetch is this message's first DrChrono call.
    h.secret.current = { clientId: 'c', clientSecret: 's', webhookSecret: 'w' };
    storeTieWithUnfinishedFanOut(h);

    const r = await processIngestMessage(message('PATIENT_MODIFY', patientObj()), h.deps);

    expect(h.fake.calls).toEqual([]);
    const appointmentWrites = h.ddbMock.commandCalls(UpdateCommand, { TableName: 'records', Key: { pk: `${TEAM}#appointment`, sk: 'A1' } });
    expect(appointmentWrites).toHaveLength(1);
    expect(r).toMatchObject({
      status: 'defer',
      delaySeconds: NOT_CONNECTED_DEFER_SECONDS,
      entry: {
        outcome: 'deferred',
        errorClass: 'TeamNotConnected',
        detail: 'written, then deferred for the DrChrono look-up: Chart ID change: 1 appointment(s) updated; waiting for the team to connect',
      },
    });
    // Ids and counts only: no Chart ID or other field value in the entry.
    expect(JSON.stringify(r)).not.toMatch(/NEW0001|OLD0001/);
  });

  it('says what it wrote (a Chart ID fan-out) when the tie fetch is then stopped by the spent team budget: written, then deferred', async () => {
    const h = tieHarness(PATIENT_KEY);
    h.ddbMock.on(UpdateCommand, { TableName: 'teams', Key: { pk: TEAM, sk: 'BUDGET#2026-11-21T10' } }).rejects(
      new ConditionalCheckFailedException({ message: 'spent', $metadata: {} }),
    );
    storeTieWithUnfinishedFanOut(h);

    const r = await processIngestMessage(message('PATIENT_MODIFY', patientObj()), h.deps);

    expect(h.fake.calls).toEqual([]);
    expect(r).toMatchObject({
      status: 'defer',
      entry: {
        outcome: 'deferred',
        errorClass: 'ApiBudgetExhaustedError',
        detail: 'written, then deferred at the DrChrono look-up: Chart ID change: 1 appointment(s) updated; team API budget exhausted',
      },
    });
    expect(JSON.stringify(r)).not.toMatch(/NEW0001|OLD0001/);
  });

  it('gives up after a bounded number of fetches while newer same-second states keep landing', async () => {
    const h = tieHarness(PATIENT_KEY);
    // Stored: a state of that second received after any fetch this worker sends (NOW), so no fetch settles it.
    h.ddbMock.on(UpdateCommand, { TableName: 'records', Key: PATIENT_KEY }).rejects(
      new ConditionalCheckFailedException({
        message: 'The conditional request failed',
        $metadata: {},
        Item: { version: { S: 'u#2024-01-15T10:30:00.000000000#0#2026-11-21T10:16:00.000Z' }, contentHash: { S: 'other' } },
      }),
    );
    const r = await processIngestMessage(message('PATIENT_MODIFY', patientObj()), h.deps);

    expect(h.fake.calls).toHaveLength(MAX_TIE_FETCHES);
    expect(entries(r)[0]).toMatchObject({ outcome: 'stale-skipped', detail: expect.stringContaining('still open') });
  });

  it('makes no DrChrono call for a duplicate of the stored state', async () => {
    const h = harness();
    h.ddbMock.on(GetCommand, { TableName: 'records', Key: { pk: `${TEAM}#employee`, sk: '263812' } }).resolves({ Item: { pk: `${TEAM}#employee`, sk: '263812' } });
    const delivery = message('PATIENT_MODIFY', patientObj());
    await processIngestMessage(delivery, h.deps);
    const stored = recordUpdates(h, PATIENT_KEY)[0]!;
    h.ddbMock.on(UpdateCommand, { TableName: 'records', Key: PATIENT_KEY }).rejects(
      new ConditionalCheckFailedException({
        message: 'The conditional request failed',
        $metadata: {},
        Item: { version: { S: String(stored.ExpressionAttributeValues![':v']) }, contentHash: { S: String(stored.ExpressionAttributeValues![':h']) } },
      }),
    );

    const r = await processIngestMessage({ ...delivery, receivedAt: '2026-11-21T10:15:00.000Z' }, h.deps);

    expect(entries(r)[0]).toMatchObject({ outcome: 'unchanged' });
    expect(h.fake.calls).toEqual([]);
  });
});

describe('processIngestMessage: patient flag events', () => {
  const flagObject = { id: 88120, patient: 104857601, flag_type: 5521, flag_text: 'Synthetic note', archived: false };

  it.each(['PATIENT_FLAG_CREATE', 'PATIENT_FLAG_CMODIFY', 'PATIENT_FLAG_MODIFY'])(
    '%s re-reads the patient named by a flag object, verbose, and writes its flags through the order guard',
    async (event) => {
      const h = harness();
      const r = await processIngestMessage(message(event, flagObject), h.deps);
      expect(h.fake.calls).toContain('getPatient(verbose)');
      expect(h.fake.patientIds).toEqual(['104857601']);
      const e = entries(r)[0]!;
      expect(e).toMatchObject({ entity: 'patient', drchronoId: '104857601', outcome: 'created' });
      expect(e.fieldsWritten).toEqual(expect.arrayContaining(['Patient Flags', 'Patient Flags and Descriptions']));
      expect(e.detail).toContain('patient flags re-read');
      expect(recordWrites(h)).toContainEqual({ pk: `${TEAM}#patient`, sk: '104857601' });
      // Written as a fetched state: it supersedes same-second states delivered before the fetch was sent.
      const update = h.ddbMock.commandCalls(UpdateCommand).find((c) => c.args[0].input.TableName === 'records' && c.args[0].input.Key?.sk === '104857601');
      expect(String(update!.args[0].input.ExpressionAttributeValues?.[':v'])).toMatch(/#1#/);
    },
  );

  it('reads the patient id from the object when the flag event carries the patient itself', async () => {
    const h = harness();
    await processIngestMessage(message('PATIENT_FLAG_CREATE', patientObj({ id: 104857777 })), h.deps);
    expect(h.fake.patientIds).toEqual(['104857777']);
  });

  it('ignores a flag event without a DrChrono call when the team maps no flag field', async () => {
    const h = harness(teamItem({ syncFields: { patient: ['Chart ID', 'First Name'] } }));
    const r = await processIngestMessage(message('PATIENT_FLAG_CREATE', flagObject), h.deps);
    expect(entries(r)).toEqual([expect.objectContaining({ outcome: 'ignored', detail: 'team maps no patient flag field' })]);
    expect(h.fake.calls).toEqual([]);
    expect(recordWrites(h)).toEqual([]);
  });

  it('fails a flag event whose object names no patient, for the DLQ with the reason', async () => {
    const h = harness();
    const r = await processIngestMessage(message('PATIENT_FLAG_CMODIFY', { id: 88120, flag_type: 5521 }), h.deps);
    expect(r.status).toBe('retry');
    expect(r.status === 'retry' && r.entry).toMatchObject({ outcome: 'failed', errorClass: 'FlagEventObjectError' });
    expect(h.fake.calls).toEqual([]);
  });

  it('a PATIENT_FLAG_* tie whose fetch answers 404 tombstones the PATIENT, not a patient whose id is the flag id', async () => {
    const h = harness();
    h.ddbMock.on(GetCommand, { TableName: 'records', Key: { pk: `${TEAM}#employee`, sk: '263812' } }).resolves({ Item: { pk: `${TEAM}#employee`, sk: '263812' } });
    // Stored: a same-second state delivered AFTER our fetch was sent (a PATIENT_MODIFY racing the flag event): a tie.
    h.ddbMock.on(UpdateCommand, { TableName: 'records', Key: { pk: `${TEAM}#patient`, sk: '104857601' } }).rejects(
      new ConditionalCheckFailedException({
        message: 'The conditional request failed',
        $metadata: {},
        Item: { version: { S: 'u#2024-01-15T10:30:00.000000000#0#2026-11-21T10:16:00.000Z' }, contentHash: { S: 'other' } },
      }),
    );
    // First call (the flag re-read) succeeds; the tie fetch answers 404 (the patient was deleted meanwhile).
    h.fake.failures.push(undefined as unknown as Error, new DrChronoNotFoundError({ method: 'GET', path: '/api/patients/{id}' }));
    const r = await processIngestMessage(message('PATIENT_FLAG_CREATE', { id: 88120, patient: 104857601, flag_type: 5521 }), h.deps);

    const tombstoned = h.ddbMock
      .commandCalls(UpdateCommand)
      .map((c) => c.args[0].input)
      .filter((i) => i.TableName === 'records' && String(i.UpdateExpression).includes('#deleted = :true'))
      .map((i) => i.Key?.sk);
    expect(tombstoned).toEqual(['104857601']);
    expect(entries(r)[0]).toMatchObject({ entity: 'patient', drchronoId: '104857601', outcome: 'deleted' });
  });

  it("names the flag's patient, not the flag id, in the entry of a flag event the team does not map", async () => {
    const h = harness(teamItem({ syncFields: { patient: ['Chart ID', 'First Name'] } }));
    const r = await processIngestMessage(message('PATIENT_FLAG_CREATE', flagObject), h.deps);
    expect(entries(r)).toEqual([expect.objectContaining({ entity: 'patient', drchronoId: '104857601', outcome: 'ignored' })]);
  });

  it("names the flag's patient, not the flag id, in the entry of a deferred flag event", async () => {
    const h = harness();
    h.ddbMock.on(UpdateCommand, { TableName: 'teams', Key: { pk: TEAM, sk: 'BUDGET#2026-11-21T10' } }).rejects(
      new ConditionalCheckFailedException({ message: 'spent', $metadata: {} }),
    );
    const r = await processIngestMessage(message('PATIENT_FLAG_CREATE', flagObject), h.deps);
    expect(r.status === 'defer' && r.entry).toMatchObject({ entity: 'patient', drchronoId: '104857601', outcome: 'deferred' });
  });

  it('defers a flag event when the team budget is spent', async () => {
    const h = harness();
    h.ddbMock.on(UpdateCommand, { TableName: 'teams', Key: { pk: TEAM, sk: 'BUDGET#2026-11-21T10' } }).rejects(
      new ConditionalCheckFailedException({ message: 'spent', $metadata: {} }),
    );
    const r = await processIngestMessage(message('PATIENT_FLAG_CREATE', flagObject), h.deps);
    expect(r.status).toBe('defer');
    expect(r.status === 'defer' && r.entry).toMatchObject({ outcome: 'deferred', errorClass: 'ApiBudgetExhaustedError' });
  });
});
