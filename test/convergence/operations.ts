import fc from 'fast-check';
import type { FaultKind, Kind, OperationKind, ValueKind } from './kinds';

/**
 * The generated history: DrChrono-side operations interleaved with faults. Objects are referred to by index
 * (modulo what exists when the op runs), so any sub-list a shrink produces is still runnable.
 */
export type PatientEdit = Partial<Record<(typeof PATIENT_TEXT_FIELDS)[number], string>> & {
  gender?: string;
  preferred_language?: string;
  patient_status?: string;
  disable_sms_messages?: boolean;
  doctor?: number;
};
/** App-side changes: record field names and labels, as an app sends them to the write API. */
export type AppPatientFields = Partial<Record<'Email' | 'Cell Phone' | 'Home Phone' | 'First Name' | 'Last Name' | 'Status' | 'Sex' | 'Language', string>> & {
  'Disable SMS/Txt'?: boolean;
};
export type AppApptFields = Partial<Record<'Appt Status' | 'Reason' | 'Date of Service', string>> & { Duration?: number };
export type ApptEdit = { status?: string; reason?: string; duration?: number; profile?: number | null; doctor?: number; scheduled_time?: string };

export type Op =
  | { k: 'patientCreate'; f: PatientEdit }
  | { k: 'patientModify'; p: number; f: PatientEdit }
  | { k: 'chartIdChange'; p: number; chart: string }
  | { k: 'patientDelete'; p: number }
  | { k: 'flagSet'; p: number; flags: { type: number; text: string }[] }
  | { k: 'flagEdit'; p: number; action: 'attach' | 'change' | 'remove'; f: number; type: number; text: string }
  | { k: 'apptCreate'; p: number; f: ApptEdit }
  | { k: 'apptModify'; a: number; f: ApptEdit }
  | { k: 'apptMove'; a: number; p: number }
  | { k: 'apptDelete'; a: number }
  | { k: 'breakCreate'; minutes: number }
  | { k: 'doctorEdit'; d: number; f: Record<string, string> }
  | { k: 'profileRename'; pr: number; name: string }
  | { k: 'appPatientUpdate'; p: number; f: AppPatientFields; withBase: boolean }
  | { k: 'appPatientCreate'; n: number; f: AppPatientFields; doctor: number; sex: string }
  | { k: 'appApptCreate'; p: number; f: AppApptFields; doctor: number; overlap: boolean }
  | { k: 'appApptUpdate'; a: number; f: AppApptFields; withBase: boolean }
  | { k: 'appApptDelete'; a: number }
  | { k: 'writeQueueFailure'; count: number }
  | { k: 'webhookDrop'; n: number }
  | { k: 'webhookReorder'; n: number }
  | { k: 'webhookDuplicate'; n: number }
  | { k: 'webhookRedeliverLater'; d: number; hours: number }
  | { k: 'apiServerError'; path: ApiPath; status: '500' | '502' | '503' | 'reset'; count: number }
  | { k: 'apiRateLimited'; path: ApiPath; count: number }
  | { k: 'apiTimeout'; path: ApiPath }
  | { k: 'tokenExpire' }
  | { k: 'ingestSqsFailure'; kind: AwsKind; count: number }
  | { k: 'recordsWriteThrottle'; kind: AwsKind; count: number }
  | { k: 'logWriteThrottle'; kind: AwsKind; count: number }
  | { k: 'reauthForDays'; days: number }
  | { k: 'refreshDuringReconnect' }
  | { k: 'budgetExhausted' }
  | { k: 'clockJump'; minutes: number };

export type ApiPath = '/api/patients' | '/api/appointments' | '/api/doctors' | '/o/token/';
export type AwsKind = 'throttle' | 'throughput' | '500' | '503';

export const PATIENT_TEXT_FIELDS = [
  'first_name',
  'middle_name',
  'last_name',
  'email',
  'home_phone',
  'cell_phone',
  'address',
  'city',
  'social_security_number',
  'emergency_contact_name',
  'responsible_party_name',
] as const;

const DOCTORS = [263812, 263813, 263814];
const PROFILES = [447201, 447202, 447203, 447204, 447205];
const FLAG_TYPES = [5521, 5522, 5523, 5524];

/** Text by flavour. Astral: emoji and other supplementary-plane characters; hostile: what SQS refuses. */
function textArb(values: ReadonlySet<ValueKind>): fc.Arbitrary<string> {
  const options: fc.Arbitrary<string>[] = [];
  if (values.has('plainText')) options.push(fc.constantFrom('Ann', 'Bo', "O'Neil", 'José', 'Zoë-Lee', 'Ngọc', '李', 'Smith Jr.', '  spaced  ', 'a,b;c'));
  if (values.has('emptyFields')) options.push(fc.constant(''));
  if (values.has('astralText')) options.push(fc.constantFrom('😀', 'Ann 🦄', '𝔄𝔫𝔫', '𠜎𠜱'));
  if (values.has('sqsHostileText')) options.push(fc.constantFrom('A\uFFFEB', 'A\uFFFF', 'lone \uD800 high', 'lone \uDC00 low', 'ctl\u0001', 'nul\u0000'));
  return options.length > 0 ? fc.oneof(...options) : fc.constant('Ann');
}

function patientEditArb(values: ReadonlySet<ValueKind>): fc.Arbitrary<PatientEdit> {
  const t = textArb(values);
  const fields: Record<string, fc.Arbitrary<unknown>> = Object.fromEntries(PATIENT_TEXT_FIELDS.map((f) => [f, t]));
  return fc.record(
    {
      ...fields,
      gender: fc.constantFrom('Male', 'Female', 'Other', 'UNK', 'ASKU', ''),
      preferred_language: fc.constantFrom('eng', 'spa', 'zho', 'por', 'declined', 'xx-invalid', ''),
      patient_status: fc.constantFrom('A', 'I', 'D', ''),
      disable_sms_messages: fc.boolean(),
      doctor: fc.constantFrom(...DOCTORS),
    },
    { requiredKeys: [] },
  ) as fc.Arbitrary<PatientEdit>;
}

function apptEditArb(values: ReadonlySet<ValueKind>): fc.Arbitrary<ApptEdit> {
  return fc.record(
    {
      status: fc.constantFrom('Confirmed', 'Arrived', 'Complete', 'No Show', 'Cancelled', 'In Session', ''),
      reason: textArb(values),
      duration: fc.integer({ min: 5, max: 120 }),
      profile: fc.constantFrom(...PROFILES, null),
      doctor: fc.constantFrom(...DOCTORS),
      scheduled_time: fc
        .record({ d: fc.integer({ min: 1, max: 28 }), h: fc.integer({ min: 7, max: 18 }) })
        .map(({ d, h }) => `2026-12-${String(d).padStart(2, '0')}T${String(h).padStart(2, '0')}:00:00`),
    },
    { requiredKeys: [] },
  );
}

function appPatientArb(values: ReadonlySet<ValueKind>): fc.Arbitrary<AppPatientFields> {
  const t = textArb(values);
  return fc.record(
    {
      Email: t,
      'Cell Phone': t,
      'Home Phone': t,
      'First Name': t,
      'Last Name': t,
      Status: fc.constantFrom('Active', 'Inactive', 'Inactive - Deceased'),
      Sex: fc.constantFrom('Male', 'Female', 'Other', 'Unknown'),
      Language: fc.constantFrom('English', 'Spanish', 'Declined'),
      'Disable SMS/Txt': fc.boolean(),
    },
    { requiredKeys: [] },
  ) as fc.Arbitrary<AppPatientFields>;
}

function appApptArb(values: ReadonlySet<ValueKind>): fc.Arbitrary<AppApptFields> {
  return fc.record(
    {
      'Appt Status': fc.constantFrom('Confirmed', 'Arrived', 'Complete', 'No Show', 'Cancelled'),
      Reason: textArb(values),
      Duration: fc.integer({ min: 5, max: 120 }),
      'Date of Service': fc
        .record({ d: fc.integer({ min: 1, max: 28 }), h: fc.integer({ min: 7, max: 18 }) })
        .map(({ d, h }) => `2026-12-${String(d).padStart(2, '0')}T${String(h).padStart(2, '0')}:30`),
    },
    { requiredKeys: [] },
  );
}

const ref = fc.nat({ max: 1000 });
const apiPath = fc.constantFrom<ApiPath>('/api/patients', '/api/appointments', '/api/doctors', '/o/token/');
const awsKind = fc.constantFrom<AwsKind>('throttle', 'throughput', '500', '503');

export function opArbitraries(kinds: ReadonlySet<Kind>): { kind: OperationKind | FaultKind; arb: fc.Arbitrary<Op>; weight: number }[] {
  const values = new Set([...kinds].filter((k): k is ValueKind => ['plainText', 'emptyFields', 'astralText', 'sqsHostileText'].includes(k)));
  const all: { kind: OperationKind | FaultKind; arb: fc.Arbitrary<Op>; weight: number }[] = [
    { kind: 'patientCreate', weight: 3, arb: patientEditArb(values).map((f) => ({ k: 'patientCreate', f })) },
    { kind: 'patientModify', weight: 5, arb: fc.record({ p: ref, f: patientEditArb(values) }).map((o) => ({ k: 'patientModify', ...o })) },
    { kind: 'chartIdChange', weight: 2, arb: fc.record({ p: ref, chart: fc.constantFrom('CH-1', 'CH-2', 'X9', '', 'CH-1') }).map((o) => ({ k: 'chartIdChange', ...o })) },
    { kind: 'patientDelete', weight: 1, arb: ref.map((p) => ({ k: 'patientDelete', p })) },
    {
      kind: 'flagSet',
      weight: 2,
      arb: fc
        .record({ p: ref, flags: fc.array(fc.record({ type: fc.constantFrom(...FLAG_TYPES), text: fc.constantFrom('', 'note', 'see chart') }), { maxLength: 3 }) })
        .map((o) => ({ k: 'flagSet', ...o })),
    },
    {
      kind: 'flagEdit',
      weight: 2,
      arb: fc
        .record({ p: ref, action: fc.constantFrom('attach' as const, 'change' as const, 'remove' as const), f: ref, type: fc.constantFrom(5521, 5522, 5523), text: fc.constantFrom('', 'note', 'see chart') })
        .map((o) => ({ k: 'flagEdit', ...o })),
    },
    { kind: 'apptCreate', weight: 3, arb: fc.record({ p: ref, f: apptEditArb(values) }).map((o) => ({ k: 'apptCreate', ...o })) },
    { kind: 'apptModify', weight: 4, arb: fc.record({ a: ref, f: apptEditArb(values) }).map((o) => ({ k: 'apptModify', ...o })) },
    { kind: 'apptMove', weight: 2, arb: fc.record({ a: ref, p: ref }).map((o) => ({ k: 'apptMove', ...o })) },
    { kind: 'apptDelete', weight: 2, arb: ref.map((a) => ({ k: 'apptDelete', a })) },
    { kind: 'breakCreate', weight: 1, arb: fc.integer({ min: 15, max: 60 }).map((minutes) => ({ k: 'breakCreate', minutes })) },
    {
      kind: 'doctorEdit',
      weight: 1,
      arb: fc
        .record({ d: ref, f: fc.record({ first_name: fc.constantFrom('Alexis', 'Sam', ''), office_phone: fc.constantFrom('(555) 555-0199', ''), cell_phone: fc.constantFrom('(555) 555-0177', ''), email: fc.constantFrom('dr@example.com', '') }, { requiredKeys: [] }) })
        .map((o) => ({ k: 'doctorEdit', ...o })),
    },
    { kind: 'profileRename', weight: 1, arb: fc.record({ pr: ref, name: fc.constantFrom('Check-up', 'Visit (renamed)', 'Télé') }).map((o) => ({ k: 'profileRename', ...o })) },
    { kind: 'appPatientUpdate', weight: 3, arb: fc.record({ p: ref, f: appPatientArb(values), withBase: fc.boolean() }).map((o) => ({ k: 'appPatientUpdate', ...o })) },
    {
      kind: 'appPatientCreate',
      weight: 1,
      arb: fc.record({ n: fc.nat({ max: 99 }), f: appPatientArb(values), doctor: fc.constantFrom(...DOCTORS), sex: fc.constantFrom('Male', 'Female', 'Other') }).map((o) => ({ k: 'appPatientCreate', ...o })),
    },
    {
      kind: 'appApptCreate',
      weight: 2,
      arb: fc.record({ p: ref, f: appApptArb(values), doctor: fc.constantFrom(...DOCTORS), overlap: fc.boolean() }).map((o) => ({ k: 'appApptCreate', ...o })),
    },
    { kind: 'appApptUpdate', weight: 3, arb: fc.record({ a: ref, f: appApptArb(values), withBase: fc.boolean() }).map((o) => ({ k: 'appApptUpdate', ...o })) },
    { kind: 'appApptDelete', weight: 1, arb: ref.map((a) => ({ k: 'appApptDelete', a })) },
    { kind: 'writeQueueFailure', weight: 1, arb: fc.integer({ min: 1, max: 2 }).map((count) => ({ k: 'writeQueueFailure', count })) },
    { kind: 'webhookDrop', weight: 2, arb: fc.integer({ min: 1, max: 3 }).map((n) => ({ k: 'webhookDrop', n })) },
    { kind: 'webhookReorder', weight: 2, arb: fc.integer({ min: 2, max: 4 }).map((n) => ({ k: 'webhookReorder', n })) },
    { kind: 'webhookDuplicate', weight: 1, arb: fc.integer({ min: 1, max: 3 }).map((n) => ({ k: 'webhookDuplicate', n })) },
    { kind: 'webhookRedeliverLater', weight: 1, arb: fc.record({ d: ref, hours: fc.integer({ min: 1, max: 6 }) }).map((o) => ({ k: 'webhookRedeliverLater', ...o })) },
    {
      kind: 'apiServerError',
      weight: 2,
      arb: fc.record({ path: apiPath, status: fc.constantFrom('500', '502', '503', 'reset' as const), count: fc.integer({ min: 1, max: 4 }) }).map((o) => ({ k: 'apiServerError', ...o })),
    },
    { kind: 'apiRateLimited', weight: 1, arb: fc.record({ path: apiPath, count: fc.integer({ min: 1, max: 3 }) }).map((o) => ({ k: 'apiRateLimited', ...o })) },
    { kind: 'apiTimeout', weight: 1, arb: apiPath.map((path) => ({ k: 'apiTimeout', path })) },
    { kind: 'tokenExpire', weight: 1, arb: fc.constant({ k: 'tokenExpire' }) },
    { kind: 'ingestSqsFailure', weight: 2, arb: fc.record({ kind: awsKind, count: fc.integer({ min: 1, max: 3 }) }).map((o) => ({ k: 'ingestSqsFailure', ...o })) },
    { kind: 'recordsWriteThrottle', weight: 2, arb: fc.record({ kind: awsKind, count: fc.integer({ min: 1, max: 4 }) }).map((o) => ({ k: 'recordsWriteThrottle', ...o })) },
    { kind: 'logWriteThrottle', weight: 1, arb: fc.record({ kind: awsKind, count: fc.integer({ min: 1, max: 3 }) }).map((o) => ({ k: 'logWriteThrottle', ...o })) },
    { kind: 'reauthForDays', weight: 1, arb: fc.integer({ min: 1, max: 4 }).map((days) => ({ k: 'reauthForDays', days })) },
    { kind: 'refreshDuringReconnect', weight: 1, arb: fc.constant({ k: 'refreshDuringReconnect' }) },
    { kind: 'budgetExhausted', weight: 1, arb: fc.constant({ k: 'budgetExhausted' }) },
    { kind: 'clockJump', weight: 1, arb: fc.integer({ min: 1, max: 180 }).map((minutes) => ({ k: 'clockJump', minutes })) },
  ];
  return all.filter((a) => kinds.has(a.kind));
}

export function opsArbitrary(kinds: ReadonlySet<Kind>, maxOps: number): fc.Arbitrary<Op[]> {
  const arbs = opArbitraries(kinds);
  if (arbs.length === 0) throw new Error('no operation kinds enabled');
  return fc.array(fc.oneof(...arbs.map((a) => ({ arbitrary: a.arb, weight: a.weight }))), { minLength: 1, maxLength: maxOps });
}

const FAULT_OPS = new Set<string>([
  'webhookDrop', 'webhookReorder', 'webhookDuplicate', 'webhookRedeliverLater', 'apiServerError', 'apiRateLimited', 'apiTimeout',
  'tokenExpire', 'writeQueueFailure', 'ingestSqsFailure', 'recordsWriteThrottle', 'logWriteThrottle', 'reauthForDays', 'refreshDuringReconnect', 'budgetExhausted', 'clockJump',
]);
export function isFault(op: Op): boolean {
  return FAULT_OPS.has(op.k);
}

/** One line per op, with JSON.stringify's escapes, so hostile characters print visibly. */
export function describeOps(ops: readonly Op[]): string {
  return ops.map((o, i) => `  ${String(i + 1).padStart(2)}. ${JSON.stringify(o)}`).join('\n');
}
