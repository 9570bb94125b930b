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
