/**
 * The user-facing field names, exactly as the integration guide spells them. They are also the attribute
 * names of the records table, so renaming one is a data migration.
 *
 * Each list's order is APPEND-ONLY: the integration log stores field lists as bitmasks over these positions
 * (FIELD_POSITIONS_BY_ENTITY), so reordering, inserting or removing a name changes the meaning of stored log
 * entries. Add a new field at the END of its entity's list, whatever group it belongs to.
 */
export const PATIENT_FIELDS = [
  // Identity
  'Dr Chrono ID',
  'Chart ID',
  'First Name',
  'Middle Name',
  'Last Name',
  'Date of Birth',
  'Sex',
  'Patient SSN',
  'Language',
  'Status',
  // Contact
  'Home Phone',
  'Cell Phone',
  'Email',
  'Disable SMS/Txt',
  'Address',
  // Emergency contact
  'Emergency Contact Name',
  'Emergency Contact Phone',
  'Emergency Contact Relation',
  // Care
  // A reference to an Employee record (the guide writes "Primary Provider (Employee)").
  'Primary Provider',
  'Patient Flags',
  'Patient Flags and Descriptions',
  'Date of Last Appointment',
  // Insurance
  'Insurance Company',
  'Insurance ID Number',
  'Insurance Group Number',
  'Secondary Insurance',
  'Secondary Insurance ID Number',
  'Secondary Insurance Group Number',
  // Responsible party
  'Responsible Party Name',
  'Responsible Party Relation',
  'Responsible Party Email',
  'Responsible Party Phone',
] as const;
export type PatientField = (typeof PATIENT_FIELDS)[number];

export const APPOINTMENT_FIELDS = [
  'Patient',
  'Provider',
  'Appt Profile',
  'Appt Status',
  'Date of Service',
  'Reason',
  'Duration',
  'Claim ID',
] as const;
export type AppointmentField = (typeof APPOINTMENT_FIELDS)[number];

export const EMPLOYEE_FIELDS = [
  'First Name',
  'Last Name',
  'Work Phone',
  'Personal Phone',
  'Chrono Doctor ID',
  'NPI',
  'Work Email',
] as const;
export type EmployeeField = (typeof EMPLOYEE_FIELDS)[number];

export const ENTITIES = ['patient', 'appointment', 'employee'] as const;
export type Entity = (typeof ENTITIES)[number];

export const FIELDS_BY_ENTITY: { readonly [E in Entity]: readonly string[] } = {
  patient: PATIENT_FIELDS,
  appointment: APPOINTMENT_FIELDS,
  employee: EMPLOYEE_FIELDS,
};

/** Each field's position in its entity's append-only list: the bit it occupies in a stored field mask. */
export const FIELD_POSITIONS_BY_ENTITY: { readonly [E in Entity]: ReadonlyMap<string, number> } = {
  patient: new Map(PATIENT_FIELDS.map((name, i) => [name, i])),
  appointment: new Map(APPOINTMENT_FIELDS.map((name, i) => [name, i])),
  employee: new Map(EMPLOYEE_FIELDS.map((name, i) => [name, i])),
};

/** Patient fields whose DrChrono source is only returned with `verbose=true`. */
export const PATIENT_INSURANCE_FIELDS = [
  'Insurance Company',
  'Insurance ID Number',
  'Insurance Group Number',
  'Secondary Insurance',
  'Secondary Insurance ID Number',
  'Secondary Insurance Group Number',
] as const satisfies readonly PatientField[];
export const PATIENT_FLAG_FIELDS = ['Patient Flags', 'Patient Flags and Descriptions'] as const satisfies readonly PatientField[];
