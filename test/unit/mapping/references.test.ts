import { mapAppointment, mapEmployee, mapPatient, needsProfileNames, readTeamSyncConfig, referencedDoctorIds } from '../../../shared/mapping';
import { appointment, context, doctor, patient } from './fixtures';

describe('referencedDoctorIds', () => {
  it("names a patient's Primary Provider", () => {
    expect(referencedDoctorIds(mapPatient(patient({ doctor: 5 }), context()))).toEqual(['5']);
  });

  it("names an appointment's Provider", () => {
    expect(referencedDoctorIds(mapAppointment(appointment({ doctor: 6 }), context()))).toEqual(['6']);
  });

  it('names none when the team does not map the reference', () => {
    const config = readTeamSyncConfig({ syncFields: { patient: ['First Name'] } });
    expect(referencedDoctorIds(mapPatient(patient(), context({ config })))).toEqual([]);
  });

  it('names none when the team keeps no employee fields', () => {
    const config = readTeamSyncConfig({ syncFields: { employee: [] } });
    expect(referencedDoctorIds(mapPatient(patient(), context({ config })), config)).toEqual([]);
  });

  it('names none for an employee', () => {
    expect(referencedDoctorIds(mapEmployee(doctor(), context()))).toEqual([]);
  });
});

describe('needsProfileNames', () => {
  it('is true only when the team maps Appt Profile', () => {
    expect(needsProfileNames(readTeamSyncConfig({}))).toBe(true);
    expect(needsProfileNames(readTeamSyncConfig({ syncFields: { appointment: ['Claim ID'] } }))).toBe(false);
  });
});
