import appointmentJson from '../../fixtures/drchrono/appointment.json';
import doctorJson from '../../fixtures/drchrono/doctor.json';
import patientJson from '../../fixtures/drchrono/patient.json';
import { DEFAULT_TEAM_SYNC_CONFIG, type MappingContext, type TeamSyncConfig } from '../../../shared/mapping';

/** Fresh copies of the DrChrono-shaped fixtures, so a test's edits never leak into another. */
export const patient = (overrides: Record<string, unknown> = {}): Record<string, unknown> => ({ ...structuredClone(patientJson), ...overrides });
export const appointment = (overrides: Record<string, unknown> = {}): Record<string, unknown> => ({
  ...structuredClone(appointmentJson),
  ...overrides,
});
export const doctor = (overrides: Record<string, unknown> = {}): Record<string, unknown> => ({ ...structuredClone(doctorJson), ...overrides });

export function withoutKeys(obj: Record<string, unknown>, ...keys: string[]): Record<string, unknown> {
  const copy = { ...obj };
  for (const k of keys) delete copy[k];
  return copy;
}

export const OBSERVED_AT = '2024-01-16T12:00:00.000Z';

export function context(overrides: Partial<MappingContext> & { config?: TeamSyncConfig } = {}): MappingContext {
  return {
    config: structuredClone(DEFAULT_TEAM_SYNC_CONFIG),
    profileNames: new Map([[447201, 'Annual Physical']]),
    flagTypeNames: new Map(),
    patientChartIds: new Map([[104857601, 'DOJA000001']]),
    observedAt: OBSERVED_AT,
    ...overrides,
  };
}
