import { DEFAULT_TEAM_SYNC_CONFIG, PATIENT_FIELDS, TeamSyncConfigError, TeamSyncConfigSchema, readTeamSyncConfig } from '../../../shared/mapping';

describe('readTeamSyncConfig', () => {
  it('gives every supported field and the default choice lists to a team with no config', () => {
    expect(readTeamSyncConfig({ pk: 't', sk: 'TEAM' })).toEqual(DEFAULT_TEAM_SYNC_CONFIG);
  });

  it('treats a missing team item as the default config', () => {
    expect(readTeamSyncConfig(undefined).fields.patient).toEqual([...PATIENT_FIELDS]);
  });

  it('replaces the field list of an entity the team configured and keeps the others', () => {
    const config = readTeamSyncConfig({ syncFields: { appointment: ['Claim ID'] } });
    expect(config.fields.appointment).toEqual(['Claim ID']);
    expect(config.fields.patient).toEqual([...PATIENT_FIELDS]);
  });

  it('merges team choices over the defaults entry by entry', () => {
    const config = readTeamSyncConfig({ syncChoices: { status: { D: 'Deceased' } } });
    expect(config.choices.status).toEqual({ A: 'Active', I: 'Inactive', D: 'Deceased' });
  });

  it('rejects an unknown field name', () => {
    expect(() => readTeamSyncConfig({ syncFields: { patient: ['Shoe Size'] } })).toThrow(TeamSyncConfigError);
  });

  it('rejects a duplicated field name', () => {
    expect(() => readTeamSyncConfig({ syncFields: { employee: ['NPI', 'NPI'] } })).toThrow(/duplicate/);
  });

  it('rejects an unknown choice list', () => {
    expect(() => readTeamSyncConfig({ syncChoices: { race: { white: 'White' } } })).toThrow(TeamSyncConfigError);
  });

  it('names the rule each problem breaks, in English (zod/mini has no messages unless a locale is loaded)', () => {
    expect(() => readTeamSyncConfig({ syncChoices: { race: { white: 'White' } } })).toThrow('invalid syncChoices: (root): Unrecognized key: "race"');
    expect(() => readTeamSyncConfig({ syncFields: { patient: 'Email' } })).toThrow('invalid syncFields: patient: Invalid input: expected array, received string');
  });

  it('produces configs its own schema accepts', () => {
    expect(TeamSyncConfigSchema.safeParse(readTeamSyncConfig({ syncFields: { patient: ['Email'] } })).success).toBe(true);
  });
});
