import * as z from 'zod/mini';

/**
 * zod schemas for the DrChrono responses the product reads. Objects are loose (unknown fields pass through
 * untouched, DrChrono adds fields over time) but every field we map is type-checked.
 *
 * Nullability follows what DrChrono's serializer actually sends: text fields are usually "" but may be null,
 * and fields only returned with `verbose=true` are optional.
 *
 * Timestamps (`updated_at`, `scheduled_time`, ...) are documented as ISO 8601 WITHOUT an offset, e.g.
 * "2024-01-15T09:30:00": the practice's local wall-clock time. One with an offset (`Z`, `-05:00`, `+0530`) and
 * fractional seconds is accepted too, rather than failing every such delivery into the DLQ. We keep them
 * verbatim as strings: never parse them with `new Date()` (that would silently apply the Lambda's UTC zone).
 * The order guard compares `updated_at` in the canonical form of normalizeUpdatedAt (store/record-version.ts).
 */

/** DrChrono "timestamp": date and time, optional fraction, optional UTC offset (Z, ±HH:MM, ±HHMM, ±HH). */
export const Timestamp = z
  .string()
  .check(z.regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-](0\d|1\d|2[0-3])(:?[0-5]\d)?)?$/i, 'ISO 8601 timestamp, optional offset'));
/** DrChrono "date": YYYY-MM-DD. */
export const DateString = z.string().check(z.regex(/^\d{4}-\d{2}-\d{2}$/, 'YYYY-MM-DD date'));

const text = z.nullish(z.string());
const flag = z.nullish(z.boolean());
const int = z.number().check(z.int());

export const InsuranceSchema = z.looseObject({
  insurance_company: text,
  insurance_id_number: text,
  insurance_group_number: text,
});
export type Insurance = z.infer<typeof InsuranceSchema>;

export const PatientFlagTypeSchema = z.looseObject({
  id: int,
  name: z.string(),
  doctor: z.nullish(int),
  color: text,
  priority: z.nullish(int),
  archived: flag,
  created_at: z.nullish(Timestamp),
  updated_at: z.nullish(Timestamp),
});
export type PatientFlagType = z.infer<typeof PatientFlagTypeSchema>;

/** One flag attached to a patient: `flag_type` is a PatientFlagType id, `flag_text` its description. */
export const PatientFlagSchema = z.looseObject({
  id: z.nullish(int),
  flag_type: int,
  flag_text: text,
  archived: flag,
  created_at: z.nullish(Timestamp),
  updated_at: z.nullish(Timestamp),
});
export type PatientFlag = z.infer<typeof PatientFlagSchema>;

export const PatientSchema = z.looseObject({
  id: int,
  chart_id: text,
  first_name: text,
  middle_name: text,
  last_name: text,
  date_of_birth: z.nullish(DateString),
  /** "", Male, Female, Other, UNK, ASKU (kept a string: DrChrono extends enums without notice). */
  gender: text,
  social_security_number: text,
  /** ISO 639-3 code or blank/other/unknown/declined. */
  preferred_language: text,
  /** A active, I inactive, D inactive-deceased. */
  patient_status: text,
  home_phone: text,
  cell_phone: text,
  email: text,
  disable_sms_messages: flag,
  address: text,
  city: text,
  state: text,
  zip_code: text,
  emergency_contact_name: text,
  emergency_contact_phone: text,
  emergency_contact_relation: text,
  doctor: int,
  date_of_last_appointment: z.nullish(DateString),
  responsible_party_name: text,
  responsible_party_relation: text,
  responsible_party_email: text,
  responsible_party_phone: text,
  updated_at: Timestamp,
  // verbose=true only:
  patient_flags: z.optional(z.array(PatientFlagTypeSchema)),
  patient_flags_attached: z.optional(z.array(PatientFlagSchema)),
  primary_insurance: z.nullish(InsuranceSchema),
  secondary_insurance: z.nullish(InsuranceSchema),
});
export type Patient = z.infer<typeof PatientSchema>;

/** Appointment ids are strings in DrChrono's schema ("usually numeric, but not always"); normalised to string. */
const AppointmentId = z.pipe(z.union([z.string().check(z.minLength(1)), int]), z.transform((v) => String(v)));

export const AppointmentSchema = z.looseObject({
  id: AppointmentId,
  /** null for breaks (`appt_is_break`). */
  patient: z.nullable(int),
  doctor: int,
  /** An /api/appointment_profiles id, or null. */
  profile: z.nullish(int),
  /** Standard statuses plus practice-defined custom ones, so any string. */
  status: text,
  /** Start, practice-local wall time. */
  scheduled_time: Timestamp,
  reason: text,
  /** Minutes. */
  duration: z.nullish(int),
  appt_is_break: flag,
  deleted_flag: flag,
  updated_at: Timestamp,
});
export type Appointment = z.infer<typeof AppointmentSchema>;
export type AppointmentInput = z.input<typeof AppointmentSchema>;

export const DoctorSchema = z.looseObject({
  id: int,
  first_name: text,
  last_name: text,
  office_phone: text,
  cell_phone: text,
  home_phone: text,
  npi_number: text,
  group_npi_number: text,
  email: text,
});
export type Doctor = z.infer<typeof DoctorSchema>;

export const AppointmentProfileSchema = z.looseObject({
  id: int,
  name: z.string(),
  doctor: z.nullish(int),
  color: text,
  duration: z.nullish(int),
  reason: text,
  archived: flag,
});
export type AppointmentProfile = z.infer<typeof AppointmentProfileSchema>;

/** `/api/offices` (write-back: an appointment create needs an office and exam room). */
export const OfficeSchema = z.looseObject({
  id: int,
  name: text,
  doctor: z.nullish(int),
  archived: flag,
  exam_rooms: z.nullish(z.array(z.looseObject({ index: int, name: text }))),
});
export type Office = z.infer<typeof OfficeSchema>;

/** `/api/users/{id}`. DrChrono's schema types every field as string; the live API sends numbers and booleans. */
export const UserProfileSchema = z.looseObject({
  id: z.pipe(z.union([int, z.string().check(z.minLength(1))]), z.transform((v) => String(v))),
  username: z.string(),
  doctor: z.nullish(z.union([int, z.string()])),
  practice_group: z.nullish(z.union([int, z.string()])),
  is_doctor: z.nullish(z.union([z.boolean(), z.string()])),
  is_staff: z.nullish(z.union([z.boolean(), z.string()])),
});
export type UserProfile = z.infer<typeof UserProfileSchema>;

/** A page of a list endpoint. DrChrono's published schema calls the array `data`; the live API uses `results`. */
export const PageSchema = z.looseObject({
  results: z.array(z.unknown()),
  next: z.nullish(z.string()),
  previous: z.nullish(z.string()),
});
export type Page = z.infer<typeof PageSchema>;

export function paginated<T extends z.ZodMiniType>(item: T) {
  return z.looseObject({ results: z.array(item), next: z.nullish(z.string()), previous: z.nullish(z.string()) });
}

/** Token endpoint success body. */
export const TokenResponseBodySchema = z.looseObject({
  access_token: z.string().check(z.minLength(1)),
  refresh_token: z.string().check(z.minLength(1)),
  expires_in: z.number().check(z.positive()),
  scope: z.optional(z.string()),
  token_type: z.optional(z.string()),
});

/** Token endpoint error body (RFC 6749 §5.2). */
export const TokenErrorBodySchema = z.looseObject({ error: z.string() });
