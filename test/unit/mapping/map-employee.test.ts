import { EMPLOYEE_FIELDS, mapEmployee, readTeamSyncConfig } from '../../../shared/mapping';
import { context, doctor, withoutKeys } from './fixtures';

describe('mapEmployee', () => {
  it('maps every supported field of a doctor to its user-facing name', () => {
    const record = mapEmployee(doctor(), context());

    expect(record.fields).toEqual({
      'First Name': 'Alex',
      'Last Name': 'Smith',
      'Work Phone': '(555) 555-0110',
      'Personal Phone': '(555) 555-0111',
      'Chrono Doctor ID': '263812',
      NPI: '1234567893',
      'Work Email': 'alex.smith@example-clinic.com',
    });
    expect(record.fieldsWritten).toEqual([...EMPLOYEE_FIELDS]);
    expect(record).toMatchObject({ entity: 'employee', key: '263812', drchronoId: '263812' });
  });

  it('falls back to home_phone for Personal Phone when cell_phone is empty', () => {
    expect(mapEmployee(doctor({ cell_phone: '', home_phone: '(555) 555-0199' }), context()).fields['Personal Phone']).toBe('(555) 555-0199');
  });

  it('clears Personal Phone when both phones are empty', () => {
    expect(mapEmployee(doctor({ cell_phone: '', home_phone: null }), context()).fields['Personal Phone']).toBeNull();
  });

  it('falls back to group_npi_number for NPI', () => {
    expect(mapEmployee(doctor({ npi_number: '' }), context()).fields.NPI).toBe('1987654320');
  });

  it('skips NPI when neither NPI source is present', () => {
    expect(mapEmployee(withoutKeys(doctor(), 'npi_number', 'group_npi_number'), context()).fieldsSkipped).toEqual(['NPI']);
  });

  it('versions a doctor by its fetch time, as doctors carry no updated_at', () => {
    expect(mapEmployee(doctor(), context({ observedAt: '2024-03-01T00:00:00Z' })).version).toEqual({
      updatedAt: null,
      observedAt: '2024-03-01T00:00:00.000Z',
      authority: 'fetched',
    });
  });

  it('writes only the employee fields the team has', () => {
    const config = readTeamSyncConfig({ syncFields: { employee: ['NPI'] } });
    expect(mapEmployee(doctor(), context({ config })).fields).toEqual({ NPI: '1234567893' });
  });
});
