import fc from 'fast-check';
import {
  DEFAULT_TEAM_SYNC_CONFIG,
  mapAppointment,
  mapPatient,
  type FieldValue,
  type MappingContext,
  type TeamSyncConfig,
} from '../../../shared/mapping';
import { DRCHRONO_APPT_STATUSES, DRCHRONO_GENDERS, DRCHRONO_LANGUAGES } from '../../../shared/mapping/choice-labels';
import { DRCHRONO_STATE_CODES } from '../../../shared/write-back/address-parts';
import { WRITABLE_FIELDS, planWrite } from '../../../shared/write-back/reverse-map';
import { stubLookups } from './reverse-map-fixtures';

/**
 * Round trip: for a generated DrChrono object and team config, the record the forward mapping shows, written
 * back through planWrite, yields a payload whose forward mapping shows the same values again.
 */

/** Seeded: FC_SEED reproduces a run; fast-check prints the seed and the shrunk counterexample on failure. */
const seed = Number(process.env.FC_SEED) || Date.now() % 2 ** 31;

const OBSERVED_AT = '2026-11-30T08:00:00.000Z';
const UPDATED_AT = '2026-11-29T10:00:00';
const DOCTORS = [263812, 263813, 9];

/** Fields DrChrono has no empty value for: a record showing them empty is not written back empty. */
const NOT_CLEARABLE = new Set(['Status', 'Language', 'Disable SMS/Txt', 'Primary Provider', 'Patient', 'Provider', 'Date of Service', 'Duration']);

/** Text as DrChrono may hold it: empty, null, blanks, separators, any characters; within the 255 cap. */
const textArb = fc.oneof(fc.constant(''), fc.constant(null), fc.string({ maxLength: 30 }), fc.string({ unit: 'binary', maxLength: 10 }));
const addressPartArb = (extra: fc.Arbitrary<string>) =>
  fc.oneof(textArb, extra, fc.string({ unit: fc.constantFrom(',', ' ', 'a', '1', 'CA', '94107'), maxLength: 6 }));
const pastDateArb = fc
  .date({ min: new Date('1900-01-01T00:00:00Z'), max: new Date('2025-12-31T00:00:00Z'), noInvalidDate: true })
  .map((d) => d.toISOString().slice(0, 10));
const wallClockArb = fc
  .date({ min: new Date('2020-01-01T00:00:00Z'), max: new Date('2030-12-31T23:59:59Z'), noInvalidDate: true })
  .map((d) => d.toISOString().slice(0, 19));

/** Team labels for some codes: distinct, and unlike any default label, so every label names one code. */
function labelOverrides(codes: readonly string[], tag: string): fc.Arbitrary<Record<string, string>> {
  return fc.subarray([...codes]).map((picked) => Object.fromEntries(picked.map((code, i) => [code, `${tag}${i} ${code.toLowerCase()}`])));
}

const choicesArb = fc.record({
  status: labelOverrides(['A', 'I', 'D'], 'S'),
  sex: labelOverrides(DRCHRONO_GENDERS, 'G'),
  language: fc.tuple(labelOverrides(DRCHRONO_LANGUAGES, 'L'), fc.boolean()).map(([o, withDeu]) => (withDeu ? { ...o, deu: 'Deutsch (team)' } : o)),
  customStatuses: fc.subarray(['Waiting Room', 'Vitals Taken']),
  apptStatus: labelOverrides(DRCHRONO_APPT_STATUSES, 'T'),
});

type GeneratedChoices = typeof choicesArb extends fc.Arbitrary<infer T> ? T : never;

function configWith(choices: GeneratedChoices, apptProfile: Record<string, string>): TeamSyncConfig {
  const d = DEFAULT_TEAM_SYNC_CONFIG;
  return {
    fields: structuredClone(d.fields),
    choices: {
      status: { ...d.choices.status, ...choices.status },
      sex: { ...d.choices.sex, ...choices.sex },
      language: { ...d.choices.language, ...choices.language },
      apptProfile,
      // A custom status is writable once the team lists it (here: as itself).
      apptStatus: { ...choices.apptStatus, ...Object.fromEntries(choices.customStatuses.map((s) => [s, s])) },
    },
  };
}

const patientArb = fc.record({
  id: fc.integer({ min: 1, max: 2 ** 31 }),
  chart_id: fc.constant('CHART0001'),
  doctor: fc.constantFrom(...DOCTORS),
  first_name: textArb,
  middle_name: textArb,
  last_name: textArb,
  date_of_birth: fc.oneof(pastDateArb, fc.constant(null), fc.constant('')),
  gender: fc.constantFrom('', ...DRCHRONO_GENDERS),
  social_security_number: textArb,
  preferred_language: fc.constantFrom('', 'deu', ...DRCHRONO_LANGUAGES),
  patient_status: fc.constantFrom('A', 'I', 'D'),
  home_phone: textArb,
  cell_phone: textArb,
  email: textArb,
  disable_sms_messages: fc.oneof(fc.boolean(), fc.constant(null)),
  address: addressPartArb(fc.constantFrom('123 Main Street', 'Apt 4, 12 Oak Ave')),
  city: addressPartArb(fc.constantFrom('San Francisco', 'CA')),
  state: addressPartArb(fc.constantFrom(...DRCHRONO_STATE_CODES)),
  zip_code: addressPartArb(fc.constantFrom('94107', '94107-1234')),
  emergency_contact_name: textArb,
  emergency_contact_phone: textArb,
  emergency_contact_relation: textArb,
  responsible_party_name: textArb,
  responsible_party_relation: textArb,
  responsible_party_email: textArb,
  responsible_party_phone: textArb,
  updated_at: fc.constant(UPDATED_AT),
});

function forwardContext(config: TeamSyncConfig, extra: Partial<MappingContext> = {}): MappingContext {
  return { config, profileNames: new Map(), flagTypeNames: new Map(), observedAt: OBSERVED_AT, ...extra };
}

/** The body an app would send to write back what the record shows: every writable field it can carry. */
function bodyFrom(entity: 'patient' | 'appointment', record: Record<string, FieldValue>): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const name of Object.keys(WRITABLE_FIELDS[entity])) {
    if (!Object.hasOwn(record, name)) continue;
    const value = record[name];
    if (value === null && NOT_CLEARABLE.has(name)) continue;
    body[name] = value;
  }
  return body;
}

describe('reverse mapping round trip', () => {
  it('gives back every patient field value the record shows (labels, address, references, clears)', async () => {
    await fc.assert(
      fc.asyncProperty(patientArb, choicesArb, fc.constantFrom('update' as const, 'upsert' as const), async (obj, choices, op) => {
        // A code beyond DrChrono's enum is writable only once the team lists it (docs/write-back.md).
        fc.pre(obj.preferred_language !== 'deu' || Object.hasOwn(choices.language, 'deu'));
        const config = configWith(choices, {});
        const record = mapPatient(obj, forwardContext(config)).fields;
        const body = bodyFrom('patient', record);
        const plan = await planWrite(
          { entity: 'patient', op, key: 'CHART0001', fields: body },
          { config, defaults: {}, lookups: stubLookups({ doctors: DOCTORS.map(String) }) },
        );
        if (!plan.ok) throw new Error(`problems: ${JSON.stringify(plan.problems)}`);
        // Applied over a different patient, the payload alone must carry every value back.
        const applied = { id: obj.id, chart_id: 'CHART0001', doctor: 1, updated_at: UPDATED_AT, ...plan.payload };
        const again = mapPatient(applied, forwardContext(config)).fields;
        for (const name of Object.keys(body)) expect([name, again[name]]).toEqual([name, record[name]]);
        expect(plan.fieldsWritten).toEqual(Object.keys(body));
      }),
      { seed, numRuns: 400 },
    );
  });

  it('gives back every appointment field value the record shows (Patient, Provider, profile and status labels)', async () => {
    const profileArb = fc.uniqueArray(fc.stringMatching(/^[A-Z][a-z]{2,8}( [A-Z][a-z]{2,8})?$/), { minLength: 1, maxLength: 4 });
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          choices: choicesArb,
          profileNames: profileArb,
          labelBy: fc.array(fc.constantFrom('none', 'id', 'name'), { minLength: 4, maxLength: 4 }),
          profilePick: fc.nat(),
          noProfile: fc.boolean(),
          status: fc.oneof(fc.constantFrom('', ...DRCHRONO_APPT_STATUSES), fc.constantFrom('Waiting Room', 'Vitals Taken')),
          scheduled: wallClockArb,
          reason: textArb,
          duration: fc.oneof(fc.integer({ min: 1, max: 24 * 60 }), fc.constant(null)),
          doctor: fc.constantFrom(...DOCTORS),
        }),
        async (g) => {
          fc.pre(!['Waiting Room', 'Vitals Taken'].includes(g.status) || g.choices.customStatuses.includes(g.status));
          const profiles = new Map(g.profileNames.map((name, i) => [1000 + i, name]));
          const apptProfile: Record<string, string> = {};
          g.profileNames.forEach((name, i) => {
            if (g.labelBy[i] === 'id') apptProfile[String(1000 + i)] = `P${i} by id`;
            if (g.labelBy[i] === 'name') apptProfile[name] = `P${i} by name`;
          });
          const config = configWith(g.choices, apptProfile);
          const obj = {
            id: '246813579',
            patient: 104857601,
            doctor: g.doctor,
            profile: g.noProfile ? null : 1000 + (g.profilePick % profiles.size),
            status: g.status,
            scheduled_time: g.scheduled,
            reason: g.reason,
            duration: g.duration,
            updated_at: UPDATED_AT,
          };
          const fwd = (o: Record<string, unknown>) =>
            mapAppointment(o, forwardContext(config, { profileNames: profiles, patientChartIds: new Map([[104857601, 'DOJA000001'], [5, 'OTHER5']]) })).fields;
          const record = fwd(obj);
          const body = bodyFrom('appointment', record);
          const lookups = stubLookups({ doctors: DOCTORS.map(String), profiles, patients: { DOJA000001: '104857601', OTHER5: '5' } });
          const plan = await planWrite({ entity: 'appointment', op: 'update', key: '246813579', fields: body }, { config, defaults: {}, lookups });
          if (!plan.ok) throw new Error(`problems: ${JSON.stringify(plan.problems)}`);
          const base = { id: '246813579', patient: 5, doctor: 1, profile: null, status: 'Arrived', scheduled_time: '2019-01-01T00:00:00', updated_at: UPDATED_AT };
          const again = fwd({ ...base, ...plan.payload });
          for (const name of Object.keys(body)) expect([name, again[name]]).toEqual([name, record[name]]);
        },
      ),
      { seed, numRuns: 300 },
    );
  });
});
