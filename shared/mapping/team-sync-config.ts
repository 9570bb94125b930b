import * as z from 'zod/mini';
import '../validation/english-messages';
import { APPOINTMENT_FIELDS, EMPLOYEE_FIELDS, PATIENT_FIELDS } from './field-names';

/**
 * Per-team mapping configuration: which fields the team's app has, and its choice lists (DrChrono code →
 * the label the team's app uses). Stored on the team item (teams table, sk 'TEAM') as two attributes.
 */
export const SYNC_FIELDS_ATTRIBUTE = 'syncFields';
export const SYNC_CHOICES_ATTRIBUTE = 'syncChoices';

export const CHOICE_LISTS = ['status', 'language', 'sex', 'apptProfile', 'apptStatus'] as const;
export type ChoiceList = (typeof CHOICE_LISTS)[number];

export interface TeamSyncConfig {
  fields: { patient: string[]; appointment: string[]; employee: string[] };
  /**
   * status: patient_status code → label; language: preferred_language code → label; sex: gender → label;
   * apptProfile: profile id (as a string) or profile name → label; apptStatus: DrChrono status → label.
   */
  choices: Record<ChoiceList, Record<string, string>>;
}

export const DEFAULT_CHOICES: TeamSyncConfig['choices'] = {
  status: { A: 'Active', I: 'Inactive', D: 'Inactive - Deceased' },
  // Other ISO 639-3 codes are named by Intl.DisplayNames (see choice-labels.ts).
  language: { eng: 'English', spa: 'Spanish', blank: 'Blank', other: 'Other', unknown: 'Unknown', declined: 'Declined' },
  sex: { Male: 'Male', Female: 'Female', Other: 'Other', UNK: 'Unknown', ASKU: 'Asked but unknown' },
  apptProfile: {},
  apptStatus: {},
};

export const DEFAULT_TEAM_SYNC_CONFIG: TeamSyncConfig = {
  fields: { patient: [...PATIENT_FIELDS], appointment: [...APPOINTMENT_FIELDS], employee: [...EMPLOYEE_FIELDS] },
  choices: DEFAULT_CHOICES,
};

const fieldList = <T extends readonly [string, ...string[]]>(names: T) =>
  z.array(z.enum(names)).check(z.refine((list) => new Set(list).size === list.length, 'duplicate field name'));

/** What `drchrono-sync team fields` stores: any entity left out keeps the default (all fields). */
export const TeamSyncFieldsSchema = z.strictObject({
  patient: z.optional(fieldList(PATIENT_FIELDS)),
  appointment: z.optional(fieldList(APPOINTMENT_FIELDS)),
  employee: z.optional(fieldList(EMPLOYEE_FIELDS)),
});
export type TeamSyncFields = z.infer<typeof TeamSyncFieldsSchema>;

const choiceMap = z.record(z.string().check(z.minLength(1)), z.string());
/** What `drchrono-sync team choices` stores: entries override the defaults of the same list, key by key. */
export const TeamSyncChoicesSchema = z.strictObject({
  status: z.optional(choiceMap),
  language: z.optional(choiceMap),
  sex: z.optional(choiceMap),
  apptProfile: z.optional(choiceMap),
  apptStatus: z.optional(choiceMap),
});
export type TeamSyncChoices = z.infer<typeof TeamSyncChoicesSchema>;

export const TeamSyncConfigSchema = z.strictObject({
  fields: z.strictObject({
    patient: fieldList(PATIENT_FIELDS),
    appointment: fieldList(APPOINTMENT_FIELDS),
    employee: fieldList(EMPLOYEE_FIELDS),
  }),
  choices: z.strictObject({
    status: choiceMap,
    language: choiceMap,
    sex: choiceMap,
    apptProfile: choiceMap,
    apptStatus: choiceMap,
  }),
});

export class TeamSyncConfigError extends Error {
  override name = 'TeamSyncConfigError';
}

/** Messages name the offending path and rule only; config holds no PHI, but keep the habit. */
function describeIssues(error: z.core.$ZodError): string {
  return error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
}

/**
 * The team's effective config from its team item. A malformed stored config throws rather than silently
 * falling back to "all fields", which would write fields the team never asked for.
 */
export function readTeamSyncConfig(teamItem: Record<string, unknown> | undefined): TeamSyncConfig {
  const rawFields = teamItem?.[SYNC_FIELDS_ATTRIBUTE];
  const rawChoices = teamItem?.[SYNC_CHOICES_ATTRIBUTE];
  const fields = TeamSyncFieldsSchema.safeParse(rawFields ?? {});
  if (!fields.success) throw new TeamSyncConfigError(`invalid ${SYNC_FIELDS_ATTRIBUTE}: ${describeIssues(fields.error)}`);
  const choices = TeamSyncChoicesSchema.safeParse(rawChoices ?? {});
  if (!choices.success) throw new TeamSyncConfigError(`invalid ${SYNC_CHOICES_ATTRIBUTE}: ${describeIssues(choices.error)}`);
  const d = DEFAULT_TEAM_SYNC_CONFIG;
  return {
    fields: {
      patient: fields.data.patient ?? [...d.fields.patient],
      appointment: fields.data.appointment ?? [...d.fields.appointment],
      employee: fields.data.employee ?? [...d.fields.employee],
    },
    choices: {
      status: { ...d.choices.status, ...choices.data.status },
      language: { ...d.choices.language, ...choices.data.language },
      sex: { ...d.choices.sex, ...choices.data.sex },
      apptProfile: { ...d.choices.apptProfile, ...choices.data.apptProfile },
      apptStatus: { ...d.choices.apptStatus, ...choices.data.apptStatus },
    },
  };
}
