import { APPOINTMENT_FIELDS, MappingValidationError, mapAppointment, readTeamSyncConfig } from '../../../shared/mapping';
import { appointment, context, withoutKeys } from './fixtures';

describe('mapAppointment', () => {
  it('maps every supported field to its user-facing name', () => {
    const record = mapAppointment(appointment(), context());

    expect(record.fields).toEqual({
      Patient: 'DOJA000001',
      Provider: '263812',
      'Appt Profile': 'Annual Physical',
      'Appt Status': 'Complete',
      'Date of Service': '2024-01-15T09:30:00',
      Reason: 'Annual checkup',
      Duration: 30,
      'Claim ID': '246813579',
    });
    expect(record.fieldsWritten).toEqual([...APPOINTMENT_FIELDS]);
    expect(record).toMatchObject({ entity: 'appointment', key: '246813579', drchronoId: '246813579', deleted: false });
  });

  it('points Patient at the patient record key (Chart ID) and keeps the DrChrono patient id as bookkeeping', () => {
    const record = mapAppointment(appointment({ patient: 42 }), context({ patientChartIds: new Map([[42, 'SMJO000042']]) }));
    expect(record.fields.Patient).toBe('SMJO000042');
    expect(record.patientDrchronoId).toBe('42');
  });

  it('clears Patient when the Chart ID of the appointment\'s patient is not resolved, so it never names a previous patient', () => {
    const record = mapAppointment(appointment({ patient: 42 }), context());
    expect(record.fieldsWritten).toContain('Patient');
    expect(record.fields.Patient).toBeNull();
    expect(record.fieldsSkipped).toEqual([]);
    expect(record.patientDrchronoId).toBe('42');
  });

  it('keeps the profile id the label came from (null without a profile, absent when the label is not written)', () => {
    expect(mapAppointment(appointment({ profile: 447201 }), context()).profileId).toBe(447201);
    expect(mapAppointment(appointment({ profile: null }), context()).profileId).toBeNull();
    const config = readTeamSyncConfig({ syncFields: { appointment: ['Claim ID'] } });
    expect(mapAppointment(appointment({ profile: 447201 }), { ...context(), config }).profileId).toBeUndefined();
  });

  it('stamps the stored patient version the Chart ID was read from, and none when Patient is not written', () => {
    const ctx = context({ patientChartIds: new Map([[42, 'SMJO000042']]), patientVersions: new Map([[42, 'u#v1']]) });
    expect(mapAppointment(appointment({ patient: 42 }), ctx).patientVersion).toBe('u#v1');
    const config = readTeamSyncConfig({ syncFields: { appointment: ['Claim ID'] } });
    expect(mapAppointment(appointment({ patient: 42 }), { ...ctx, config }).patientVersion).toBeUndefined();
  });

  it('maps an appointment whose timestamps carry a UTC offset, versioned by the wall clock they state', () => {
    const record = mapAppointment(appointment({ updated_at: '2024-01-15T10:30:00.25-05:00', scheduled_time: '2024-01-16T09:30:00Z' }), context());
    expect(record.version.updatedAt).toBe('2024-01-15T10:30:00.250000000');
    expect(record.fields['Date of Service']).toBe('2024-01-16T09:30:00Z');
  });

  it('keeps a non-numeric appointment id with spaces, a slash and non-ASCII as the Claim ID and store id', () => {
    const record = mapAppointment(appointment({ id: 'Appt 7/B é' }), context());
    expect(record).toMatchObject({ drchronoId: 'Appt 7/B é', key: 'Appt 7/B é', fields: { 'Claim ID': 'Appt 7/B é' } });
  });

  it('keeps a numeric appointment id as the string Claim ID', () => {
    expect(mapAppointment(appointment({ id: 1234 }), context()).fields['Claim ID']).toBe('1234');
  });

  it('uses the team mapping of a profile by id over the profile name', () => {
    const config = readTeamSyncConfig({ syncChoices: { apptProfile: { '447201': 'Physical' } } });
    expect(mapAppointment(appointment(), context({ config })).fields['Appt Profile']).toBe('Physical');
  });

  it('uses the team mapping of a profile by name', () => {
    const config = readTeamSyncConfig({ syncChoices: { apptProfile: { 'Annual Physical': 'Yearly' } } });
    expect(mapAppointment(appointment(), context({ config })).fields['Appt Profile']).toBe('Yearly');
  });

  it('skips Appt Profile when the profile id is unknown', () => {
    expect(mapAppointment(appointment({ profile: 1 }), context()).fieldsSkipped).toEqual(['Appt Profile']);
  });

  it('clears Appt Profile when the appointment has none', () => {
    expect(mapAppointment(appointment({ profile: null }), context()).fields['Appt Profile']).toBeNull();
  });

  it('keeps a custom status as DrChrono sends it', () => {
    expect(mapAppointment(appointment({ status: 'Waiting on labs' }), context()).fields['Appt Status']).toBe('Waiting on labs');
  });

  it('maps a status through the team choice list', () => {
    const config = readTeamSyncConfig({ syncChoices: { apptStatus: { Complete: 'Done' } } });
    expect(mapAppointment(appointment(), context({ config })).fields['Appt Status']).toBe('Done');
  });

  it('clears Reason and Appt Status when DrChrono sends them empty', () => {
    const fields = mapAppointment(appointment({ reason: '', status: '' }), context()).fields;
    expect([fields.Reason, fields['Appt Status']]).toEqual([null, null]);
  });

  it('skips a break with nothing to write', () => {
    const record = mapAppointment(appointment({ appt_is_break: true, patient: null }), context());
    expect(record).toMatchObject({ skipReason: 'break', fieldsWritten: [], fields: {} });
  });

  it('treats an appointment without a patient as a break', () => {
    expect(mapAppointment(appointment({ patient: null }), context()).skipReason).toBe('break');
  });

  it('maps APPOINTMENT_DELETE to a deletion carrying only the Claim ID', () => {
    const record = mapAppointment({ id: '246813579' }, context({ event: 'APPOINTMENT_DELETE' }));
    expect(record).toMatchObject({ deleted: true, fields: { 'Claim ID': '246813579' }, key: '246813579' });
    expect(record.version.updatedAt).toBeNull();
  });

  it('maps a deleted_flag appointment to a deletion', () => {
    expect(mapAppointment(appointment({ deleted_flag: true }), context({ event: 'APPOINTMENT_MODIFY' })).deleted).toBe(true);
  });

  it('versions by updated_at', () => {
    expect(mapAppointment(appointment(), context()).version.updatedAt).toBe('2024-01-15T10:30:00.000000000');
  });

  it('rejects an appointment without a scheduled time', () => {
    expect(() => mapAppointment(withoutKeys(appointment(), 'scheduled_time'), context())).toThrow(MappingValidationError);
  });
});
