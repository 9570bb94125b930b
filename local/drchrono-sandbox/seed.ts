import { practiceDate, practiceTimestamp } from './clock';
import type { SandboxData, Json } from './types';

/**
 * Seeded practice: realistic in shape, obviously synthetic in value (555-01xx phone numbers, example.com e-mails,
 * 9xx-xx SSNs that the SSA never issues). Every object carries every field DrChrono's serializer returns, so
 * schema tests see the real shape; verbose-only fields are stripped at response time.
 */

export const PRACTICE_GROUP = '77821';
export const OFFICE_ID = 118732;
export const DOCTOR_IDS = [263812, 263813, 263814] as const;

/**
 * Offices (DrChrono: each belongs to one doctor; appointments name an office and an exam room `index` in it).
 * Every doctor has one live office with three exam rooms; 263814 also has a one-room satellite (a doctor with two
 * offices, so "the provider's only office" cannot be assumed), and 263813 an archived one (to be ignored).
 */
export const MAIN_OFFICE: Record<number, number> = { 263812: OFFICE_ID, 263813: 118733, 263814: 118734, 363901: 218732 };
export const SATELLITE_OFFICE_ID = 118735;
export const ARCHIVED_OFFICE_ID = 118736;

function office(id: number, doctor: number, name: string, rooms: string[], archived = false): Json {
  return {
    id,
    doctor,
    name,
    archived,
    address: `${id % 1000} Sandbox Way`,
    city: 'Springfield',
    state: 'CA',
    zip_code: '90210',
    country: 'US',
    phone_number: phone(id % 100),
    fax_number: '',
    start_time: '08:00:00',
    end_time: '18:00:00',
    online_scheduling: false,
    online_timeslots: [],
    tax_id_number_professional: '',
    exam_rooms: rooms.map((n, i) => ({ index: i + 1, name: n })),
  };
}

export function seedOffices(): Json[] {
  const three = ['Exam 1', 'Exam 2', 'Exam 3'];
  return [
    office(OFFICE_ID, 263812, 'Sandbox Family Clinic', three),
    office(118733, 263813, 'Internal Medicine Suite', three),
    office(118734, 263814, 'Pediatrics Wing', three),
    office(SATELLITE_OFFICE_ID, 263814, 'Pediatrics Satellite', ['Satellite Room']),
    office(ARCHIVED_OFFICE_ID, 263813, 'Old Annex (archived)', ['Annex Room'], true),
  ];
}

const DAY = 86_400_000;

const DOCTORS: [number, string, string, string, string][] = [
  [263812, 'Alex', 'Rivera', 'Family Medicine', '1234567893'],
  [263813, 'Priya', 'Natarajan', 'Internal Medicine', '1245319599'],
  [263814, 'Samuel', 'Okafor', 'Pediatrics', '1679576722'],
];

const FIRST = ['Jane', 'Marcus', 'Elena', 'Tobias', 'Aisha', 'Wei', 'Rosa', 'Dmitri', 'Grace', 'Kofi', 'Lena', 'Mateo'];
const LAST = ['Testwood', 'Sampleton', 'Fakerly', 'Mockford', 'Demoreno', 'Synthia', 'Placeholt', 'Dummond', 'Examplar', 'Fixtureson', 'Stubbins', 'Seedwell'];
const LANGS = ['eng', 'spa', 'zho', 'eng', 'por', 'eng', 'spa', 'rus', 'eng', 'fra', 'eng', 'spa'];
const GENDERS = ['Female', 'Male', 'Female', 'Male', 'Female', 'Male', 'Female', 'Male', 'Female', 'Male', 'Other', 'Male'];
const CARRIERS: [string, string][] = [
  ['Blue Cross Blue Shield (Sandbox)', 'BCBS001'],
  ['Aetna (Sandbox)', '60054'],
  ['United Healthcare (Sandbox)', '87726'],
  ['Cigna (Sandbox)', '62308'],
];

export function phone(n: number): string {
  return `(555) 555-01${String(n % 100).padStart(2, '0')}`;
}

export function emptyInsurance(): Json {
  return {};
}

export function insurance(carrier: number, memberSeq: number, subscriber: { first: string; last: string; dob: string; gender: string }): Json {
  const [company, payer] = CARRIERS[carrier % CARRIERS.length] ?? CARRIERS[0]!;
  return {
    insurance_claim_office_number: phone(90 + carrier),
    insurance_company: company,
    insurance_group_name: 'Sandbox Employer Plan',
    insurance_group_number: `GRP-${1000 + memberSeq}`,
    insurance_id_number: `SBX${String(500000 + memberSeq * 37).padStart(8, '0')}`,
    insurance_payer_id: payer,
    insurance_plan_name: 'PPO',
    insurance_plan_type: 'BL',
    is_subscriber_the_patient: true,
    patient_relationship_to_subscriber: '',
    photo_front: '',
    photo_back: '',
    subscriber_address: '100 Sandbox Way',
    subscriber_city: 'Springfield',
    subscriber_country: 'US',
    subscriber_date_of_birth: subscriber.dob,
    subscriber_first_name: subscriber.first,
    subscriber_gender: subscriber.gender,
    subscriber_last_name: subscriber.last,
    subscriber_middle_name: '',
    subscriber_social_security: '',
    subscriber_state: 'CA',
    subscriber_suffix: '',
    subscriber_zip_code: '90210',
  };
}

/** A complete patient with DrChrono's field set; `over` replaces fields. */
export function buildPatient(id: number, seq: number, nowMs: number, over: Json = {}): Json {
  const first = FIRST[seq % FIRST.length]!;
  const last = LAST[seq % LAST.length]!;
  const gender = GENDERS[seq % GENDERS.length]!;
  const dob = `${1950 + ((seq * 7) % 60)}-${String((seq % 12) + 1).padStart(2, '0')}-${String((seq % 27) + 1).padStart(2, '0')}`;
  const doctor = typeof over.doctor === 'number' ? over.doctor : DOCTOR_IDS[seq % DOCTOR_IDS.length]!;
  const stamp = practiceTimestamp(nowMs - (30 - seq) * DAY);
  const hasFlag = seq % 3 === 0;
  return {
    id,
    chart_id: `${last.slice(0, 2).toUpperCase()}${first.slice(0, 2).toUpperCase()}${String(seq + 1).padStart(6, '0')}`,
    doctor,
    first_name: first,
    middle_name: seq % 2 === 0 ? 'Q' : '',
    last_name: last,
    nick_name: '',
    date_of_birth: dob,
    gender,
    social_security_number: seq % 4 === 0 ? '' : `900-55-${String(1000 + seq).slice(-4)}`,
    preferred_language: LANGS[seq % LANGS.length]!,
    race: 'blank',
    ethnicity: 'blank',
    patient_status: seq === 10 ? 'I' : 'A',
    home_phone: phone(seq),
    cell_phone: seq % 5 === 4 ? '' : phone(seq + 20),
    office_phone: '',
    email: `${first.toLowerCase()}.${last.toLowerCase()}@example.com`,
    disable_sms_messages: seq % 6 === 5,
    address: `${100 + seq} Sandbox Way`,
    city: 'Springfield',
    state: 'CA',
    zip_code: '90210',
    emergency_contact_name: seq % 2 === 0 ? `Pat ${last}` : '',
    emergency_contact_phone: seq % 2 === 0 ? phone(seq + 40) : '',
    emergency_contact_relation: seq % 2 === 0 ? 'Spouse' : '',
    responsible_party_name: seq < 2 ? `Pat ${last}` : '',
    responsible_party_relation: seq < 2 ? 'Parent' : '',
    responsible_party_email: seq < 2 ? `pat.${last.toLowerCase()}@example.com` : '',
    responsible_party_phone: seq < 2 ? phone(seq + 60) : '',
    employer: '',
    employer_address: '',
    employer_city: '',
    employer_state: '',
    employer_zip_code: '',
    primary_care_physician: '',
    referring_source: '',
    default_pharmacy: '',
    copay: '25.00',
    patient_payment_profile: 'Insurance',
    patient_photo: '',
    patient_photo_date: null,
    date_of_first_appointment: practiceDate(nowMs - 400 * DAY),
    date_of_last_appointment: practiceDate(nowMs - (seq + 1) * DAY),
    offices: [MAIN_OFFICE[doctor] ?? OFFICE_ID],
    custom_demographics: [],
    patient_flags: hasFlag ? [flagTypes(nowMs)[seq % 2]] : [],
    patient_flags_attached: hasFlag
      ? [{ id: 88000 + seq, flag_type: (flagTypes(nowMs)[seq % 2] as { id: number }).id, flag_text: 'Synthetic flag note', archived: false, created_at: stamp, updated_at: stamp }]
      : [],
    primary_insurance: insurance(seq, seq, { first, last, dob, gender }),
    secondary_insurance: seq % 3 === 1 ? insurance(seq + 1, seq + 100, { first, last, dob, gender }) : emptyInsurance(),
    tertiary_insurance: emptyInsurance(),
    auto_accident_insurance: emptyInsurance(),
    workers_comp_insurance: emptyInsurance(),
    referring_doctor: { address: '', email: '', fax: '', first_name: '', last_name: '', middle_name: '', npi: '', phone: '', provider_number: '', provider_qualifier: '', specialty: '', suffix: '' },
    updated_at: stamp,
    ...over,
  };
}

export function flagTypes(nowMs: number): Json[] {
  const at = practiceTimestamp(nowMs - 365 * DAY);
  return [
    { id: 5521, doctor: 263812, name: 'VIP', color: '#FF5733', priority: 1, archived: false, created_at: at, updated_at: at },
    { id: 5522, doctor: 263812, name: 'Fall Risk', color: '#FFC300', priority: 2, archived: false, created_at: at, updated_at: at },
    { id: 5523, doctor: 263813, name: 'Balance Due', color: '#C70039', priority: 3, archived: false, created_at: at, updated_at: at },
    { id: 5524, doctor: 263813, name: 'Old Flag (archived)', color: '#888888', priority: 9, archived: true, created_at: at, updated_at: at },
  ];
}

function profiles(): Json[] {
  return [
    { id: 447201, name: 'Annual Physical', color: '#4CAF50', duration: 45, reason: 'Annual physical', doctor: 263812, online_scheduling: true, sort_order: 1, archived: false },
    { id: 447202, name: 'Follow-up', color: '#2196F3', duration: 15, reason: 'Follow-up visit', doctor: 263812, online_scheduling: true, sort_order: 2, archived: false },
    { id: 447203, name: 'New Patient', color: '#9C27B0', duration: 60, reason: 'New patient visit', doctor: 263813, online_scheduling: false, sort_order: 3, archived: false },
    { id: 447204, name: 'Telehealth', color: '#00BCD4', duration: 20, reason: 'Video visit', doctor: 263814, online_scheduling: true, sort_order: 4, archived: false },
    { id: 447205, name: 'Legacy Consult (archived)', color: '#777777', duration: 30, reason: '', doctor: 263814, online_scheduling: false, sort_order: 9, archived: true },
  ];
}

const STATUSES = ['Confirmed', 'Arrived', 'Complete', 'Not Confirmed', 'Checked In', 'No Show', 'Cancelled', '', 'In Session', 'Rescheduled'];

/** A complete appointment with DrChrono's field set; `over` replaces fields. */
export function buildAppointment(id: string, seq: number, nowMs: number, patient: number | null, over: Json = {}): Json {
  const doctor = typeof over.doctor === 'number' ? over.doctor : DOCTOR_IDS[seq % DOCTOR_IDS.length]!;
  const profile = profiles()[seq % 4] as { id: number; duration: number; reason: string };
  const start = nowMs + (seq - 10) * DAY;
  const scheduled = `${practiceDate(start)}T${String(8 + (seq % 9)).padStart(2, '0')}:${seq % 2 === 0 ? '00' : '30'}:00`;
  const stamp = practiceTimestamp(nowMs - (40 - seq) * 3_600_000);
  return {
    id,
    doctor,
    patient,
    office: MAIN_OFFICE[doctor] ?? OFFICE_ID,
    exam_room: (seq % 3) + 1,
    profile: profile.id,
    scheduled_time: scheduled,
    duration: profile.duration,
    reason: profile.reason,
    notes: '',
    status: STATUSES[seq % STATUSES.length]!,
    color: '',
    appt_is_break: false,
    allow_overlapping: false,
    is_walk_in: false,
    is_virtual_base: false,
    recurring_appointment: false,
    base_recurring_appointment: null,
    cloned_from: null,
    deleted_flag: false,
    billing_status: seq % 2 === 0 ? 'Bill Insurance' : '',
    billing_provider: '',
    supervising_provider: '',
    reminder_profile: '',
    ins1_status: '',
    ins2_status: '',
    first_billed_date: null,
    last_billed_date: null,
    primary_insurer_name: '',
    primary_insurer_payer_id: '',
    primary_insurance_id_number: '',
    secondary_insurer_name: '',
    secondary_insurer_payer_id: '',
    secondary_insurance_id_number: '',
    icd9_codes: [],
    icd10_codes: seq % 2 === 0 ? ['Z00.00'] : [],
    billing_notes: [],
    reminders: [],
    vitals: { blood_pressure_1: 120, blood_pressure_2: 80, height: 65, weight: 150, pulse: 70, temperature: 98.6 },
    custom_fields: [],
    custom_vitals: [],
    clinical_note: { locked: false, pdf: '', updated_at: stamp },
    status_transitions: [],
    created_at: stamp,
    updated_at: stamp,
    extended_updated_at: stamp,
    ...over,
  };
}

function seedDoctor(id: number, first: string, last: string, specialty: string, npi: string, i: number): Json {
  return {
    id,
    first_name: first,
    last_name: last,
    suffix: 'MD',
    job_title: 'Provider/Staff (Private Practice)',
    specialty,
    npi_number: npi,
    group_npi_number: '1588667638',
    email: `${first.toLowerCase()}.${last.toLowerCase()}@example.com`,
    office_phone: phone(10 + i),
    cell_phone: i === 2 ? '' : phone(30 + i),
    home_phone: '',
    website: '',
    country: 'US',
    timezone: 'US/Pacific',
    is_account_suspended: false,
    practice_group: PRACTICE_GROUP,
    practice_group_name: 'Sandbox Family Clinic',
    profile_picture: '',
  };
}

export function seedData(nowMs: number): SandboxData {
  const doctors = DOCTORS.map(([id, first, last, specialty, npi], i) => seedDoctor(id, first, last, specialty, npi, i));
  const users = [
    ...DOCTORS.map(([id, first, last], i) => ({ id: 9001 + i, username: `${first.toLowerCase()}${last.toLowerCase()}`, doctor: id, is_doctor: true, is_staff: false, practice_group: PRACTICE_GROUP })),
    { id: 9101, username: 'frontdesk', doctor: 263812, is_doctor: false, is_staff: true, practice_group: PRACTICE_GROUP },
  ];
  const patients = Array.from({ length: 12 }, (_, seq) => buildPatient(104857601 + seq, seq, nowMs));
  const appointments: Json[] = [];
  for (let seq = 0; seq < 26; seq++) {
    const patient = (patients[seq % patients.length] as { id: number }).id;
    appointments.push(buildAppointment(String(246813579 + seq), seq, nowMs, patient));
  }
  // A lunch break: no patient, no profile.
  appointments.push(
    buildAppointment(String(246813579 + 26), 26, nowMs, null, { appt_is_break: true, profile: null, reason: 'Lunch', status: '', duration: 60, billing_status: '', icd10_codes: [] }),
  );
  // A deleted appointment: stays readable with deleted_flag true.
  appointments.push(buildAppointment(String(246813579 + 27), 27, nowMs, (patients[1] as { id: number }).id, { deleted_flag: true, status: 'Cancelled' }));
  return {
    doctors,
    users,
    profiles: profiles(),
    flagTypes: flagTypes(nowMs),
    patients,
    appointments,
    offices: seedOffices(),
    nextPatientId: 104857601 + patients.length,
    nextAppointmentId: 246813579 + appointments.length,
  };
}

/**
 * A second practice (its own practice group, doctor, users and patients), so a team can be connected to the wrong
 * DrChrono account on purpose: the account-binding tests approve as one of these users. Its ids never overlap the
 * default practice's. Readable through the API with its users' tokens; the control API edits the default practice.
 */
export const SECOND_PRACTICE_GROUP = '88934';
export const SECOND_DOCTOR_ID = 363901;
export const SECOND_PRACTICE_USER_IDS = { doctor: 9201, frontdesk: 9202 } as const;

const SECOND_LAST = ['Otherfield', 'Elsewhyte', 'Secondly', 'Farbrook', 'Nextdale'];

export function seedSecondPractice(nowMs: number): SandboxData {
  const doctors = [
    {
      ...seedDoctor(SECOND_DOCTOR_ID, 'Hana', 'Lindqvist', 'Dermatology', '1306978655', 0),
      practice_group: SECOND_PRACTICE_GROUP,
      practice_group_name: 'Sandbox Second Clinic',
    },
  ];
  const users = [
    { id: SECOND_PRACTICE_USER_IDS.doctor, username: 'hanalindqvist', doctor: SECOND_DOCTOR_ID, is_doctor: true, is_staff: false, practice_group: SECOND_PRACTICE_GROUP },
    { id: SECOND_PRACTICE_USER_IDS.frontdesk, username: 'secondfrontdesk', doctor: SECOND_DOCTOR_ID, is_doctor: false, is_staff: true, practice_group: SECOND_PRACTICE_GROUP },
  ];
  const patients = SECOND_LAST.map((last, seq) =>
    buildPatient(204857601 + seq, seq, nowMs, {
      doctor: SECOND_DOCTOR_ID,
      last_name: last,
      chart_id: `${last.slice(0, 2).toUpperCase()}2ND${String(seq + 1).padStart(5, '0')}`,
      email: `patient.${last.toLowerCase()}@example.com`,
      emergency_contact_name: '',
      emergency_contact_phone: '',
      emergency_contact_relation: '',
      responsible_party_name: '',
      responsible_party_relation: '',
      responsible_party_email: '',
      responsible_party_phone: '',
      patient_flags: [],
      patient_flags_attached: [],
    }),
  );
  const appointments = patients.map((p, seq) =>
    buildAppointment(String(346813579 + seq), seq, nowMs, (p as { id: number }).id, { doctor: SECOND_DOCTOR_ID, profile: null, reason: 'Skin check' }),
  );
  return {
    doctors,
    users,
    profiles: [],
    flagTypes: [],
    patients,
    appointments,
    offices: [{ ...office(218732, SECOND_DOCTOR_ID, 'Sandbox Second Clinic', ['Room A', 'Room B']) }],
    nextPatientId: 204857601 + patients.length,
    nextAppointmentId: 346813579 + appointments.length,
  };
}
