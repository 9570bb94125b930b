import { documentClient, secretsClient } from '../../shared/aws/clients';
import { DrChronoClient } from '../../shared/drchrono/client';
import type { Doctor } from '../../shared/drchrono/schemas';
import { readTeamSyncConfig, type TeamSyncConfig } from '../../shared/mapping';
import { mapsFlags } from '../../shared/reconcile/renamed-names';
import { writeNameCache } from '../../shared/store/profile-cache';
import { importDoctors } from '../../shared/team-job/import-objects';
import { readTeamSecret } from '../../shared/teams/team-secret';
import { getTeamItem } from '../../shared/teams/team-store';
import type { PlatformInfo } from '../../local/platform-info';
import type { BenchTeam } from '../sandbox';

/**
 * What the connect backfill leaves behind that the sync path looks up, for the scale section's "backfilled"
 * teams: the practice's doctors as employee records (the sync worker reads them before fetching a referenced
 * doctor) and the appointment profile names (and flag type names when the team maps flags) in the teams-table
 * name cache. Written with the backfill's own functions (`importDoctors`, `writeNameCache`, as the backfill's
 * `doctors` and `profiles` phases call them), so the items are exactly the backfill's.
 *
 * The backfill's patient and appointment pages are not imported: the section's deliveries all create new
 * objects, so no stored patient or appointment changes what a delivery does. Running the real backfill per team
 * would also bulk-import the sandbox practice's seeded objects 1,000 times over, minutes of set-up for nothing
 * the measured path reads.
 */
export interface PracticeLists {
  doctors: Doctor[];
  profiles: Map<number, string>;
  /** Only when the teams map a patient flag field (the backfill reads the list only then). */
  flagTypes?: Map<number, string>;
  config: TeamSyncConfig;
}

/**
 * The lists, read once through one team's DrChrono token: every bench team's app is authorised on the
 * sandbox's one practice, so each team's backfill would read the same lists. Read before the section resets the
 * per-app call counters, so these calls are set-up, not measured.
 */
export async function readPracticeLists(info: PlatformInfo, team: BenchTeam): Promise<PracticeLists> {
  const item = await getTeamItem(documentClient(), info.resources.teamsTable, team.teamId, true);
  const config = readTeamSyncConfig(item);
  const secret = await readTeamSecret(secretsClient(), info.resources.teamSecretPrefix, team.teamId);
  const token = secret.accessToken;
  if (!token) throw new Error('bench team has no access token');
  if (!info.sandboxUrl) throw new Error('the local platform runs without the DrChrono sandbox');
  const api = new DrChronoClient({ baseUrl: info.sandboxUrl, accessToken: () => Promise.resolve(token) });
  const doctors: Doctor[] = [];
  for await (const d of api.listDoctors()) doctors.push(d);
  const profiles = new Map<number, string>();
  for await (const p of api.listAppointmentProfiles()) profiles.set(p.id, p.name);
  let flagTypes: Map<number, string> | undefined;
  if (mapsFlags(config)) {
    flagTypes = new Map();
    for await (const t of api.listPatientFlagTypes()) flagTypes.set(t.id, t.name);
  }
  if (doctors.length === 0) throw new Error('the sandbox practice has no doctors: nothing to seed');
  return { doctors, profiles, config, ...(flagTypes ? { flagTypes } : {}) };
}

/** One team's share of the backfill: its employee records and name caches, as the backfill writes them. */
export async function seedBackfilledState(info: PlatformInfo, teamId: string, lists: PracticeLists, now: Date = new Date()): Promise<void> {
  const ddb = documentClient();
  const r = await importDoctors(teamId, 'backfill', 'bench-scale', lists.doctors, { ddb, recordsTable: info.resources.recordsTable, config: lists.config, now: () => now });
  if (r.outcomes.failed > 0) throw new Error(`${r.outcomes.failed} doctor(s) did not map: the seeding is not what the backfill stores`);
  await writeNameCache(ddb, info.resources.teamsTable, teamId, 'PROFILES', lists.profiles, now);
  if (lists.flagTypes) await writeNameCache(ddb, info.resources.teamsTable, teamId, 'FLAG_TYPES', lists.flagTypes, now);
}
