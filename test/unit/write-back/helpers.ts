import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Appointment, Patient } from '../../../shared/drchrono/schemas';
import type { ChangeMessage } from '../../../shared/write-back/change';
import type { ApplyDeps, WriteBackApi } from '../../../shared/write-back/apply-change';
import { FakeDrChrono, harness as syncHarness, NOW, TEAM, teamItem } from '../sync/helpers';

export { NOW, TEAM };
export const CHANGE_ID = '7d0f4f4e-2b1c-4f43-9a55-1f2e3d4c5b6a';

/** A team that may write: opted in, with both write scopes granted. */
export function writingTeam(o: Record<string, unknown> = {}): Record<string, unknown> {
  return teamItem({ writeBack: true, grantedScopes: ['patients:read', 'calendar:read', 'user:read', 'patients:write', 'calendar:write'], ...o });
}

export function change(o: Partial<ChangeMessage> = {}): ChangeMessage {
  return {
    v: 1,
    changeId: CHANGE_ID,
    teamId: TEAM,
    entity: 'patient',
    op: 'update',
    key: 'DOJA000001',
    drchronoId: '104857601',
    fieldsWritten: ['Email'],
    payload: { email: 'new@example.invalid' },
    baseVersion: null,
    requestedAt: '2026-11-21T10:14:00.000Z',
    ...o,
  };
}

/** The stored change item (pending unless said otherwise). */
export function changeItem(m: ChangeMessage, o: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    pk: m.teamId,
    sk: `CHANGE#${m.changeId}`,
    changeId: m.changeId,
    teamId: m.teamId,
    entity: m.entity,
    op: m.op,
    key: m.key,
    drchronoId: m.drchronoId,
    fieldsWritten: m.fieldsWritten,
    baseVersion: m.baseVersion,
    requestedAt: m.requestedAt,
    status: 'pending',
    attempts: 0,
    ...o,
  };
}

/** The sync worker's DrChrono double plus the write methods, recording each call by name. */
export class FakeWriteBack extends FakeDrChrono implements WriteBackApi {
  chartMatches: Patient[] = [];
  candidates: Appointment[] = [];
  payloads: Record<string, unknown>[] = [];
  /** Thrown by the named write instead of succeeding. */
  writeFailures = new Map<string, Error>();
  private async write(name: string, payload?: Record<string, unknown>): Promise<void> {
    await (this as unknown as { call(n: string): Promise<void> }).call(name);
    if (payload) this.payloads.push(payload);
    const f = this.writeFailures.get(name);
    if (f) {
      this.writeFailures.delete(name);
      throw f;
    }
  }
  async findPatientsByChartId(): Promise<Patient[]> {
    await this.write('findPatientsByChartId');
    return this.chartMatches;
  }
  async findAppointments(): Promise<Appointment[]> {
    await this.write('findAppointments');
    return this.candidates;
  }
  async createPatient(payload: Record<string, unknown>): Promise<Patient> {
    await this.write('createPatient', payload);
    return { ...this.patient, ...payload } as Patient;
  }
  async updatePatient(_id: number | string, payload: Record<string, unknown>): Promise<void> {
    await this.write('updatePatient', payload);
  }
  async createAppointment(payload: Record<string, unknown>): Promise<Appointment> {
    await this.write('createAppointment', payload);
    return this.appointment as Appointment;
  }
  async updateAppointment(_id: number | string, payload: Record<string, unknown>): Promise<void> {
    await this.write('updateAppointment', payload);
  }
  async deleteAppointment(): Promise<void> {
    await this.write('deleteAppointment');
  }
}

/**
 * Apply deps over the sync worker's mocked DynamoDB (helpers.ts), with the change item of `m` stored and one shared
 * FakeWriteBack the test scripts up front.
 */
export function harness(m: ChangeMessage, team: Record<string, unknown> | null = writingTeam(), item: Record<string, unknown> | null = changeItem(m)) {
  const h = syncHarness(team);
  // The change item is live: the worker's bookkeeping marks (SET #a = :v) show on the next read, as in DynamoDB.
  const stored = item ? { ...item } : undefined;
  const changeKey = { pk: TEAM, sk: `CHANGE#${m.changeId}` };
  h.ddbMock.on(GetCommand, { TableName: 'teams', Key: changeKey }).callsFake(() => ({ Item: stored ? { ...stored } : undefined }));
  h.ddbMock.on(UpdateCommand, { TableName: 'teams', Key: changeKey, UpdateExpression: 'SET #a = :v' }).callsFake((input: { ExpressionAttributeNames: Record<string, string>; ExpressionAttributeValues: Record<string, unknown> }) => {
    if (stored) stored[input.ExpressionAttributeNames['#a']!] = input.ExpressionAttributeValues[':v'];
    return {};
  });
  const fake = new FakeWriteBack();
  const deps: ApplyDeps = {
    ...h.deps,
    drchrono: (o) => {
      // One fake per message with this message's token and budget hook, sharing the scripted and recorded state.
      const { accessToken: _token, beforeCall: _hook, ...state } = fake as unknown as Record<string, unknown>;
      return Object.assign(new FakeWriteBack(o.accessToken, o.beforeCall), state);
    },
  };
  return { ...h, deps, fake };
}

/** The outcome written by completeChange (the UpdateCommand on the change item that sets status). */
export function completions(h: ReturnType<typeof harness>): Record<string, unknown>[] {
  return h.ddbMock
    .commandCalls(UpdateCommand)
    .map((c) => c.args[0].input)
    .filter((i) => (i.Key as { sk?: string } | undefined)?.sk?.startsWith('CHANGE#') && String(i.UpdateExpression).includes('#status = :status'))
    .map((i) => i.ExpressionAttributeValues as Record<string, unknown>);
}

/** Bookkeeping set on the change item by name (createAttemptedAt, createdId, loggedAt). */
export function progressWrites(h: ReturnType<typeof harness>): string[] {
  return h.ddbMock
    .commandCalls(UpdateCommand)
    .map((c) => c.args[0].input)
    .filter((i) => (i.Key as { sk?: string } | undefined)?.sk?.startsWith('CHANGE#') && i.UpdateExpression === 'SET #a = :v')
    .map((i) => String((i.ExpressionAttributeNames as Record<string, string>)['#a']));
}
