import type { MappedRecord } from './mapped-record';
import type { TeamSyncConfig } from './team-sync-config';

/**
 * Chrono Doctor IDs a record points at (Primary Provider, Provider) that the Employee records must hold.
 * With a config whose employee field set is empty, none: the team keeps no employees, so fetch none.
 */
export function referencedDoctorIds(record: MappedRecord, config?: TeamSyncConfig): string[] {
  if (config && config.fields.employee.length === 0) return [];
  const field = record.entity === 'patient' ? 'Primary Provider' : record.entity === 'appointment' ? 'Provider' : undefined;
  const id = field === undefined ? undefined : record.fields[field];
  return typeof id === 'string' ? [id] : [];
}

/** Whether mapping appointments needs the team's appointment profile names at all. */
export function needsProfileNames(config: TeamSyncConfig): boolean {
  return config.fields.appointment.includes('Appt Profile');
}
