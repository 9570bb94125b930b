import {
  DEFAULT_TEAM_SYNC_CONFIG,
  MappingValidationError,
  PATIENT_FIELDS,
  mapPatient,
  patientNeedsVerbose,
  readTeamSyncConfig,
  unresolvedFlagTypeIds,
} from '../../../shared/mapping';
import { context, patient, withoutKeys } from './fixtures';

describe('mapPatient', () => {
  it('maps every supported field of a verbose patient to its user-facing name', () => {
    const record = mapPatient(patient(), context());

    expect(record.fields).toEqual({
      'Dr Chrono ID': '104857601',
      'Chart ID': 'DOJA000001',
      'First Name': 'Jane',
      'Middle Name': 'Marie',
      'Last Name': 'Doe',
      'Date of Birth': '1985-06-15',
      Sex: 'Female',
      'Patient SSN': '123-45-6789',
      Language: 'English',
      Status: 'Active',
      'Home Phone': '(555) 555-0100',
      'Cell Phone': '(555) 555-0101',
      Email: 'jane.doe@example.com',
      'Disable SMS/Txt': false,
      Address: '123 Main Street, San Francisco, CA 94107',
      'Emergency Contact Name': 'John Doe',
      'Emergency Contact Phone': '(555) 555-0102',
      'Emergency Contact Relation': 'Spouse',
      'Primary Provider': '263812',
      'Patient Flags': ['VIP'],
      'Patient Flags and Descriptions': ['VIP: Prefers morning appointments'],
      'Date of Last Appointment': '2024-01-15',
      'Insurance Company': 'Blue Cross Blue Shield',
      'Insurance ID Number': 'INS123456',
      'Insurance Group Number': 'GRP7890',
      'Secondary Insurance': 'Aetna',
      'Secondary Insurance ID Number': 'W987654321',
      'Secondary Insurance Group Number': 'G-4455',
      'Responsible Party Name': 'John Doe',
      'Responsible Party Relation': 'Spouse',
      'Responsible Party Email': 'john.doe@example.com',
      'Responsible Party Phone': '(555) 555-0102',
    });
    expect(record.fieldsWritten).toEqual([...PATIENT_FIELDS]);
    expect(record.fieldsSkipped).toEqual([]);
  });

  it('keys the record by Chart ID and keeps the DrChrono id as the store id', () => {
    const record = mapPatient(patient({ chart_id: 'NEW-CHART' }), context());
    expect(record).toMatchObject({ entity: 'patient', key: 'NEW-CHART', drchronoId: '104857601' });
  });

  it('versions the record by updated_at, normalised to a fixed width, as a delivered state', () => {
    expect(mapPatient(patient(), context()).version).toEqual({
      updatedAt: '2024-01-15T10:30:00.000000000',
      observedAt: '2024-01-16T12:00:00.000Z',
      authority: 'delivered',
    });
  });

  it('versions a patient fetched by id with the fetch authority', () => {
    expect(mapPatient(patient(), context({ authority: 'fetched' })).version.authority).toBe('fetched');
  });

  it('falls back to the observation time when updated_at is missing', () => {
    const record = mapPatient(withoutKeys(patient(), 'updated_at'), context({ observedAt: '2024-02-01T08:00:00Z' }));
    expect(record.version).toEqual({ updatedAt: null, observedAt: '2024-02-01T08:00:00.000Z', authority: 'delivered' });
  });

  it.each([
    ['A', 'Active'],
    ['I', 'Inactive'],
    ['D', 'Inactive - Deceased'],
  ])('labels status %s as %s', (code, label) => {
    expect(mapPatient(patient({ patient_status: code }), context()).fields.Status).toBe(label);
  });

  it.each([
    ['eng', 'English'],
    ['spa', 'Spanish'],
    ['blank', 'Blank'],
    ['zho', 'Chinese'],
    ['fra', 'French'],
    ['rus', 'Russian'],
    ['other', 'Other'],
    ['unknown', 'Unknown'],
    ['declined', 'Declined'],
  ])('labels language %s as %s', (code, label) => {
    expect(mapPatient(patient({ preferred_language: code }), context()).fields.Language).toBe(label);
  });

  it('keeps a language code that has no English name as the code', () => {
    expect(mapPatient(patient({ preferred_language: 'qqq' }), context()).fields.Language).toBe('qqq');
  });

  it.each([
    ['Male', 'Male'],
    ['Female', 'Female'],
    ['Other', 'Other'],
    ['UNK', 'Unknown'],
    ['ASKU', 'Asked but unknown'],
  ])('labels sex %s as %s', (code, label) => {
    expect(mapPatient(patient({ gender: code }), context()).fields.Sex).toBe(label);
  });

  it('uses the team choice list over the default labels', () => {
    const config = readTeamSyncConfig({ syncChoices: { status: { A: 'Current' }, sex: { Female: 'F' }, language: { eng: 'EN' } } });
    const fields = mapPatient(patient(), context({ config })).fields;
    expect([fields.Status, fields.Sex, fields.Language]).toEqual(['Current', 'F', 'EN']);
  });

  it('clears a field DrChrono sends empty instead of ignoring it', () => {
    const fields = mapPatient(patient({ email: '', middle_name: null, gender: '', date_of_birth: '' }), context()).fields;
    expect([fields.Email, fields['Middle Name'], fields.Sex, fields['Date of Birth']]).toEqual([null, null, null, null]);
  });

  it('skips, not clears, a field whose source is absent from the object', () => {
    const record = mapPatient(withoutKeys(patient(), 'email', 'cell_phone'), context());
    expect(record.fieldsSkipped).toEqual(['Cell Phone', 'Email']);
    expect(record.fields).not.toHaveProperty('Email');
  });

  it('composes Address from street, city, state and zip, leaving blank parts out', () => {
    const fields = mapPatient(patient({ city: '', zip_code: null }), context()).fields;
    expect(fields.Address).toBe('123 Main Street, CA');
  });

  it('clears Address when every part is blank', () => {
    expect(mapPatient(patient({ address: '', city: '', state: '', zip_code: '' }), context()).fields.Address).toBeNull();
  });

  it('points Primary Provider at the Employee key (the Chrono Doctor ID)', () => {
    expect(mapPatient(patient({ doctor: 999 }), context()).fields['Primary Provider']).toBe('999');
  });

  it('skips archived flags', () => {
    const attached = [
      { id: 1, flag_type: 5521, flag_text: 'Prefers mornings', archived: false },
      { id: 2, flag_type: 5521, flag_text: 'Old note', archived: true },
    ];
    const fields = mapPatient(patient({ patient_flags_attached: attached }), context()).fields;
    expect(fields['Patient Flags and Descriptions']).toEqual(['VIP: Prefers mornings']);
  });

  it('names flags from the team flag types when the object lacks patient_flags', () => {
    const obj = withoutKeys(patient({ patient_flags_attached: [{ id: 3, flag_type: 77, flag_text: '', archived: false }] }), 'patient_flags');
    const fields = mapPatient(obj, context({ flagTypeNames: new Map([[77, 'Fall risk']]) })).fields;
    expect([fields['Patient Flags'], fields['Patient Flags and Descriptions']]).toEqual([['Fall risk'], ['Fall risk']]);
  });

  it('leaves the flag fields as stored when a flag type cannot be named', () => {
    const obj = patient({ patient_flags_attached: [{ id: 3, flag_type: 77, flag_text: 'x', archived: false }] });
    const record = mapPatient(obj, context());
    expect(record.fieldsSkipped).toEqual(['Patient Flags', 'Patient Flags and Descriptions']);
  });

  it('clears the flag fields when no flag is attached', () => {
    const fields = mapPatient(patient({ patient_flags_attached: [] }), context()).fields;
    expect([fields['Patient Flags'], fields['Patient Flags and Descriptions']]).toEqual([null, null]);
  });

  it('clears the insurance fields when the patient has no secondary insurance', () => {
    const fields = mapPatient(patient({ secondary_insurance: {} }), context()).fields;
    expect([fields['Secondary Insurance'], fields['Secondary Insurance ID Number'], fields['Secondary Insurance Group Number']]).toEqual([
      null,
      null,
      null,
    ]);
  });

  it('skips insurance and flag fields of a non-verbose object rather than clearing them', () => {
    const obj = withoutKeys(patient(), 'primary_insurance', 'secondary_insurance', 'patient_flags', 'patient_flags_attached');
    const record = mapPatient(obj, context());
    expect(record.fieldsSkipped).toEqual([
      'Patient Flags',
      'Patient Flags and Descriptions',
      'Insurance Company',
      'Insurance ID Number',
      'Insurance Group Number',
      'Secondary Insurance',
      'Secondary Insurance ID Number',
      'Secondary Insurance Group Number',
    ]);
  });

  it('writes only the fields the team has and reports the rest as skipped', () => {
    const config = readTeamSyncConfig({ syncFields: { patient: ['Chart ID', 'First Name'] } });
    const record = mapPatient(patient(), context({ config }));
    expect(record.fields).toEqual({ 'Chart ID': 'DOJA000001', 'First Name': 'Jane' });
    expect(record.fieldsSkipped).toHaveLength(PATIENT_FIELDS.length - 2);
    expect(record.fieldsSkipped).toContain('Patient SSN');
  });

  it('rejects an object without an id with an error that carries no field values', () => {
    const obj = withoutKeys(patient({ date_of_birth: 'June 15th 1985' }), 'id');
    const run = () => mapPatient(obj, context());
    expect(run).toThrow(MappingValidationError);
    expect(run).toThrow(/id/);
    expect(run).not.toThrow(/June/);
  });
});

describe('patientNeedsVerbose', () => {
  const lean = withoutKeys(patient(), 'primary_insurance', 'secondary_insurance', 'patient_flags', 'patient_flags_attached');

  it('is true when the team maps insurance and the object lacks it', () => {
    const config = readTeamSyncConfig({ syncFields: { patient: ['Insurance Company'] } });
    expect(patientNeedsVerbose(lean, config)).toBe(true);
  });

  it('is true when the team maps flags and the object lacks them', () => {
    const config = readTeamSyncConfig({ syncFields: { patient: ['Patient Flags'] } });
    expect(patientNeedsVerbose(lean, config)).toBe(true);
  });

  it('is false when the team maps no verbose-only field', () => {
    const config = readTeamSyncConfig({ syncFields: { patient: ['First Name', 'Email'] } });
    expect(patientNeedsVerbose(lean, config)).toBe(false);
  });

  it('is false when the object already carries the verbose fields', () => {
    expect(patientNeedsVerbose(patient(), DEFAULT_TEAM_SYNC_CONFIG)).toBe(false);
  });
});

describe('unresolvedFlagTypeIds', () => {
  const obj = withoutKeys(
    patient({
      patient_flags_attached: [
        { id: 1, flag_type: 77, flag_text: '', archived: false },
        { id: 2, flag_type: 78, flag_text: '', archived: true },
        { id: 3, flag_type: 79, flag_text: '', archived: false },
      ],
    }),
    'patient_flags',
  );

  it('lists live flag types no known name covers', () => {
    expect(unresolvedFlagTypeIds(obj, DEFAULT_TEAM_SYNC_CONFIG, new Map([[79, 'Known']]))).toEqual([77]);
  });

  it('lists none when the team maps no flag field', () => {
    const config = readTeamSyncConfig({ syncFields: { patient: ['First Name'] } });
    expect(unresolvedFlagTypeIds(obj, config, new Map())).toEqual([]);
  });
});
