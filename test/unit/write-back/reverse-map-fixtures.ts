import { DEFAULT_TEAM_SYNC_CONFIG, readTeamSyncConfig, type TeamSyncConfig } from '../../../shared/mapping';
import type { WriteDefaults, WriteLookups, WriteRequest } from '../../../shared/write-back/reverse-map';

/** Values the stub lookups know: one patient, one doctor, the fixture's profile, one office per doctor. */
export const CHART_ID = 'DOJA000001';
export const PATIENT_ID = '104857601';
export const DOCTOR_ID = '263812';
export const PROFILE_ID = 447201;
export const OFFICE_ID = 118732;

export interface StubLookups extends WriteLookups {
  calls: { patientIdByChartId: string[]; doctorExists: string[]; appointmentProfiles: number; officesOfDoctor: string[] };
}

export function stubLookups(
  overrides: {
    patients?: Record<string, string>;
    doctors?: string[];
    profiles?: ReadonlyMap<number, string>;
    offices?: Record<string, number[]>;
  } = {},
): StubLookups {
  const patients = overrides.patients ?? { [CHART_ID]: PATIENT_ID };
  const doctors = new Set(overrides.doctors ?? [DOCTOR_ID]);
  const profiles = overrides.profiles ?? new Map([[PROFILE_ID, 'Annual Physical']]);
  const offices = overrides.offices ?? { [DOCTOR_ID]: [OFFICE_ID] };
  const calls: StubLookups['calls'] = { patientIdByChartId: [], doctorExists: [], appointmentProfiles: 0, officesOfDoctor: [] };
  return {
    calls,
    patientIdByChartId: async (chartId) => {
      calls.patientIdByChartId.push(chartId);
      return Object.hasOwn(patients, chartId) ? patients[chartId] : undefined;
    },
    doctorExists: async (doctorId) => {
      calls.doctorExists.push(doctorId);
      return doctors.has(doctorId);
    },
    appointmentProfiles: async () => {
      calls.appointmentProfiles += 1;
      return profiles;
    },
    officesOfDoctor: async (doctorId) => {
      calls.officesOfDoctor.push(doctorId);
      return offices[doctorId] ?? [];
    },
  };
}

export function planContext(
  overrides: { config?: TeamSyncConfig; defaults?: WriteDefaults; lookups?: WriteLookups } = {},
): { config: TeamSyncConfig; defaults: WriteDefaults; lookups: WriteLookups } {
  return {
    config: overrides.config ?? structuredClone(DEFAULT_TEAM_SYNC_CONFIG),
    defaults: overrides.defaults ?? {},
    lookups: overrides.lookups ?? stubLookups(),
  };
}

/** A team config from the team item attributes `team fields` / `team choices` store. */
export const teamConfig = (item: Record<string, unknown>): TeamSyncConfig => readTeamSyncConfig(item);

export const patientUpdate = (fields: Record<string, unknown>): WriteRequest => ({ entity: 'patient', op: 'update', key: CHART_ID, fields });
export const patientUpsert = (fields: Record<string, unknown>): WriteRequest => ({ entity: 'patient', op: 'upsert', key: CHART_ID, fields });
export const appointmentUpdate = (fields: Record<string, unknown>): WriteRequest => ({ entity: 'appointment', op: 'update', key: '246813579', fields });
export const appointmentCreate = (fields: Record<string, unknown>): WriteRequest => ({ entity: 'appointment', op: 'create', key: null, fields });

/** A complete, valid appointment-create body (office and exam room from defaults or lookups). */
export const CREATE_BODY = { Patient: CHART_ID, Provider: DOCTOR_ID, 'Date of Service': '2026-12-01T09:00:00', Duration: 30 };
