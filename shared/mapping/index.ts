// The mapping's public surface, name by name.
export {
  PATIENT_FIELDS,
  APPOINTMENT_FIELDS,
  EMPLOYEE_FIELDS,
  PATIENT_INSURANCE_FIELDS,
  PATIENT_FLAG_FIELDS,
  FIELDS_BY_ENTITY,
  ENTITIES,
} from './field-names';
export type { PatientField, AppointmentField, EmployeeField, Entity } from './field-names';
export {
  DEFAULT_TEAM_SYNC_CONFIG,
  DEFAULT_CHOICES,
  CHOICE_LISTS,
  SYNC_FIELDS_ATTRIBUTE,
  SYNC_CHOICES_ATTRIBUTE,
  TeamSyncConfigSchema,
  TeamSyncFieldsSchema,
  TeamSyncChoicesSchema,
  TeamSyncConfigError,
  readTeamSyncConfig,
} from './team-sync-config';
export type { TeamSyncConfig, TeamSyncFields, TeamSyncChoices, ChoiceList } from './team-sync-config';
export { MappingValidationError } from './mapped-record';
export type { MappedRecord, MappingContext, FieldValue } from './mapped-record';
export { mapPatient, patientNeedsVerbose, unresolvedFlagTypeIds } from './map-patient';
export { mapAppointment, APPOINTMENT_DELETE_EVENT } from './map-appointment';
export { mapEmployee } from './map-employee';
export { referencedDoctorIds, needsProfileNames, mapsPatientFlags, flagEventPatientId } from './references';
