import type { TeamSyncConfig } from './team-sync-config';

type Choices = TeamSyncConfig['choices'];

const languageNames = new Intl.DisplayNames(['en'], { type: 'language', fallback: 'none' });

/** A team mapping first, else the code itself: unknown codes (custom statuses, new enums) are kept, not dropped. */
function fromList(list: Record<string, string>, code: string): string {
  return Object.hasOwn(list, code) ? (list[code] as string) : code;
}

/** `patient_status` A / I / D → Active / Inactive / Inactive - Deceased (team-overridable). */
export function statusLabel(code: string, choices: Choices): string {
  return fromList(choices.status, code);
}

/** `gender` → readable label (UNK → Unknown, ASKU → Asked but unknown). */
export function sexLabel(code: string, choices: Choices): string {
  return fromList(choices.sex, code);
}

/** `preferred_language`: the team's list, then the English name of any other ISO 639 code, else the code. */
export function languageLabel(code: string, choices: Choices): string {
  if (Object.hasOwn(choices.language, code)) return choices.language[code] as string;
  let name: string | undefined;
  try {
    name = languageNames.of(code);
  } catch {
    name = undefined; // not a well-formed language tag
  }
  return name ?? code;
}

/** Appointment `status` as DrChrono sends it (custom statuses included) unless the team maps it. */
export function apptStatusLabel(status: string, choices: Choices): string {
  return fromList(choices.apptStatus, status);
}

/**
 * Appointment profile: the team's mapping by profile id, then by profile name, then the profile's name.
 * undefined when neither the team nor the profile list knows the id.
 */
export function apptProfileLabel(profileId: number, profileName: string | undefined, choices: Choices): string | undefined {
  const byId = String(profileId);
  if (Object.hasOwn(choices.apptProfile, byId)) return choices.apptProfile[byId];
  if (profileName !== undefined && Object.hasOwn(choices.apptProfile, profileName)) return choices.apptProfile[profileName];
  return profileName;
}

// Reverse lookups for the write API (shared/write-back/reverse-map.ts): label → DrChrono code.

/** DrChrono's `patient_status` enum. */
export const DRCHRONO_PATIENT_STATUSES = ['A', 'I', 'D'] as const;
/** DrChrono's `gender` enum without "" (the empty value clears "Sex"). */
export const DRCHRONO_GENDERS = ['Male', 'Female', 'Other', 'UNK', 'ASKU'] as const;
/** DrChrono's `preferred_language` enum (ISO 639-3 codes plus blank/other/unknown/declined). */
export const DRCHRONO_LANGUAGES = ['blank', 'eng', 'zho', 'fra', 'ita', 'jpn', 'por', 'rus', 'spa', 'other', 'unknown', 'declined'] as const;
/** DrChrono's standard appointment statuses without "" (practices may add custom ones). */
export const DRCHRONO_APPT_STATUSES = [
  'Arrived',
  'Checked In',
  'Checked In Online',
  'In Room',
  'In Session',
  'Complete',
  'Confirmed',
  'Not Confirmed',
  'Rescheduled',
  'Cancelled',
  'No Show',
] as const;

/**
 * The codes whose label, as the forward mapping renders it, is `label`: exact matches, else (only when none
 * is exact) case-insensitive ones. More than one code means the label is ambiguous; the caller decides.
 */
export function codesForLabel(codes: Iterable<string>, render: (code: string) => string, label: string): string[] {
  const domain = [...new Set(codes)];
  const exact = domain.filter((c) => render(c) === label);
  if (exact.length > 0) return exact;
  const folded = label.toLowerCase();
  return domain.filter((c) => render(c).toLowerCase() === folded);
}

/** Codes a "Status" label stands for: DrChrono's enum and the team's list, rendered by statusLabel. */
export function statusCodesForLabel(label: string, choices: Choices): string[] {
  return codesForLabel([...DRCHRONO_PATIENT_STATUSES, ...Object.keys(choices.status)], (c) => statusLabel(c, choices), label);
}

/** Codes a "Sex" label stands for. */
export function sexCodesForLabel(label: string, choices: Choices): string[] {
  return codesForLabel([...DRCHRONO_GENDERS, ...Object.keys(choices.sex)], (c) => sexLabel(c, choices), label);
}

/** Codes a "Language" label stands for: the team's list, then the English names of DrChrono's enum codes. */
export function languageCodesForLabel(label: string, choices: Choices): string[] {
  return codesForLabel([...DRCHRONO_LANGUAGES, ...Object.keys(choices.language)], (c) => languageLabel(c, choices), label);
}

/**
 * Statuses an "Appt Status" label stands for: DrChrono's standard statuses and the team's list. A custom
 * status the team has not listed is not known here (DrChrono publishes no list of a practice's statuses).
 */
export function apptStatusesForLabel(label: string, choices: Choices): string[] {
  return codesForLabel([...DRCHRONO_APPT_STATUSES, ...Object.keys(choices.apptStatus)], (s) => apptStatusLabel(s, choices), label);
}

/**
 * Profile ids an "Appt Profile" value stands for: the label apptProfileLabel renders (team list by id, then
 * by name, then the name), else the profile's own name. Exact before case-insensitive at each step.
 */
export function profileIdsForLabel(label: string, profileNames: ReadonlyMap<number, string>, choices: Choices): number[] {
  const ids = [...profileNames.keys()].map(String);
  const byLabel = codesForLabel(ids, (id) => apptProfileLabel(Number(id), profileNames.get(Number(id)), choices) ?? '', label);
  const found = byLabel.length > 0 ? byLabel : codesForLabel(ids, (id) => profileNames.get(Number(id)) ?? '', label);
  return found.map(Number);
}
