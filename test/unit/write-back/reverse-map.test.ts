import fc from 'fast-check';
import { APPOINTMENT_FIELDS, PATIENT_FIELDS } from '../../../shared/mapping';
import { WRITABLE_FIELDS, planWrite, type WritePlan, type WriteRequest } from '../../../shared/write-back/reverse-map';
import {
  CHART_ID,
  CREATE_BODY,
  DOCTOR_ID,
  OFFICE_ID,
  PATIENT_ID,
  PROFILE_ID,
  appointmentCreate,
  appointmentUpdate,
  patientUpdate,
  patientUpsert,
  planContext,
  stubLookups,
  teamConfig,
} from './reverse-map-fixtures';

type Ctx = Parameters<typeof planWrite>[1];

/** Seeded: FC_SEED reproduces a run; fast-check prints the seed and the shrunk counterexample on failure. */
const seed = Number(process.env.FC_SEED) || Date.now() % 2 ** 31;

async function plan(req: WriteRequest, ctx: Ctx = planContext()): Promise<WritePlan> {
  return planWrite(req, ctx);
}

/** The payload of a plan that must be valid (fails the test with its problems otherwise). */
async function payloadOf(req: WriteRequest, ctx?: Ctx): Promise<Record<string, unknown>> {
  const p = await plan(req, ctx);
  if (!p.ok) throw new Error(`expected a valid plan, got ${JSON.stringify(p.problems)}`);
  return p.payload;
}

/** The problems of a plan that must be invalid. */
async function problemsOf(req: WriteRequest, ctx?: Ctx): Promise<Array<{ field: string; problem: string }>> {
  const p = await plan(req, ctx);
  if (p.ok) throw new Error(`expected problems, got payload keys ${Object.keys(p.payload).join(',')}`);
  return p.problems;
}

describe('planWrite: the request', () => {
  it('refuses an operation the entity does not have (deleting a patient)', async () => {
    expect(await problemsOf({ entity: 'patient', op: 'delete', key: CHART_ID, fields: {} })).toEqual([
      { field: '(request)', problem: 'delete is not an operation on a patient' },
    ]);
  });

  it('refuses a create that names a key', async () => {
    expect(await problemsOf({ entity: 'appointment', op: 'create', key: '1', fields: CREATE_BODY })).toEqual([
      { field: '(request)', problem: 'a create names no key' },
    ]);
  });

  it('refuses an update without a key', async () => {
    expect(await problemsOf({ entity: 'patient', op: 'update', key: null, fields: { Email: 'a@b.example' } })).toEqual([
      { field: '(request)', problem: 'the key is missing' },
    ]);
  });

  it('refuses an update with an empty body: "no fields"', async () => {
    expect(await problemsOf(patientUpdate({}))).toEqual([{ field: '(body)', problem: 'no fields' }]);
  });

  it('refuses an upsert with an empty body: "no fields"', async () => {
    expect(await problemsOf(patientUpsert({}))).toEqual([{ field: '(body)', problem: 'no fields' }]);
  });

  it('plans a delete as an empty payload that writes no field', async () => {
    expect(await plan({ entity: 'appointment', op: 'delete', key: '246813579', fields: {} })).toEqual({ ok: true, payload: {}, fieldsWritten: [] });
  });

  it('refuses a delete that carries fields, naming each', async () => {
    expect(await problemsOf({ entity: 'appointment', op: 'delete', key: '246813579', fields: { Reason: 'x', 'Appt Status': 'Cancelled' } })).toEqual([
      { field: 'Appt Status', problem: 'a delete takes no fields' },
      { field: 'Reason', problem: 'a delete takes no fields' },
    ]);
  });
});

describe('planWrite: field names', () => {
  it('refuses a name no record has: "unknown field"', async () => {
    expect(await problemsOf(patientUpdate({ Nickname: 'x' }))).toEqual([{ field: 'Nickname', problem: 'unknown field' }]);
  });

  it('suggests the field a wrongly cased name means', async () => {
    expect(await problemsOf(patientUpdate({ email: 'a@b.example' }))).toEqual([{ field: 'email', problem: 'unknown field (did you mean "Email"?)' }]);
  });

  it.each(['constructor', '__proto__', 'toString', 'hasOwnProperty'])('treats the object-prototype name %s as an unknown field', async (name) => {
    const fields = JSON.parse(`{${JSON.stringify(name)}: 1}`) as Record<string, unknown>;
    expect(await problemsOf(patientUpdate(fields))).toEqual([{ field: name, problem: 'unknown field' }]);
  });

  it.each(['Dr Chrono ID', 'Date of Last Appointment'])('refuses the read-only patient field %s', async (name) => {
    expect(await problemsOf(patientUpdate({ [name]: '1' }))).toEqual([{ field: name, problem: 'read-only' }]);
  });

  it('refuses "Chart ID" in a body: the key is the path', async () => {
    expect(await problemsOf(patientUpsert({ 'Chart ID': 'OTHER1' }))).toEqual([
      { field: 'Chart ID', problem: 'read-only (the Chart ID is the key in the path)' },
    ]);
  });

  it.each(['Patient Flags', 'Patient Flags and Descriptions'])('refuses the flag field %s as read-only', async (name) => {
    expect(await problemsOf(patientUpdate({ [name]: ['VIP'] }))).toEqual([{ field: name, problem: 'read-only (patient flags are not written back)' }]);
  });

  it.each([
    'Insurance Company',
    'Insurance ID Number',
    'Insurance Group Number',
    'Secondary Insurance',
    'Secondary Insurance ID Number',
    'Secondary Insurance Group Number',
  ])('refuses the insurance field %s as read-only', async (name) => {
    expect(await problemsOf(patientUpdate({ [name]: 'x' }))).toEqual([{ field: name, problem: 'read-only (writing insurance is not supported)' }]);
  });

  it('refuses "Claim ID" in an appointment body as read-only', async () => {
    expect(await problemsOf(appointmentUpdate({ 'Claim ID': '1' }))).toEqual([{ field: 'Claim ID', problem: 'read-only' }]);
  });

  it('refuses a field the team does not sync: the record could never show it', async () => {
    const config = teamConfig({ syncFields: { patient: ['First Name', 'Last Name'] } });
    expect(await problemsOf(patientUpdate({ Email: 'a@b.example' }), planContext({ config }))).toEqual([
      { field: 'Email', problem: 'not synced for this team' },
    ]);
  });

  it('accepts the write-only Office and Exam Room on an appointment whatever the team syncs', async () => {
    const config = teamConfig({ syncFields: { appointment: ['Reason'] } });
    expect(await payloadOf(appointmentUpdate({ Office: 7, 'Exam Room': '2' }), planContext({ config }))).toEqual({ office: 7, exam_room: 2 });
  });

  it('treats Office on a patient as an unknown field', async () => {
    expect(await problemsOf(patientUpdate({ Office: 7 }))).toEqual([{ field: 'Office', problem: 'unknown field' }]);
  });

  it('lists every writable patient field as a record field, and no read-only one', () => {
    for (const name of Object.keys(WRITABLE_FIELDS.patient)) expect(PATIENT_FIELDS).toContain(name);
    for (const name of ['Dr Chrono ID', 'Chart ID', 'Patient Flags', 'Date of Last Appointment', 'Insurance Company']) {
      expect(Object.keys(WRITABLE_FIELDS.patient)).not.toContain(name);
    }
  });

  it('names fieldsWritten in the records\' field order, write-only fields last', async () => {
    const p = await plan(appointmentUpdate({ 'Exam Room': 2, Reason: 'x', Office: 3, Provider: DOCTOR_ID, Duration: 15 }));
    expect(p.ok && p.fieldsWritten).toEqual(['Provider', 'Reason', 'Duration', 'Office', 'Exam Room']);
  });
});

describe('planWrite: text fields', () => {
  it('maps a text field to its DrChrono field verbatim', async () => {
    expect(await payloadOf(patientUpdate({ 'Cell Phone': ' (555) 555-0199 ', 'Responsible Party Email': 'r@p.example' }))).toEqual({
      cell_phone: ' (555) 555-0199 ',
      responsible_party_email: 'r@p.example',
    });
  });

  it.each([null, ''])('clears a text field given %p (DrChrono clears with "")', async (value) => {
    expect(await payloadOf(patientUpdate({ 'Middle Name': value }))).toEqual({ middle_name: '' });
  });

  it('refuses a number in a text field', async () => {
    expect(await problemsOf(patientUpdate({ 'Home Phone': 5555550100 }))).toEqual([{ field: 'Home Phone', problem: 'must be text' }]);
  });

  it('refuses text longer than 255 characters and accepts 255', async () => {
    expect(await problemsOf(appointmentUpdate({ Reason: 'r'.repeat(256) }))).toEqual([{ field: 'Reason', problem: 'too long (at most 255 characters)' }]);
    expect(await payloadOf(appointmentUpdate({ Reason: 'r'.repeat(255) }))).toEqual({ reason: 'r'.repeat(255) });
  });
});

describe('planWrite: Date of Birth', () => {
  afterEach(() => jest.useRealTimers());

  it('maps a real past date verbatim', async () => {
    expect(await payloadOf(patientUpdate({ 'Date of Birth': '2000-02-29' }))).toEqual({ date_of_birth: '2000-02-29' });
  });

  it('checks dates of the years 1-99 as themselves, not as 1900-1999', async () => {
    expect(await payloadOf(patientUpdate({ 'Date of Birth': '0004-02-29' }))).toEqual({ date_of_birth: '0004-02-29' });
    expect(await problemsOf(patientUpdate({ 'Date of Birth': '0100-02-29' }))).toEqual([{ field: 'Date of Birth', problem: 'not a real calendar date' }]);
  });

  it.each(['15/06/1985', '1985-6-15', '1985-06-15T00:00:00', 19850615])('refuses %p: not YYYY-MM-DD', async (value) => {
    expect(await problemsOf(patientUpdate({ 'Date of Birth': value }))).toEqual([{ field: 'Date of Birth', problem: 'must be a date YYYY-MM-DD' }]);
  });

  it.each(['2023-02-29', '1985-13-01', '1985-04-31', '0000-01-01'])('refuses %s: not a real calendar date', async (value) => {
    expect(await problemsOf(patientUpdate({ 'Date of Birth': value }))).toEqual([{ field: 'Date of Birth', problem: 'not a real calendar date' }]);
  });

  it('refuses a date in the future, allowing the date it already is somewhere on earth (UTC+14)', async () => {
    jest.useFakeTimers({ now: new Date('2026-11-30T12:00:00Z'), doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
    expect(await payloadOf(patientUpdate({ 'Date of Birth': '2026-12-01' }))).toEqual({ date_of_birth: '2026-12-01' });
    expect(await problemsOf(patientUpdate({ 'Date of Birth': '2026-12-02' }))).toEqual([{ field: 'Date of Birth', problem: 'in the future' }]);
  });

  it('clears Date of Birth with null', async () => {
    expect(await payloadOf(patientUpdate({ 'Date of Birth': null }))).toEqual({ date_of_birth: null });
  });
});

describe('planWrite: choice labels', () => {
  it('maps Status, Sex and Language labels to DrChrono codes', async () => {
    expect(await payloadOf(patientUpdate({ Status: 'Inactive - Deceased', Sex: 'Asked but unknown', Language: 'Spanish' }))).toEqual({
      patient_status: 'D',
      gender: 'ASKU',
      preferred_language: 'spa',
    });
  });

  it('maps a Language label by the English name of a DrChrono language code (French → fra)', async () => {
    expect(await payloadOf(patientUpdate({ Language: 'French' }))).toEqual({ preferred_language: 'fra' });
  });

  it("maps a Language label through the team's own list, for a code beyond DrChrono's enum", async () => {
    const config = teamConfig({ syncChoices: { language: { deu: 'Deutsch' } } });
    expect(await payloadOf(patientUpdate({ Language: 'Deutsch' }), planContext({ config }))).toEqual({ preferred_language: 'deu' });
  });

  it("refuses the English name of a code beyond DrChrono's enum that the team does not list (German)", async () => {
    expect(await problemsOf(patientUpdate({ Language: 'German' }))).toEqual([{ field: 'Language', problem: "not one of the team's Language labels" }]);
  });

  it("maps a label through the team's list, not DrChrono's default label, once the team renames it", async () => {
    const config = teamConfig({ syncChoices: { status: { A: 'Current' } } });
    expect(await payloadOf(patientUpdate({ Status: 'Current' }), planContext({ config }))).toEqual({ patient_status: 'A' });
    expect(await problemsOf(patientUpdate({ Status: 'Active' }), planContext({ config }))).toEqual([
      { field: 'Status', problem: "not one of the team's Status labels" },
    ]);
  });

  it('matches a label case-insensitively when no label matches exactly', async () => {
    expect(await payloadOf(patientUpdate({ Status: 'inactive' }))).toEqual({ patient_status: 'I' });
  });

  it("refuses a label that is not in the team's list, without echoing it", async () => {
    expect(await problemsOf(patientUpdate({ Sex: 'Zebra' }))).toEqual([{ field: 'Sex', problem: "not one of the team's Sex labels" }]);
  });

  it('refuses a label that stands for two codes: "ambiguous"', async () => {
    const config = teamConfig({ syncChoices: { status: { I: 'Inactive', D: 'Inactive' } } });
    expect(await problemsOf(patientUpdate({ Status: 'Inactive' }), planContext({ config }))).toEqual([
      { field: 'Status', problem: "ambiguous: the label stands for more than one Status value in the team's list" },
    ]);
  });

  it('clears Sex with null (gender "")', async () => {
    expect(await payloadOf(patientUpdate({ Sex: null }))).toEqual({ gender: '' });
  });

  it.each(['Status', 'Language'])('refuses to clear %s: DrChrono has no empty value for it', async (name) => {
    expect(await problemsOf(patientUpdate({ [name]: null }))).toEqual([{ field: name, problem: 'cannot be cleared' }]);
  });

  it('refuses a label that is not a string', async () => {
    expect(await problemsOf(patientUpdate({ Status: 1 }))).toEqual([{ field: 'Status', problem: "must be one of the team's Status labels" }]);
  });
});

describe('planWrite: Appt Status', () => {
  it('maps a standard DrChrono status to itself', async () => {
    expect(await payloadOf(appointmentUpdate({ 'Appt Status': 'No Show' }))).toEqual({ status: 'No Show' });
  });

  it("maps the team's label back to the status it stands for", async () => {
    const config = teamConfig({ syncChoices: { apptStatus: { 'Checked In': 'Here' } } });
    expect(await payloadOf(appointmentUpdate({ 'Appt Status': 'Here' }), planContext({ config }))).toEqual({ status: 'Checked In' });
  });

  it("accepts a custom status the team lists", async () => {
    const config = teamConfig({ syncChoices: { apptStatus: { 'Waiting Room': 'Waiting Room' } } });
    expect(await payloadOf(appointmentUpdate({ 'Appt Status': 'Waiting Room' }), planContext({ config }))).toEqual({ status: 'Waiting Room' });
  });

  it("refuses a custom status the team does not list", async () => {
    expect(await problemsOf(appointmentUpdate({ 'Appt Status': 'Waiting Room' }))).toEqual([
      { field: 'Appt Status', problem: "not one of the team's Appt Status labels" },
    ]);
  });

  it('clears Appt Status with "" (status "")', async () => {
    expect(await payloadOf(appointmentUpdate({ 'Appt Status': '' }))).toEqual({ status: '' });
  });
});

describe('planWrite: Appt Profile', () => {
  it('maps a profile name to its id', async () => {
    expect(await payloadOf(appointmentUpdate({ 'Appt Profile': 'Annual Physical' }))).toEqual({ profile: PROFILE_ID });
  });

  it("maps the team's label for a profile id back to that id", async () => {
    const config = teamConfig({ syncChoices: { apptProfile: { [String(PROFILE_ID)]: 'Physical' } } });
    expect(await payloadOf(appointmentUpdate({ 'Appt Profile': 'Physical' }), planContext({ config }))).toEqual({ profile: PROFILE_ID });
  });

  it("maps the team's label for a profile name back to that profile's id", async () => {
    const config = teamConfig({ syncChoices: { apptProfile: { 'Annual Physical': 'Yearly' } } });
    expect(await payloadOf(appointmentUpdate({ 'Appt Profile': 'Yearly' }), planContext({ config }))).toEqual({ profile: PROFILE_ID });
  });

  it('refuses a name no profile has', async () => {
    expect(await problemsOf(appointmentUpdate({ 'Appt Profile': 'Massage' }))).toEqual([
      { field: 'Appt Profile', problem: "not one of the team's appointment profiles" },
    ]);
  });

  it('refuses a name two profiles share (two doctors each have a "Follow-up"): ambiguous', async () => {
    const lookups = stubLookups({ profiles: new Map([[1, 'Follow-up'], [2, 'Follow-up']]) });
    const [problem] = await problemsOf(appointmentUpdate({ 'Appt Profile': 'Follow-up' }), planContext({ lookups }));
    expect(problem).toEqual({ field: 'Appt Profile', problem: expect.stringMatching(/^ambiguous: /) });
  });

  it('clears the profile with null', async () => {
    expect(await payloadOf(appointmentUpdate({ 'Appt Profile': null }))).toEqual({ profile: null });
  });

  it('loads the profiles only when the body names one', async () => {
    const lookups = stubLookups();
    await payloadOf(appointmentUpdate({ Reason: 'x' }), planContext({ lookups }));
    expect(lookups.calls.appointmentProfiles).toBe(0);
  });
});

describe('planWrite: references', () => {
  it('maps "Patient" (a Chart ID) to the DrChrono patient id', async () => {
    expect(await payloadOf(appointmentUpdate({ Patient: CHART_ID }))).toEqual({ patient: Number(PATIENT_ID) });
  });

  it('refuses a Chart ID no patient has', async () => {
    expect(await problemsOf(appointmentUpdate({ Patient: 'NOPE0001' }))).toEqual([{ field: 'Patient', problem: 'no patient with this Chart ID' }]);
  });

  it('refuses a number as "Patient": Chart IDs are text', async () => {
    expect(await problemsOf(appointmentUpdate({ Patient: 1234 }))).toEqual([{ field: 'Patient', problem: 'must be a Chart ID (text)' }]);
  });

  it.each(['Provider', 'Primary Provider'] as const)('maps %s (a Chrono Doctor ID, string or number) to the doctor id', async (name) => {
    const req = name === 'Provider' ? appointmentUpdate : patientUpdate;
    expect(await payloadOf(req({ [name]: DOCTOR_ID }))).toEqual({ doctor: Number(DOCTOR_ID) });
    expect(await payloadOf(req({ [name]: Number(DOCTOR_ID) }))).toEqual({ doctor: Number(DOCTOR_ID) });
  });

  it('refuses a Chrono Doctor ID no employee has', async () => {
    expect(await problemsOf(patientUpdate({ 'Primary Provider': '999' }))).toEqual([
      { field: 'Primary Provider', problem: 'no employee with this Chrono Doctor ID' },
    ]);
  });

  it.each(['Dr. Smith', '0263812', '-1', '1.5'])('refuses %p as a Chrono Doctor ID without asking the lookups', async (value) => {
    const lookups = stubLookups();
    expect(await problemsOf(appointmentUpdate({ Provider: value }), planContext({ lookups }))).toEqual([
      { field: 'Provider', problem: 'must be a Chrono Doctor ID (digits)' },
    ]);
    expect(lookups.calls.doctorExists).toEqual([]);
  });

  it.each(['Patient', 'Provider'])('refuses to clear the reference %s', async (name) => {
    expect(await problemsOf(appointmentUpdate({ [name]: null }))).toEqual([{ field: name, problem: 'cannot be cleared' }]);
  });

  it('propagates a lookup failure (an outage is not a bad request)', async () => {
    const lookups = { ...stubLookups(), doctorExists: async () => Promise.reject(new Error('DynamoDB unavailable')) };
    await expect(plan(appointmentUpdate({ Provider: DOCTOR_ID }), planContext({ lookups }))).rejects.toThrow('DynamoDB unavailable');
  });
});

describe('planWrite: Date of Service', () => {
  it('maps wall-clock time with seconds verbatim', async () => {
    expect(await payloadOf(appointmentUpdate({ 'Date of Service': '2026-12-01T09:30:15' }))).toEqual({ scheduled_time: '2026-12-01T09:30:15' });
  });

  it('adds :00 seconds to HH:MM', async () => {
    expect(await payloadOf(appointmentUpdate({ 'Date of Service': '2026-12-01T09:30' }))).toEqual({ scheduled_time: '2026-12-01T09:30:00' });
  });

  it.each(['2026-12-01T09:30:00Z', '2026-12-01T09:30:00-05:00', '2026-12-01T09:30+0530', '2026-12-01T09:30:00.000Z'])(
    'refuses %s: it has an offset, and says so',
    async (value) => {
      expect(await problemsOf(appointmentUpdate({ 'Date of Service': value }))).toEqual([
        { field: 'Date of Service', problem: "has a UTC offset: send the practice's wall-clock time YYYY-MM-DDTHH:MM[:SS] without one" },
      ]);
    },
  );

  it.each(['2026-12-01', '2026-12-01 09:30', '9:30', '2026-12-01T09:30:00.5'])('refuses %p: not YYYY-MM-DDTHH:MM[:SS]', async (value) => {
    expect(await problemsOf(appointmentUpdate({ 'Date of Service': value }))).toEqual([
      { field: 'Date of Service', problem: 'must be practice wall-clock time YYYY-MM-DDTHH:MM[:SS]' },
    ]);
  });

  it.each(['2026-02-29T09:00', '2026-12-01T24:00', '2026-12-01T09:60', '2026-12-01T09:00:60'])('refuses %s: not a real date and time', async (value) => {
    expect(await problemsOf(appointmentUpdate({ 'Date of Service': value }))).toEqual([{ field: 'Date of Service', problem: 'not a real date and time' }]);
  });

  it('refuses to clear Date of Service', async () => {
    expect(await problemsOf(appointmentUpdate({ 'Date of Service': null }))).toEqual([{ field: 'Date of Service', problem: 'cannot be cleared' }]);
  });
});

describe('planWrite: Duration and Disable SMS/Txt', () => {
  it('maps minutes given as a number or as its string form', async () => {
    expect(await payloadOf(appointmentUpdate({ Duration: 45 }))).toEqual({ duration: 45 });
    expect(await payloadOf(appointmentUpdate({ Duration: '30' }))).toEqual({ duration: 30 });
  });

  it.each([0, 1441, '0', -5])('refuses %p minutes: out of 1..1440', async (value) => {
    expect(await problemsOf(appointmentUpdate({ Duration: value }))).toEqual([{ field: 'Duration', problem: 'must be between 1 and 1440 minutes' }]);
  });

  it.each([1.5, 'thirty', '30 min', '-5', true])('refuses %p: not a whole number of minutes', async (value) => {
    expect(await problemsOf(appointmentUpdate({ Duration: value }))).toEqual([{ field: 'Duration', problem: 'must be a whole number of minutes' }]);
  });

  it('maps Disable SMS/Txt from a boolean or "true"/"false"', async () => {
    expect(await payloadOf(patientUpdate({ 'Disable SMS/Txt': true }))).toEqual({ disable_sms_messages: true });
    expect(await payloadOf(patientUpdate({ 'Disable SMS/Txt': 'false' }))).toEqual({ disable_sms_messages: false });
  });

  it.each(['yes', 1, 0])('refuses %p as Disable SMS/Txt', async (value) => {
    expect(await problemsOf(patientUpdate({ 'Disable SMS/Txt': value }))).toEqual([{ field: 'Disable SMS/Txt', problem: 'must be true or false' }]);
  });
});

describe('planWrite: Address', () => {
  it('splits Address into street, city, state and zip', async () => {
    expect(await payloadOf(patientUpdate({ Address: '123 Main Street, San Francisco, CA 94107' }))).toEqual({
      address: '123 Main Street',
      city: 'San Francisco',
      state: 'CA',
      zip_code: '94107',
    });
  });

  it('clears all four parts with null', async () => {
    expect(await payloadOf(patientUpdate({ Address: null }))).toEqual({ address: '', city: '', state: '', zip_code: '' });
  });

  it('refuses an address whose street is longer than 255 characters', async () => {
    expect(await problemsOf(patientUpdate({ Address: `${'s'.repeat(256)}, Springfield, IL` }))).toEqual([
      { field: 'Address', problem: 'a part is too long (at most 255 characters each)' },
    ]);
  });
});

describe('planWrite: appointment create', () => {
  it('plans a complete create with the provider\'s only office and exam room 1', async () => {
    expect(await payloadOf(appointmentCreate(CREATE_BODY))).toEqual({
      patient: Number(PATIENT_ID),
      doctor: Number(DOCTOR_ID),
      scheduled_time: '2026-12-01T09:00:00',
      duration: 30,
      office: OFFICE_ID,
      exam_room: 1,
    });
  });

  it.each(['Patient', 'Provider', 'Date of Service'])('refuses a create without %s', async (name) => {
    const body: Record<string, unknown> = { ...CREATE_BODY };
    delete body[name];
    expect(await problemsOf(appointmentCreate(body))).toContainEqual({ field: name, problem: 'required to create an appointment' });
  });

  it('refuses a create without Duration or Appt Profile', async () => {
    const { Duration: _omit, ...body } = CREATE_BODY;
    expect(await problemsOf(appointmentCreate(body))).toEqual([
      { field: 'Duration', problem: "required unless Appt Profile is given (DrChrono then takes the profile's duration)" },
    ]);
  });

  it('accepts a create without Duration when an Appt Profile gives it', async () => {
    const { Duration: _omit, ...body } = CREATE_BODY;
    expect(await payloadOf(appointmentCreate({ ...body, 'Appt Profile': 'Annual Physical' }))).toMatchObject({ profile: PROFILE_ID });
  });

  it('takes Office and Exam Room from the body first, asking DrChrono nothing', async () => {
    const lookups = stubLookups();
    const payload = await payloadOf(appointmentCreate({ ...CREATE_BODY, Office: 5, 'Exam Room': 3 }), planContext({ lookups, defaults: { office: 9, examRoom: 2 } }));
    expect(payload).toMatchObject({ office: 5, exam_room: 3 });
    expect(lookups.calls.officesOfDoctor).toEqual([]);
  });

  it("takes the team's defaults next, asking DrChrono nothing", async () => {
    const lookups = stubLookups();
    const payload = await payloadOf(appointmentCreate(CREATE_BODY), planContext({ lookups, defaults: { office: 9, examRoom: 2 } }));
    expect(payload).toMatchObject({ office: 9, exam_room: 2 });
    expect(lookups.calls.officesOfDoctor).toEqual([]);
  });

  it("applies the team's default exam room only with the team's default office, not with an office the body names", async () => {
    const payload = await payloadOf(appointmentCreate({ ...CREATE_BODY, Office: 5 }), planContext({ lookups: stubLookups(), defaults: { office: 9, examRoom: 2 } }));
    // Exam room 2 is an index into office 9's rooms: in office 5 it may not exist (DrChrono 400).
    expect(payload).toMatchObject({ office: 5, exam_room: 1 });
  });

  it("does not apply a default exam room without a default office to the provider's only office", async () => {
    const lookups = stubLookups({ offices: { [DOCTOR_ID]: [4] } });
    const payload = await payloadOf(appointmentCreate(CREATE_BODY), planContext({ lookups, defaults: { examRoom: 2 } }));
    expect(payload).toMatchObject({ office: 4, exam_room: 1 });
  });

  it('says what is missing when the provider has several offices and the team no default', async () => {
    const lookups = stubLookups({ offices: { [DOCTOR_ID]: [1, 2] } });
    expect(await problemsOf(appointmentCreate(CREATE_BODY), planContext({ lookups }))).toEqual([
      {
        field: 'Office',
        problem: 'required: the provider has 2 offices and the team has no default (drchrono-sync team write-back defaults <teamId> --office ID --exam-room N)',
      },
    ]);
  });

  it('says what is missing when the provider has no office', async () => {
    const lookups = stubLookups({ offices: {} });
    const [problem] = await problemsOf(appointmentCreate(CREATE_BODY), planContext({ lookups }));
    expect(problem).toEqual({ field: 'Office', problem: expect.stringMatching(/^required: the provider has no office and the team has no default/) });
  });

  it('does not look up offices for a provider that does not exist', async () => {
    const lookups = stubLookups({ doctors: [] });
    expect(await problemsOf(appointmentCreate(CREATE_BODY), planContext({ lookups }))).toEqual([
      { field: 'Provider', problem: 'no employee with this Chrono Doctor ID' },
    ]);
    expect(lookups.calls.officesOfDoctor).toEqual([]);
  });

  it('lists only the body fields in fieldsWritten (not the office taken from defaults)', async () => {
    const p = await plan(appointmentCreate(CREATE_BODY), planContext({ defaults: { office: 9 } }));
    expect(p.ok && p.fieldsWritten).toEqual(['Patient', 'Provider', 'Date of Service', 'Duration']);
  });
});

describe('planWrite: problems', () => {
  it('collects every problem of a body, not just the first', async () => {
    const problems = await problemsOf(
      patientUpdate({ Nickname: 1, 'Date of Birth': '1985-02-30', Status: 'Gone', Email: 7, 'Chart ID': 'X', 'Primary Provider': '999' }),
    );
    expect(problems.map((p) => p.field)).toEqual(['Chart ID', 'Date of Birth', 'Status', 'Email', 'Primary Provider', 'Nickname']);
  });

  it('never puts a value in a problem text, whatever the fields and values (property)', async () => {
    const names = [...PATIENT_FIELDS, ...APPOINTMENT_FIELDS, 'Office', 'Exam Room', 'Nickname', 'email'];
    const marked = fc.string({ minLength: 1, maxLength: 20 }).map((s) => `§v${s}`);
    const value = fc.oneof(marked, fc.integer({ min: 100_000, max: 2 ** 40 }), fc.boolean(), fc.constant(null), fc.array(marked, { maxLength: 2 }));
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('patient' as const, 'appointment' as const),
        fc.constantFrom('upsert' as const, 'update' as const, 'create' as const, 'delete' as const),
        fc.dictionary(fc.constantFrom(...names), value, { maxKeys: 8 }),
        async (entity, op, fields) => {
          const key = op === 'create' ? null : 'K1';
          const p = await plan({ entity, op, key, fields }, planContext({ lookups: stubLookups({ offices: {} }) }));
          if (p.ok) return;
          const texts = JSON.stringify(p.problems.map((x) => x.problem));
          expect(texts).not.toContain('§v');
          for (const v of Object.values(fields)) if (typeof v === 'number') expect(texts).not.toContain(String(v));
        },
      ),
      { seed, numRuns: 500 },
    );
  });

  it('never puts a value in a problem', async () => {
    const secret = 'PHI-4411-secret';
    const fields: Record<string, unknown> = {};
    for (const name of [...Object.keys(WRITABLE_FIELDS.patient)]) fields[name] = `${secret} ${name}`;
    const problems = await problemsOf(patientUpdate(fields));
    expect(problems.length).toBeGreaterThan(5);
    expect(JSON.stringify(problems)).not.toContain(secret);
  });
});
