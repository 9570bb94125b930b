import { z } from 'zod';

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
  .regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-](0\d|1\d|2[0-3])(:?[0-5]\d)?)?$/i, 'ISO 8601 timestamp, optional offset');
/** DrChrono "date": YYYY-MM-DD. */
export const DateString = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'YYYY-MM-DD date');

const text = z.string().nullish();
const flag = z.boolean().nullish();
const int = z.number().int();

export const InsuranceSchema = z.looseObject({
  insurance_company: text,
  insurance_id_number: text,
  insurance_group_number: text,
});
export type Insurance = z.infer<typeof InsuranceSchema>;

export const PatientFlagTypeSchema = z.looseObject({
  id: int,
  name: z.string(),
  doctor: int.nullish(),
  color: text,
  priority: int.nullish(),
  archived: flag,
  created_at: Timestamp.nullish(),
  updated_at: Timestamp.nullish(),
});
export type PatientFlagType = z.infer<typeof PatientFlagTypeSchema>;

/** One flag attached to a patient: `flag_type` is a PatientFlagType id, `flag_text` its description. */
export const PatientFlagSchema = z.looseObject({
  id: int.nullish(),
  flag_type: int,
  flag_text: text,
  archived: flag,
  created_at: Timestamp.nullish(),
  updated_at: Timestamp.nullish(),
});
export type PatientFlag = z.infer<typeof PatientFlagSchema>;

export const PatientSchema = z.looseObject({
  id: int,
  chart_id: text,
  first_name: text,
  middle_name: text,
  last_name: text,
  date_of_birth: DateString.nullish(),
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
  date_of_last_appointment: DateString.nullish(),
  responsible_party_name: text,
  responsible_party_relation: text,
  responsible_party_email: text,
  responsible_party_phone: text,
  updated_at: Timestamp,
  // verbose=true only:
  patient_flags: z.array(PatientFlagTypeSchema).optional(),
  patient_flags_attached: z.array(PatientFlagSchema).optional(),
  primary_insurance: InsuranceSchema.nullish(),
  secondary_insurance: InsuranceSchema.nullish(),
});
export type Patient = z.infer<typeof PatientSchema>;

/** Appointment ids are strings in DrChrono's schema ("usually numeric, but not always"); normalised to string. */
const AppointmentId = z.union([z.string().min(1), int]).transform((v) => String(v));

export const AppointmentSchema = z.looseObject({
  id: AppointmentId,
  /** null for breaks (`appt_is_break`). */
  patient: int.nullable(),
  doctor: int,
  /** An /api/appointment_profiles id, or null. */
  profile: int.nullish(),
  /** Standard statuses plus practice-defined custom ones, so any string. */
  status: text,
  /** Start, practice-local wall time. */
  scheduled_time: Timestamp,
  reason: text,
  /** Minutes. */
  duration: int.nullish(),
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
  doctor: int.nullish(),
  color: text,
  duration: int.nullish(),
  reason: text,
  archived: flag,
});
export type AppointmentProfile = z.infer<typeof AppointmentProfileSchema>;

/** `/api/offices` (write-back: an appointment create needs an office and exam room). */
export const OfficeSchema = z.looseObject({
  id: int,
  name: text,
  doctor: int.nullish(),
  archived: flag,
  exam_rooms: z.array(z.looseObject({ index: int, name: text })).nullish(),
});
export type Office = z.infer<typeof OfficeSchema>;

/** `/api/users/{id}`. DrChrono's schema types every field as string; the live API sends numbers and booleans. */
export const UserProfileSchema = z.looseObject({
  id: z.union([int, z.string().min(1)]).transform((v) => String(v)),
  username: z.string(),
  doctor: z.union([int, z.string()]).nullish(),
  practice_group: z.union([int, z.string()]).nullish(),
  is_doctor: z.union([z.boolean(), z.string()]).nullish(),
  is_staff: z.union([z.boolean(), z.string()]).nullish(),
});
export type UserProfile = z.infer<typeof UserProfileSchema>;

/** A page of a list endpoint. DrChrono's published schema calls the array `data`; the live API uses `results`. */
export const PageSchema = z.looseObject({
  results: z.array(z.unknown()),
  next: z.string().nullish(),
  previous: z.string().nullish(),
});
export type Page = z.infer<typeof PageSchema>;

export function paginated<T extends z.ZodType>(item: T) {
  return z.looseObject({ results: z.array(item), next: z.string().nullish(), previous: z.string().nullish() });
}

/** Token endpoint success body. */
export const TokenResponseBodySchema = z.looseObject({
  access_token: z.string().min(1),
  refresh_token: z.string().min(1),
  expires_in: z.number().positive(),
  scope: z.string().optional(),
  token_type: z.string().optional(),
});

/** Token endpoint error body (RFC 6749 §5.2). */
export const TokenErrorBodySchema = z.looseObject({ error: z.string() });
