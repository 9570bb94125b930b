import { mockClient } from 'aws-sdk-client-mock';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import appointmentJson from '../../fixtures/drchrono/appointment.json';
import doctorJson from '../../fixtures/drchrono/doctor.json';
import patientJson from '../../fixtures/drchrono/patient.json';
import type { Appointment, Doctor, Patient } from '../../../shared/drchrono/schemas';
import type { IngestMessage } from '../../../shared/ingest/ingest-message';
import type { ProcessDeps, SyncDrChronoApi } from '../../../shared/sync/process-ingest-message';
import { SyncContextCache } from '../../../shared/sync/sync-context';
import type { TeamSecret } from '../../../shared/teams/team-secret';

export const TEAM = '0b7c43a2-6d55-4a0e-9a51-7c1a1d3b9e10';
export const NOW = new Date('2026-11-21T10:15:00.000Z');

export const patientObj = (o: Record<string, unknown> = {}): Record<string, unknown> => ({ ...structuredClone(patientJson), ...o });
export const appointmentObj = (o: Record<string, unknown> = {}): Record<string, unknown> => ({ ...structuredClone(appointmentJson), ...o });
export const doctorObj = (o: Record<string, unknown> = {}): Record<string, unknown> => ({ ...structuredClone(doctorJson), ...o });

export function message(event: string, object: Record<string, unknown>, o: Partial<IngestMessage> = {}): IngestMessage {
  return {
    v: 1,
    teamId: TEAM,
    event,
    deliveryId: 'delivery-1',
    receivedAt: '2026-11-21T10:14:00.000Z',
    source: 'webhook',
    object: object as IngestMessage['object'],
    ...o,
  };
}

export function teamItem(o: Record<string, unknown> = {}): Record<string, unknown> {
  return { pk: TEAM, sk: 'TEAM', teamId: TEAM, status: 'connected', createdAt: 'x', updatedAt: 'x', ...o };
}

/** A DrChrono client double that charges the budget hook before each call, like the real one. */
export class FakeDrChrono implements SyncDrChronoApi {
  calls: string[] = [];
  tokens: string[] = [];
  patient: Record<string, unknown> = patientObj();
  appointment: Record<string, unknown> = appointmentObj();
  doctor: Record<string, unknown> = doctorObj();
  profiles = [{ id: 447201, name: 'Annual Physical' }];
  flagTypes = [{ id: 5521, name: 'VIP' }];
  /** Thrown by the next call(s), in order. */
  failures: Error[] = [];
  /** Tokens DrChrono accepts; others get the error from unauthorized(). */
  validTokens?: Set<string>;
  unauthorized?: () => Error;

  constructor(
    private readonly accessToken: () => Promise<string> = async () => 'token-1',
    private readonly beforeCall: () => Promise<void> = async () => undefined,
  ) {}

  private async call(name: string): Promise<void> {
    await this.beforeCall();
    const token = await this.accessToken();
    this.calls.push(name);
    this.tokens.push(token);
    const f = this.failures.shift();
    if (f) throw f;
    if (this.validTokens && !this.validTokens.has(token) && this.unauthorized) throw this.unauthorized();
  }
  /** The patient ids asked for, in order. */
  patientIds: string[] = [];
  async getPatient(id: number | string, o: { verbose?: boolean } = {}): Promise<Patient> {
    this.patientIds.push(String(id));
    await this.call(o.verbose ? 'getPatient(verbose)' : 'getPatient');
    return this.patient as Patient;
  }
  async getAppointment(): Promise<Appointment> {
    await this.call('getAppointment');
    return this.appointment as Appointment;
  }
  async getDoctor(): Promise<Doctor> {
    await this.call('getDoctor');
    return this.doctor as Doctor;
  }
  listAppointmentProfiles() {
    return this.list('listAppointmentProfiles', this.profiles);
  }
  listPatientFlagTypes() {
    return this.list('listPatientFlagTypes', this.flagTypes);
  }
  private list<T>(name: string, items: T[]): AsyncIterable<T> {
    const call = () => this.call(name);
    return {
      async *[Symbol.asyncIterator]() {
        await call();
        yield* items;
      },
    };
  }
}

export interface Harness {
  deps: ProcessDeps;
  ddbMock: ReturnType<typeof mockClient>;
  fake: FakeDrChrono;
  secret: { current: TeamSecret | null; reads: number };
}

/**
 * Process deps over a mocked DynamoDB: the team item from `team`, no stored records, every write accepted
 * (a record Update with no old item = created), the budget counter under its limit.
 */
export function harness(team: Record<string, unknown> | null = teamItem()): Harness {
  const ddb = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
  const ddbMock = mockClient(ddb);
  ddbMock.on(GetCommand).resolves({});
  ddbMock.on(GetCommand, { TableName: 'teams', Key: { pk: TEAM, sk: 'TEAM' } }).resolves({ Item: team ?? undefined });
  ddbMock.on(UpdateCommand).resolves({});
  ddbMock.on(UpdateCommand, { TableName: 'teams' }).resolves({ Attributes: { calls: 1 } });
  ddbMock.on(PutCommand).resolves({});
  ddbMock.on(QueryCommand).resolves({ Items: [] });
  const secret = { current: { clientId: 'c', clientSecret: 's', webhookSecret: 'w', accessToken: 'token-1', tokenVersion: 7 } as TeamSecret | null, reads: 0 };
  const fakeRef: { fake?: FakeDrChrono } = {};
  const shared = new FakeDrChrono();
  const deps: ProcessDeps = {
    ddb,
    teamsTable: 'teams',
    recordsTable: 'records',
    secrets: {
      get: async () => secret.current,
      refresh: async () => {
        secret.reads += 1;
        return secret.current;
      },
    },
    context: new SyncContextCache({ ddb: () => ddb, teamsTable: 'teams', now: () => NOW.getTime() }),
    drchrono: (o) => {
      // One fake per message, sharing the scripted state of `shared` so tests can prepare it up front.
      const f = Object.assign(new FakeDrChrono(o.accessToken, o.beforeCall), {
        patient: shared.patient,
        appointment: shared.appointment,
        doctor: shared.doctor,
        profiles: shared.profiles,
        flagTypes: shared.flagTypes,
        failures: shared.failures,
        calls: shared.calls,
        tokens: shared.tokens,
        patientIds: shared.patientIds,
      });
      f.validTokens = shared.validTokens;
      f.unauthorized = shared.unauthorized;
      fakeRef.fake = f;
      return f;
    },
    now: () => NOW,
  };
  return { deps, ddbMock, fake: shared, secret };
}
