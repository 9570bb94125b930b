import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import {
  DrChronoConflictError,
  DrChronoError,
  DrChronoForbiddenError,
  DrChronoNotFoundError,
  DrChronoRateLimitedError,
  DrChronoServerError,
  DrChronoUnauthorizedError,
  DrChronoValidationError,
} from '../../../shared/drchrono/errors';
import type { Appointment, Patient } from '../../../shared/drchrono/schemas';
import { DEFAULT_TEAM_SYNC_CONFIG, mapPatient } from '../../../shared/mapping';
import { applyChange, REASONS, WRITE_BACK_CALL_RESERVE_MS, type ApplyResult } from '../../../shared/write-back/apply-change';
import { NOT_CONNECTED_DEFER_SECONDS, TOKEN_REFRESH_DEFER_SECONDS } from '../../../shared/sync/process-ingest-message';
import { appointmentObj, patientObj } from '../sync/helpers';
import { change, changeItem, completions, harness, NOW, progressWrites, TEAM, writingTeam } from './helpers';

function final(r: ApplyResult) {
  if (r.status !== 'final') throw new Error(`expected final, got ${r.status}`);
  return r.entry;
}

/** Writes to the records table (the order-guarded record writes). */
function recordWrites(h: ReturnType<typeof harness>) {
  return h.ddbMock.calls().filter((c) => {
    const cmd = c.args[0];
    return (cmd instanceof UpdateCommand || cmd instanceof PutCommand) && (cmd.input as { TableName?: string }).TableName === 'records';
  });
}

const writes = (h: ReturnType<typeof harness>) => h.fake.calls.filter((c) => /^(create|update|delete)/.test(c));

describe('applyChange: the team decides first', () => {
  it.each(['removing', 'removed'] as const)('drops a change of a %s team silently: no DrChrono call, no write', async (status) => {
    const m = change();
    const h = harness(m, writingTeam({ status }));
    expect(await applyChange(m, h.deps)).toEqual({ status: 'done' });
    expect(h.fake.calls).toEqual([]);
    expect(h.ddbMock.commandCalls(UpdateCommand)).toEqual([]);
  });

  it('rejects a change of a disabled team with "team is disabled"', async () => {
    const m = change();
    const h = harness(m, writingTeam({ disabledAt: '2026-11-21T09:00:00.000Z' }));
    const e = final(await applyChange(m, h.deps));
    expect(e).toMatchObject({ outcome: 'rejected', detail: REASONS.teamDisabled, direction: 'outbound', changeId: m.changeId });
    expect(completions(h)).toEqual([expect.objectContaining({ ':status': 'rejected', ':reason': REASONS.teamDisabled })]);
    expect(h.fake.calls).toEqual([]);
  });

  it('rejects with the reconnect hint when write-back is off', async () => {
    const m = change();
    const h = harness(m, writingTeam({ writeBack: false }));
    const e = final(await applyChange(m, h.deps));
    expect(e.outcome).toBe('rejected');
    expect(e.detail).toContain(`drchrono-sync team connect-link ${TEAM}`);
    expect(h.fake.calls).toEqual([]);
  });

  it('rejects when the authorization lacks a write scope even with write-back on', async () => {
    const m = change();
    const h = harness(m, writingTeam({ grantedScopes: ['patients:read', 'calendar:read', 'user:read', 'patients:write'] }));
    expect(final(await applyChange(m, h.deps)).outcome).toBe('rejected');
    expect(h.fake.calls).toEqual([]);
  });

  it('defers an hour when the team is not connected', async () => {
    const m = change();
    const h = harness(m, writingTeam({ status: 'reauthorization_required' }));
    const r = await applyChange(m, h.deps);
    expect(r).toMatchObject({ status: 'defer', delaySeconds: NOT_CONNECTED_DEFER_SECONDS, entry: { outcome: 'deferred' } });
    expect(completions(h)).toEqual([]);
  });
});

describe('applyChange: never twice', () => {
  it('does nothing for a change already final and logged', async () => {
    const m = change();
    const h = harness(m, writingTeam(), changeItem(m, { status: 'applied', loggedAt: '2026-11-21T10:00:00.000Z' }));
    expect(await applyChange(m, h.deps)).toEqual({ status: 'done' });
    expect(h.fake.calls).toEqual([]);
    expect(completions(h)).toEqual([]);
  });

  it('writes the missing log entry of a final change without applying it again', async () => {
    const m = change();
    const h = harness(m, writingTeam(), changeItem(m, { status: 'applied', currentVersion: 'u#x#1#y' }));
    const e = final(await applyChange(m, h.deps));
    expect(e).toMatchObject({ outcome: 'applied', fieldsWritten: ['Email'] });
    expect(h.fake.calls).toEqual([]);
    expect(completions(h)).toEqual([]);
  });

  it('logs a change whose item is gone as failed without calling DrChrono', async () => {
    const m = change();
    const h = harness(m, writingTeam(), null);
    expect(final(await applyChange(m, h.deps))).toMatchObject({ outcome: 'failed', detail: REASONS.noChangeItem });
    expect(h.fake.calls).toEqual([]);
  });
});

describe('applyChange: patients', () => {
  it('PATCHes a known patient, reads it back, writes the record and ends the change applied with its version', async () => {
    const m = change();
    const h = harness(m);
    const e = final(await applyChange(m, h.deps));
    // getDoctor: the referenced Primary Provider, fetched by the normal record path.
    expect(h.fake.calls).toEqual(['updatePatient', 'getPatient(verbose)', 'getDoctor']);
    expect(h.fake.payloads).toEqual([{ email: 'new@example.invalid' }]);
    expect(e).toMatchObject({ outcome: 'applied', drchronoId: '104857601', fieldsWritten: ['Email'], event: 'WRITE_BACK_PATIENT_UPDATE' });
    expect(recordWrites(h).length).toBeGreaterThan(0);
    const [done] = completions(h);
    expect(done).toMatchObject({ ':status': 'applied', ':drchronoId': '104857601' });
    expect(String(done![':currentVersion'])).toBe(`u#2024-01-15T10:30:00.000000000#1#${NOW.toISOString()}`);
  });

  it('charges the write-back budget before every DrChrono call', async () => {
    const m = change();
    const h = harness(m);
    await applyChange(m, h.deps);
    const budget = h.ddbMock.commandCalls(UpdateCommand).filter((c) => String((c.args[0].input.Key as { sk: string }).sk).startsWith('BUDGET#'));
    expect(budget).toHaveLength(h.fake.calls.length);
    // write-back's ceiling with the default 500/h: 500 - ceil(100/2) = 450, so the condition allows up to 449 before.
    expect(budget[0]!.args[0].input.ExpressionAttributeValues).toMatchObject({ ':max': 449 });
  });

  it('upserts an unsynced Chart ID by creating the patient with chart_id = key', async () => {
    const m = change({ op: 'upsert', drchronoId: null, payload: { doctor: 263812, gender: 'Female', first_name: 'A' }, fieldsWritten: ['Primary Provider', 'Sex', 'First Name'] });
    const h = harness(m);
    const e = final(await applyChange(m, h.deps));
    expect(h.fake.calls.filter((c) => c !== 'getDoctor')).toEqual(['findPatientsByChartId', 'createPatient']);
    expect(h.fake.payloads).toEqual([{ doctor: 263812, gender: 'Female', first_name: 'A', chart_id: 'DOJA000001' }]);
    expect(e).toMatchObject({ outcome: 'applied', key: 'DOJA000001' });
  });

  it('upserts onto the one DrChrono patient with that Chart ID (a redelivered create adopts what it created)', async () => {
    const m = change({ op: 'upsert', drchronoId: null, payload: { doctor: 263812, gender: 'Female' } });
    const h = harness(m);
    h.fake.chartMatches = [patientObj() as Patient];
    final(await applyChange(m, h.deps));
    expect(h.fake.calls).toEqual(['findPatientsByChartId', 'updatePatient', 'getPatient(verbose)', 'getDoctor']);
  });

  it('rejects an upsert-create without Primary Provider and Sex before calling DrChrono to create', async () => {
    const m = change({ op: 'upsert', drchronoId: null, payload: { first_name: 'A' } });
    const h = harness(m);
    expect(final(await applyChange(m, h.deps))).toMatchObject({ outcome: 'rejected', detail: REASONS.createNeeds });
    expect(writes(h)).toEqual([]);
  });

  it('rejects an upsert when several DrChrono patients share the Chart ID', async () => {
    const m = change({ op: 'upsert', drchronoId: null });
    const h = harness(m);
    h.fake.chartMatches = [patientObj() as Patient, patientObj({ id: 2 }) as Patient];
    expect(final(await applyChange(m, h.deps))).toMatchObject({ outcome: 'rejected', detail: REASONS.severalPatients });
    expect(writes(h)).toEqual([]);
  });

  it('rejects a PATCH of a patient DrChrono no longer has', async () => {
    const m = change();
    const h = harness(m);
    h.fake.writeFailures.set('updatePatient', new DrChronoNotFoundError({ status: 404 }));
    expect(final(await applyChange(m, h.deps))).toMatchObject({ outcome: 'rejected', detail: REASONS.deleted });
  });
});

describe('applyChange: DrChrono refusals', () => {
  it('turns a 400 into rejected with field errors by record field name', async () => {
    const m = change();
    const h = harness(m);
    h.fake.writeFailures.set('updatePatient', new DrChronoValidationError({ gender: ['This field is required.'], email: ['Enter a valid email address.'] }));
    const e = final(await applyChange(m, h.deps));
    expect(e).toMatchObject({ outcome: 'rejected', detail: `${REASONS.refused}; fields: Sex, Email`, fieldsWritten: [] });
    expect(completions(h)[0]).toMatchObject({ ':fieldErrors': { Sex: ['This field is required.'], Email: ['Enter a valid email address.'] } });
    expect(recordWrites(h)).toEqual([]);
  });

  it('turns a 409 into rejected "overlaps"', async () => {
    const m = change({ entity: 'appointment', op: 'create', key: null, drchronoId: null, payload: { doctor: 1, patient: 2, scheduled_time: '2026-12-01T09:00:00' } });
    const h = harness(m);
    h.fake.writeFailures.set('createAppointment', new DrChronoConflictError());
    expect(final(await applyChange(m, h.deps))).toMatchObject({ outcome: 'rejected', detail: REASONS.overlap });
  });

  it('turns a 403 into rejected with the reconnect hint', async () => {
    const m = change();
    const h = harness(m);
    h.fake.writeFailures.set('updatePatient', new DrChronoForbiddenError());
    const e = final(await applyChange(m, h.deps));
    expect(e.outcome).toBe('rejected');
    expect(e.detail).toContain('team write-back');
  });
});

describe('applyChange: appointments', () => {
  const appt = (o: Parameters<typeof change>[0] = {}) =>
    change({ entity: 'appointment', op: 'update', key: '246813579', drchronoId: '246813579', payload: { status: 'Cancelled' }, fieldsWritten: ['Appt Status'], ...o });

  it('PATCHes, reads back and applies', async () => {
    const m = appt();
    const h = harness(m);
    expect(final(await applyChange(m, h.deps))).toMatchObject({ outcome: 'applied', drchronoId: '246813579', event: 'WRITE_BACK_APPOINTMENT_UPDATE' });
    expect(writes(h)).toEqual(['updateAppointment']);
    expect(h.fake.calls).toContain('getAppointment');
  });

  it('rejects a PATCH of an appointment deleted in DrChrono (404)', async () => {
    const m = appt();
    const h = harness(m);
    h.fake.writeFailures.set('updateAppointment', new DrChronoNotFoundError());
    expect(final(await applyChange(m, h.deps))).toMatchObject({ outcome: 'rejected', detail: REASONS.deleted });
  });

  it('applies a DELETE and stores the tombstone; a 404 on DELETE is applied too (already gone)', async () => {
    for (const fail of [false, true]) {
      const m = appt({ op: 'delete', payload: {}, fieldsWritten: [] });
      const h = harness(m);
      if (fail) h.fake.writeFailures.set('deleteAppointment', new DrChronoNotFoundError());
      expect(final(await applyChange(m, h.deps))).toMatchObject({ outcome: 'applied', drchronoId: '246813579' });
      const tomb = recordWrites(h).map((c) => JSON.stringify(c.args[0].input));
      expect(tomb.some((t) => t.includes('"deleted":true') || t.includes(':deleted'))).toBe(true);
    }
  });

  describe('create, never twice', () => {
    const create = () => change({ entity: 'appointment', op: 'create', key: null, drchronoId: null, payload: { doctor: 263812, patient: 104857601, office: 118732, exam_room: 1, scheduled_time: '2024-01-15T09:30:00' }, fieldsWritten: ['Provider', 'Patient', 'Date of Service'] });

    it('marks the attempt before the POST and records the id right after it', async () => {
      const m = create();
      const h = harness(m);
      const order: string[] = [];
      h.ddbMock.on(UpdateCommand).callsFake((input: { Key?: { sk?: string }; ExpressionAttributeNames?: Record<string, string> }) => {
        if (input.Key?.sk?.startsWith('CHANGE#')) order.push(input.ExpressionAttributeNames?.['#a'] ?? 'complete');
        if (String(input.Key?.sk).startsWith('BUDGET#')) return { Attributes: { calls: 1 } };
        return {};
      });
      const e = final(await applyChange(m, h.deps));
      expect(e).toMatchObject({ outcome: 'applied', drchronoId: '246813579', key: '246813579' });
      expect(order).toEqual(['createAttemptedAt', 'createdId', 'complete']);
      expect(writes(h)).toEqual(['createAppointment']);
    });

    it('adopts the recorded createdId on redelivery instead of POSTing again', async () => {
      const m = create();
      const h = harness(m, writingTeam(), changeItem(m, { createAttemptedAt: 'x', createdId: '246813579' }));
      expect(final(await applyChange(m, h.deps))).toMatchObject({ outcome: 'applied', drchronoId: '246813579' });
      expect(writes(h)).toEqual([]);
    });

    it('looks for an interrupted create (attempt marked, no id) and adopts the match', async () => {
      const m = create();
      const h = harness(m, writingTeam(), changeItem(m, { createAttemptedAt: '2026-11-21T10:00:00.000Z' }));
      h.fake.candidates = [appointmentObj({ deleted_flag: true }) as Appointment, appointmentObj() as Appointment];
      expect(final(await applyChange(m, h.deps))).toMatchObject({ outcome: 'applied', drchronoId: '246813579' });
      expect(writes(h)).toEqual([]);
      expect(h.fake.calls[0]).toBe('findAppointments');
      expect(progressWrites(h)).toEqual(['createdId']);
    });

    it('does not adopt a booking of the same doctor, patient and start that differs in a sent field (the clinic\'s own)', async () => {
      const m = create();
      const h = harness(m, writingTeam(), changeItem(m, { createAttemptedAt: '2026-11-21T10:00:00.000Z' }));
      const sent = m.payload as { exam_room: number };
      h.fake.candidates = [appointmentObj({ exam_room: sent.exam_room + 1 }) as Appointment];
      final(await applyChange(m, h.deps));
      expect(writes(h)).toEqual(['createAppointment']);
    });

    it('POSTs when an interrupted create left nothing in DrChrono', async () => {
      const m = create();
      const h = harness(m, writingTeam(), changeItem(m, { createAttemptedAt: '2026-11-21T10:00:00.000Z' }));
      h.fake.candidates = [appointmentObj({ scheduled_time: '2024-01-15T10:30:00' }) as Appointment];
      final(await applyChange(m, h.deps));
      expect(writes(h)).toEqual(['createAppointment']);
    });
  });
});

describe('applyChange: conflicts (§4)', () => {
  const older = 'u#2024-01-15T10:29:59.000000000#0#2024-01-15T15:30:01.000Z';
  const same = 'u#2024-01-15T10:30:00.000000000#0#2024-01-15T15:30:01.000Z';

  it("is a conflict when DrChrono's updated_at is later than the base version's: nothing written", async () => {
    const m = change({ baseVersion: older });
    const h = harness(m);
    const e = final(await applyChange(m, h.deps));
    expect(e.outcome).toBe('conflict');
    expect(writes(h)).toEqual([]);
    expect(completions(h)[0]).toMatchObject({ ':status': 'conflict', ':currentVersion': `u#2024-01-15T10:30:00.000000000#1#${NOW.toISOString()}` });
  });

  it('is a conflict when the stored record holds a newer state than the base', async () => {
    const m = change({ baseVersion: same });
    const h = harness(m);
    h.fake.patient = patientObj({ updated_at: '2024-01-15T10:30:00' });
    const newer = 'u#2024-01-15T10:31:00.000000000#0#2024-01-15T15:31:01.000Z';
    h.ddbMock.on(GetCommand, { TableName: 'records', Key: { pk: `${TEAM}#patient`, sk: '104857601' } }).resolves({ Item: { pk: `${TEAM}#patient`, sk: '104857601', version: newer } });
    expect(final(await applyChange(m, h.deps))).toMatchObject({ outcome: 'conflict' });
    expect(completions(h)[0]).toMatchObject({ ':currentVersion': newer });
    expect(writes(h)).toEqual([]);
  });

  /** The record as the sync stores DrChrono's object: its mapped fields (empty ones absent) under `version`. */
  const storedItem = (obj: Record<string, unknown>, version: string) => {
    const mapped = mapPatient(obj, { config: DEFAULT_TEAM_SYNC_CONFIG, profileNames: new Map(), flagTypeNames: new Map(), observedAt: NOW.toISOString() });
    const fields = Object.fromEntries(Object.entries(mapped.fields).filter(([, v]) => v !== null));
    return { Item: { pk: `${TEAM}#patient`, sk: '104857601', version, ...fields } };
  };

  it('applies when DrChrono still has the base state (a later fetch of the same state is no conflict)', async () => {
    const m = change({ baseVersion: same });
    const h = harness(m);
    const refetched = `u#2024-01-15T10:30:00.000000000#1#2024-01-15T16:00:00.000Z`;
    h.ddbMock.on(GetCommand, { TableName: 'records', Key: { pk: `${TEAM}#patient`, sk: '104857601' } }).resolves(storedItem(h.fake.patient, refetched));
    expect(final(await applyChange(m, h.deps)).outcome).toBe('applied');
    expect(writes(h)).toEqual(['updatePatient']);
  });

  it("is a conflict when DrChrono holds a different state of the base version's second (another writer, same updated_at)", async () => {
    const m = change({ baseVersion: same });
    const h = harness(m);
    // The app read the record at `same`; another writer then changed Email within that second.
    h.ddbMock.on(GetCommand, { TableName: 'records', Key: { pk: `${TEAM}#patient`, sk: '104857601' } }).resolves(storedItem(h.fake.patient, same));
    h.fake.patient = { ...h.fake.patient, email: 'other-writer@example.invalid' };
    expect(final(await applyChange(m, h.deps))).toMatchObject({ outcome: 'conflict' });
    expect(writes(h)).toEqual([]);
  });
});

describe('applyChange: deferrals and retries', () => {
  it('defers until the next hour (plus spread) when the write-back budget is spent', async () => {
    const m = change();
    const h = harness(m);
    h.ddbMock.on(UpdateCommand, { TableName: 'teams', Key: { pk: TEAM, sk: 'BUDGET#2026-11-21T10' } }).rejects(new ConditionalCheckFailedException({ message: 'no', $metadata: {} }));
    const r = await applyChange(m, h.deps);
    expect(r.status).toBe('defer');
    if (r.status !== 'defer') return;
    expect(r.delaySeconds).toBeGreaterThanOrEqual(45 * 60);
    expect(r.delaySeconds).toBeLessThan(45 * 60 + 60);
    expect(r.entry).toMatchObject({ outcome: 'deferred', detail: 'team API budget exhausted' });
    expect(h.fake.calls).toEqual([]);
    expect(completions(h)).toEqual([]);
  });

  it("defers a 429 by DrChrono's wait", async () => {
    const m = change();
    const h = harness(m);
    h.fake.writeFailures.set('updatePatient', new DrChronoRateLimitedError(120));
    expect(await applyChange(m, h.deps)).toMatchObject({ status: 'defer', delaySeconds: 120 });
    expect(completions(h)).toEqual([]);
  });

  it('returns a 5xx (after the client retries) as retryable, the change still pending', async () => {
    const m = change();
    const h = harness(m);
    h.fake.writeFailures.set('updatePatient', new DrChronoServerError({ status: 502 }));
    expect(await applyChange(m, h.deps)).toMatchObject({ status: 'retry', entry: { outcome: 'failed', errorClass: 'DrChronoServerError' } });
    expect(completions(h)).toEqual([]);
  });

  it('asks for a token refresh and defers 5 min after a 401 the re-read secret does not fix', async () => {
    const m = change();
    const h = harness(m);
    h.fake.writeFailures.set('updatePatient', new DrChronoUnauthorizedError());
    const r = await applyChange(m, h.deps);
    expect(r).toMatchObject({ status: 'defer', delaySeconds: TOKEN_REFRESH_DEFER_SECONDS });
    const refresh = h.ddbMock.commandCalls(UpdateCommand).filter((c) => String(c.args[0].input.UpdateExpression).includes('refreshRequestedAt'));
    expect(refresh).toHaveLength(1);
    expect(h.secret.reads).toBe(1);
  });
});

function outcomeOf(r: ApplyResult): string {
  return r.status === 'final' ? String(r.entry.outcome) : r.status;
}
const OK = undefined as unknown as Error;

describe('applyChange: a write DrChrono applied is never redone on redelivery', () => {
  const base = 'u#2024-01-15T10:30:00.000000000#0#2024-01-15T15:30:01.000Z';

  it('ends applied, not conflict, when the read-back failed after the PATCH (base version given)', async () => {
    const m = change({ baseVersion: base });
    const h = harness(m, writingTeam(), changeItem(m));
    h.fake.patient = patientObj({ updated_at: '2024-01-15T10:30:00' });
    // conflict GET ok, PATCH ok (DrChrono applied it), read-back GET 502 after the client's retries.
    h.fake.failures.push(OK, OK, new DrChronoServerError({ status: 502 }));
    const first = await applyChange(m, h.deps);
    expect(first.status).toBe('retry');
    expect(h.fake.calls).toEqual(['getPatient(verbose)', 'updatePatient', 'getPatient(verbose)']);
    // DrChrono now holds OUR change, stamped with a later updated_at.
    h.fake.patient = patientObj({ updated_at: '2024-01-15T10:35:00', email: 'new@example.invalid' });
    expect(outcomeOf(await applyChange(m, h.deps))).toBe('applied');
  });

  it('ends applied on redelivery, not conflict, when a 429 on the read-back came after DrChrono applied the change', async () => {
    const m = change({ baseVersion: base });
    const h = harness(m, writingTeam(), changeItem(m));
    h.fake.patient = patientObj({ updated_at: '2024-01-15T10:30:00' });
    h.fake.failures.push(OK, OK, new DrChronoRateLimitedError(30));
    expect((await applyChange(m, h.deps)).status).toBe('defer');
    h.fake.patient = patientObj({ updated_at: '2024-01-15T10:35:00', email: 'new@example.invalid' });
    expect(outcomeOf(await applyChange(m, h.deps))).toBe('applied');
  });

  it('does not PATCH DrChrono a second time on redelivery (a staff edit made meanwhile would be overwritten)', async () => {
    const m = change();
    const h = harness(m, writingTeam(), changeItem(m));
    h.fake.failures.push(OK, new DrChronoRateLimitedError(30));
    expect((await applyChange(m, h.deps)).status).toBe('defer');
    expect(h.fake.calls.filter((c) => c === 'updatePatient')).toHaveLength(1);
    h.fake.patient = patientObj({ updated_at: '2024-01-15T10:40:00', email: 'staff@example.invalid' });
    await applyChange(m, h.deps);
    expect(h.fake.calls.filter((c) => c === 'updatePatient')).toHaveLength(1);
  });

  it('ends applied, not conflict, after a crash between the PATCH and its mark when DrChrono holds every sent value', async () => {
    const m = change({ baseVersion: base });
    const h = harness(m, writingTeam(), changeItem(m, { writeAttemptedAt: '2026-11-21T10:15:00.000Z' }));
    h.fake.patient = patientObj({ updated_at: '2024-01-15T10:35:00', email: 'new@example.invalid' });
    expect(outcomeOf(await applyChange(m, h.deps))).toBe('applied');
    expect(h.fake.calls).not.toContain('updatePatient');
  });

  it('still checks for a conflict after an attempt mark when DrChrono does not hold the sent values', async () => {
    const m = change({ baseVersion: base });
    const h = harness(m, writingTeam(), changeItem(m, { writeAttemptedAt: '2026-11-21T10:15:00.000Z' }));
    h.fake.patient = patientObj({ updated_at: '2024-01-15T10:35:00', email: 'staff@example.invalid' });
    expect(outcomeOf(await applyChange(m, h.deps))).toBe('conflict');
    expect(h.fake.calls).not.toContain('updatePatient');
  });

  it('marks the write attempted before the PATCH and written after it', async () => {
    const m = change();
    const h = harness(m);
    await applyChange(m, h.deps);
    expect(progressWrites(h)).toEqual(['writeAttemptedAt', 'writtenAt']);
  });
});

describe('applyChange: a create DrChrono already performed is finished, not refused', () => {
  const create = () =>
    change({
      entity: 'appointment',
      op: 'create',
      key: null,
      drchronoId: null,
      payload: { doctor: 263812, patient: 104857601, office: 1, exam_room: 1, scheduled_time: '2024-01-15T09:30:00' },
      fieldsWritten: ['Provider', 'Patient', 'Date of Service'],
    });

  it('is not reported rejected when write-back was switched off after DrChrono created it (createdId recorded)', async () => {
    const m = create();
    const h = harness(m, writingTeam({ writeBack: false }), changeItem(m, { createAttemptedAt: '2026-11-21T10:00:00.000Z', createdId: '246813579' }));
    expect(outcomeOf(await applyChange(m, h.deps))).toBe('applied');
  });

  it('does not POST again for a team that may no longer write when no created appointment is found', async () => {
    const m = create();
    const h = harness(m, writingTeam({ writeBack: false }), changeItem(m, { createAttemptedAt: '2026-11-21T10:00:00.000Z' }));
    expect(outcomeOf(await applyChange(m, h.deps))).toBe('rejected');
    expect(h.fake.calls).not.toContain('createAppointment');
  });
});

describe("applyChange: upsert by Chart ID does not trust DrChrono's chart_id filter", () => {
  it('does not PATCH a patient whose Chart ID is not exactly the key', async () => {
    const m = change({ op: 'upsert', drchronoId: null, key: 'DOJA000001' });
    const h = harness(m);
    h.fake.chartMatches = [patientObj({ id: 104857699, chart_id: 'DOJA0000011' }) as never];
    await applyChange(m, h.deps);
    expect(h.fake.calls).not.toContain('updatePatient');
  });
});

describe('applyChange: other DrChrono 4xx answers end the change rejected', () => {
  it.each([405, 413, 422])('a %i on the PATCH is rejected with its status, not retried', async (status) => {
    const m = change();
    const h = harness(m);
    h.fake.writeFailures.set('updatePatient', new DrChronoError(`PATCH /api/patients/{id}: unexpected HTTP ${status}`, { status }));
    const e = final(await applyChange(m, h.deps));
    expect(e.outcome).toBe('rejected');
    expect(e.detail).toContain(`HTTP ${status}`);
  });
});

describe('applyChange: the invocation deadline', () => {
  it('starts no DrChrono call that may outlast the invocation and defers the change (not counted as a failure)', async () => {
    const m = change();
    const h = harness(m);
    const r = await applyChange(m, { ...h.deps, remainingMs: () => WRITE_BACK_CALL_RESERVE_MS - 1 });
    expect(r.status).toBe('defer');
    expect(h.fake.calls).toEqual([]);
  });
});

describe('applyChange: an interrupted DELETE for a team that may no longer write', () => {
  const del = () => change({ entity: 'appointment', op: 'delete', key: '246813579', drchronoId: '246813579', payload: {}, fieldsWritten: [] });

  it('is not sent again when the appointment still exists: rejected, nothing deleted', async () => {
    const m = del();
    const h = harness(m, writingTeam({ writeBack: false }), changeItem(m, { writeAttemptedAt: '2026-11-21T10:00:00.000Z' }));
    expect(outcomeOf(await applyChange(m, h.deps))).toBe('rejected');
    expect(h.fake.calls).not.toContain('deleteAppointment');
  });

  it('ends applied when the earlier DELETE reached DrChrono', async () => {
    const m = del();
    const h = harness(m, writingTeam({ writeBack: false }), changeItem(m, { writeAttemptedAt: '2026-11-21T10:00:00.000Z' }));
    h.fake.failures.push(new DrChronoNotFoundError({ status: 404 }));
    expect(outcomeOf(await applyChange(m, h.deps))).toBe('applied');
  });
});
