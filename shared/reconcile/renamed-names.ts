import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import * as z from 'zod/mini';
import { logger } from '../logging/logger';
import { apptProfileLabel } from '../mapping/choice-labels';
import { PATIENT_FLAG_FIELDS } from '../mapping/field-names';
import type { TeamSyncConfig } from '../mapping/team-sync-config';
import type { IntegrationLogEntry } from '../store/integration-log';
import { forgetNames, readSeenNames, writeNameCache, type NameListKind } from '../store/profile-cache';
import { contentHash } from '../store/record-version';
import { recordPk } from '../store/records';
import type { TeamRun } from '../team-job/team-job';

/**
 * Renamed appointment profiles and patient flag types. DrChrono fires no webhook for either, and a rename
 * changes no appointment's or patient's `updated_at`, so neither webhooks nor reconcile's `since` window ever
 * re-map the records that hold the old name ("Appt Profile"; "Patient Flags" / "Patient Flags and
 * Descriptions"). Reconcile therefore re-reads both lists once a day (NAME_REFRESH_HOURS), compares them with
 * every name records may hold (the names it read last time, kept in the reconcile state item, `names`, and every
 * name any list fetch has seen since, profile-cache.ts: a sync container may have refreshed the cache with the
 * new name before this check, and a name can change twice in a day), and relabels the records that still hold
 * an old label:
 *
 *  1. The new names go to the sync worker's name cache (profile-cache.ts) first, so a delivery mapped from then
 *     on uses them.
 *  2. The records partition of the entity is read page by page (Query, FilterExpression on the old labels for
 *     appointments) and each hit is updated with a condition on the version, the content hash and the label
 *     it was read with: a concurrent delivery of a newer state (which maps with whatever name it had) is never
 *     overwritten. Each page's position is committed to the state item, so a large team resumes.
 *  3. A delivery that read the OLD name before step 1 (a warm container keeps a list in memory for up to 15
 *     minutes, an invocation runs up to 15 minutes) can still write it after the sweep passed its record. So
 *     the renames stay pending until a sweep that started NAME_SETTLE_MINUTES after step 1 has finished: the
 *     next hourly reconcile run sweeps once more and catches those.
 *
 * The content hash is recomputed the way writeRecord computes it (contentHash over the mapped fields) when the
 * stored hash can be reproduced from the item; otherwise it is left alone, and the next duplicate delivery of
 * that record becomes a 'tie' that costs one DrChrono fetch (record-version.ts).
 *
 * No DrChrono call per record: one list read per day per name list (two when the team maps a flag field).
 */
export const NAME_REFRESH_HOURS = 24;
/** sync-context.ts keeps a name list in memory 15 minutes; an invocation (sync, backfill) runs at most 15. */
export const NAME_SETTLE_MINUTES = 30;
/** Items evaluated per Query page (before the filter): bounds one page's work and the state commits. */
export const NAME_SWEEP_PAGE_ITEMS = 500;

export type NameEntity = 'appointment' | 'patient';

const RenameSchema = z.object({ from: z.string(), to: z.string() });
export type Rename = z.infer<typeof RenameSchema>;
const NamePairSchema = z.object({ id: z.string(), name: z.string() });
export type NamePair = z.infer<typeof NamePairSchema>;

const NameFanOutSchema = z.object({
  appointment: z.array(RenameSchema),
  patient: z.array(RenameSchema),
  /** When the new names were in the cache + NAME_SETTLE_MINUTES: a sweep started after it is the last. */
  settleAt: z.string(),
  /** The sweep under way: when it started, which partition, where (null: the partition's first page). */
  sweep: z.optional(z.object({ startedAt: z.string(), entity: z.enum(['appointment', 'patient']), startKey: z.nullable(z.record(z.string(), z.unknown())) })),
  updated: z.number(),
  /**
   * A profile name changed: appointments that store the profile id (`profileId`) are relabelled from the current
   * names by id, which needs no guess from the old label (a rename whose old label is another profile's name).
   */
  appointmentById: z.optional(z.boolean()),
  /** Old names to drop from the seen-names history (profile-cache.ts) once the last sweep is done. */
  forget: z.optional(z.object({ profiles: z.array(NamePairSchema), flagTypes: z.array(NamePairSchema) })),
});
export type NameFanOut = z.infer<typeof NameFanOutSchema>;

export const NameStateSchema = z.object({
  /** When the lists were last read from DrChrono. */
  checkedAt: z.optional(z.string()),
  /** id → name as read then: what records were written with, the baseline for the next comparison. */
  profiles: z.optional(z.record(z.string(), z.string())),
  flagTypes: z.optional(z.record(z.string(), z.string())),
  fanOut: z.optional(NameFanOutSchema),
});
export type NameState = z.infer<typeof NameStateSchema>;

export function namesDue(state: NameState | undefined, now: Date): boolean {
  if (!state?.checkedAt) return true;
  return now.getTime() - Date.parse(state.checkedAt) >= NAME_REFRESH_HOURS * 3_600_000;
}

export function mapsProfiles(config: TeamSyncConfig): boolean {
  return config.fields.appointment.includes('Appt Profile');
}

export function mapsFlags(config: TeamSyncConfig): boolean {
  return PATIENT_FLAG_FIELDS.some((f) => config.fields.patient.includes(f));
}

type Names = Readonly<Record<string, string>>;

/**
 * Label changes between the names records may hold (`before`: per id, the name or every name seen) and the
 * current list. Appointment profiles go through the team's choice list (a profile mapped by id keeps its label
 * whatever its name). A rename whose old label is the current label of another entry is ambiguous (records
 * holding it may belong to that entry) and is left out, counted in `ambiguous`.
 */
export function renamesBetween(before: Readonly<Record<string, string | readonly string[]>>, after: Names, label: (id: number, name: string) => string | undefined): { renames: Rename[]; ambiguous: number } {
  const current = new Set(Object.entries(after).map(([id, name]) => label(Number(id), name)));
  const renames: Rename[] = [];
  let ambiguous = 0;
  for (const [id, old] of Object.entries(before)) {
    const newName = after[id];
    if (newName === undefined) continue;
    for (const oldName of typeof old === 'string' ? [old] : old) {
      if (oldName === newName) continue;
      const from = label(Number(id), oldName);
      const to = label(Number(id), newName);
      if (from === undefined || to === undefined || from === to || renames.some((r) => r.from === from && r.to === to)) continue;
      if (current.has(from) || renames.some((r) => r.from === from && r.to !== to)) {
        ambiguous++;
        continue;
      }
      renames.push({ from, to });
    }
  }
  return { renames, ambiguous };
}

/** The names records may hold: the last list reconcile read, the sync cache's list and every name seen since. */
export function namesRecordsMayHold(...sources: readonly (Readonly<Record<string, string | readonly string[]>> | undefined)[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const source of sources) {
    for (const [id, v] of Object.entries(source ?? {})) {
      const list = (out[id] ??= []);
      for (const name of typeof v === 'string' ? [v] : v) if (!list.includes(name)) list.push(name);
    }
  }
  return out;
}

/** The (id, old name) pairs a check has dealt with: forgotten from the history once the sweep is done. */
export function oldNamePairs(before: Readonly<Record<string, readonly string[]>>, after: Names): NamePair[] {
  return Object.entries(before).flatMap(([id, names]) => (after[id] === undefined ? [] : names.filter((n) => n !== after[id]).map((name) => ({ id, name }))));
}

/** Pending renames followed by new ones: A→B then B→C is A→C and B→C. */
export function composeRenames(pending: readonly Rename[], fresh: readonly Rename[]): Rename[] {
  const out = pending.map((r) => ({ from: r.from, to: fresh.find((f) => f.from === r.to)?.to ?? r.to }));
  for (const f of fresh) if (!out.some((r) => r.from === f.from)) out.push(f);
  return out.filter((r) => r.from !== r.to);
}

function renamed(value: string, renames: readonly Rename[]): string {
  return renames.find((r) => r.from === value)?.to ?? value;
}

/** "Patient Flags": names, each once (as map-patient.ts writes them). */
function relabelFlagNames(names: readonly string[], renames: readonly Rename[]): string[] {
  const out: string[] = [];
  for (const n of names.map((n) => renamed(n, renames))) if (!out.includes(n)) out.push(n);
  return out;
}

/** "Patient Flags and Descriptions": `name` or `name: text` (map-patient.ts). */
function relabelFlagDescriptions(items: readonly string[], renames: readonly Rename[]): string[] {
  return items.map((item) => {
    for (const r of renames) {
      if (item === r.from) return r.to;
      if (item.startsWith(`${r.from}: `)) return `${r.to}${item.slice(r.from.length)}`;
    }
    return item;
  });
}

const isStringList = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');

/** An appointment profile id → its label now (undefined: unknown profile, leave the record alone). */
export type ProfileLabel = (profileId: number) => string | undefined;

/**
 * The relabelled values of a stored item's name fields: only the fields that change. An appointment that stores
 * its profile id is relabelled by id (`profileLabel`); one written before ids were stored, by its old label.
 */
export function relabelledFields(entity: NameEntity, item: Record<string, unknown>, renames: readonly Rename[], profileLabel?: ProfileLabel): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  if (entity === 'appointment') {
    const v = item['Appt Profile'];
    if (typeof v !== 'string') return out;
    if (typeof item.profileId === 'number' && profileLabel) {
      const label = profileLabel(item.profileId);
      if (label !== undefined && label !== v) out['Appt Profile'] = label;
      return out;
    }
    if (renamed(v, renames) !== v) out['Appt Profile'] = renamed(v, renames);
    return out;
  }
  const flags = item['Patient Flags'];
  if (isStringList(flags)) {
    const next = relabelFlagNames(flags, renames);
    if (JSON.stringify(next) !== JSON.stringify(flags)) out['Patient Flags'] = next;
  }
  const described = item['Patient Flags and Descriptions'];
  if (isStringList(described)) {
    const next = relabelFlagDescriptions(described, renames);
    if (JSON.stringify(next) !== JSON.stringify(described)) out['Patient Flags and Descriptions'] = next;
  }
  return out;
}

/**
 * The item's content hash with `changes` applied, computed as writeRecord does (contentHash over the mapped
 * fields, an empty field as null), or undefined when the stored hash cannot be reproduced from the item (a
 * field the mapping skipped, a changed field list): then the hash is left as stored.
 */
export function rehash(item: Record<string, unknown>, mappedFields: readonly string[], changes: Record<string, unknown>): string | undefined {
  const candidates = [mappedFields, mappedFields.filter((f) => item[f] !== undefined)];
  for (const keys of candidates) {
    const pick = (src: Record<string, unknown>) => Object.fromEntries(keys.map((k) => [k, src[k] ?? null]));
    if (contentHash(pick(item)) === item.contentHash) return contentHash(pick({ ...item, ...changes }));
  }
  return undefined;
}

/**
 * Relabel one record as read by the sweep. Applies only if the record still holds exactly what was read
 * (version, content hash, the name fields, and for appointments the patient reference state, which the Chart
 * ID fan-out changes without a new version): a newer state written meanwhile is never overwritten.
 * Returns the fields written, or undefined when nothing was (nothing to change, or the record moved on).
 */
export async function relabelRecord(
  ddb: DynamoDBDocumentClient,
  table: string,
  teamId: string,
  entity: NameEntity,
  item: Record<string, unknown>,
  renames: readonly Rename[],
  config: TeamSyncConfig,
  deliveryId: string,
  profileLabel?: ProfileLabel,
): Promise<string[] | undefined> {
  if (item.deleted === true) return undefined;
  const changes = relabelledFields(entity, item, renames, profileLabel);
  const fields = Object.keys(changes);
  if (fields.length === 0) return undefined;
  const hash = rehash(item, config.fields[entity], changes);
  const names: Record<string, string> = { '#version': 'version', '#deleted': 'deleted', '#contentHash': 'contentHash' };
  const values: Record<string, unknown> = { ':v': item.version, ':delivery': deliveryId };
  const sets = ['lastDeliveryId = :delivery'];
  const conditions = ['#version = :v', 'attribute_not_exists(#deleted)'];
  if (typeof item.contentHash === 'string') {
    conditions.push('#contentHash = :oldHash');
    values[':oldHash'] = item.contentHash;
    if (hash !== undefined) {
      sets.push('#contentHash = :h');
      values[':h'] = hash;
    }
  }
  fields.forEach((f, i) => {
    names[`#f${i}`] = f;
    values[`:old${i}`] = item[f];
    values[`:new${i}`] = changes[f];
    conditions.push(`#f${i} = :old${i}`);
    sets.push(`#f${i} = :new${i}`);
  });
  if (entity === 'appointment') {
    if (typeof item.patientVersion === 'string') {
      conditions.push('patientVersion = :pv');
      values[':pv'] = item.patientVersion;
    } else {
      conditions.push('attribute_not_exists(patientVersion)');
    }
  }
  try {
    await ddb.send(
      new UpdateCommand({
        TableName: table,
        Key: { pk: recordPk(teamId, entity), sk: String(item.sk) },
        UpdateExpression: `SET ${sets.join(', ')}`,
        ConditionExpression: conditions.join(' AND '),
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
      }),
    );
    return fields;
  } catch (err) {
    if (err instanceof ConditionalCheckFailedException) return undefined;
    throw err;
  }
}

/** One page of a partition's records that may hold an old label (the filter does not lower the read cost). */
async function sweepQuery(ddb: DynamoDBDocumentClient, table: string, teamId: string, entity: NameEntity, renames: readonly Rename[], byId: boolean, startKey: Record<string, unknown> | null) {
  const names: Record<string, string> = {};
  const values: Record<string, unknown> = { ':pk': recordPk(teamId, entity) };
  let filter: string;
  if (entity === 'appointment' && byId) {
    // Any appointment may hold a label its profile id no longer gives.
    names['#p'] = 'Appt Profile';
    filter = 'attribute_exists(#p)';
  } else if (entity === 'appointment' && renames.length <= 99) {
    names['#p'] = 'Appt Profile';
    renames.forEach((r, i) => (values[`:o${i}`] = r.from));
    filter = `#p IN (${renames.map((_, i) => `:o${i}`).join(', ')})`;
  } else if (entity === 'appointment') {
    names['#p'] = 'Appt Profile';
    filter = 'attribute_exists(#p)';
  } else {
    names['#a'] = 'Patient Flags';
    names['#b'] = 'Patient Flags and Descriptions';
    filter = 'attribute_exists(#a) OR attribute_exists(#b)';
  }
  return ddb.send(
    new QueryCommand({
      TableName: table,
      KeyConditionExpression: 'pk = :pk',
      FilterExpression: filter,
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
      Limit: NAME_SWEEP_PAGE_ITEMS,
      ...(startKey ? { ExclusiveStartKey: startKey } : {}),
    }),
  );
}

export interface NameRefreshDeps {
  ddb: DynamoDBDocumentClient;
  teamsTable: string;
  recordsTable: string;
}

/** What the sweep reports back: the state to commit after each step, and the log entries of the step. */
export type CommitNames = (next: NameState, entries: IntegrationLogEntry[]) => Promise<void>;

function toMap(names: Names): Map<number, string> {
  return new Map(Object.entries(names).map(([id, name]) => [Number(id), name]));
}

async function readList(fetch: () => AsyncIterable<{ id: number; name: string }>): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for await (const item of fetch()) out[String(item.id)] = item.name;
  return out;
}

/** The names the sync worker's cache holds (expired or not): the baseline of a team reconcile has not read yet. */
async function cachedNames(ddb: DynamoDBDocumentClient, table: string, teamId: string, kind: NameListKind): Promise<Record<string, string> | undefined> {
  const out = await ddb.send(new GetCommand({ TableName: table, Key: { pk: teamId, sk: kind } }));
  const names = out.Item?.names;
  if (!names || typeof names !== 'object') return undefined;
  return Object.fromEntries(Object.entries(names as Record<string, unknown>).filter((e): e is [string, string] => typeof e[1] === 'string'));
}

/**
 * Re-read the name lists (when due), then carry any pending fan-out forward. `commit` is called after every
 * step (list read, each swept page), so an interrupted run resumes where it stopped. Returns the final state.
 */
export async function refreshRenamedNames(teamId: string, runId: string, run: TeamRun, deps: NameRefreshDeps, state: NameState, commit: CommitNames): Promise<NameState> {
  const { config } = run;
  let current = state;
  if (namesDue(current, run.now()) && (mapsProfiles(config) || mapsFlags(config))) {
    const entries: IntegrationLogEntry[] = [];
    const next: NameState = { ...current, checkedAt: run.now().toISOString() };
    let appointment: Rename[] = [];
    let patient: Rename[] = [];
    const forget = { profiles: [] as NamePair[], flagTypes: [] as NamePair[] };
    if (mapsProfiles(config)) {
      const after = await readList(() => run.api.listAppointmentProfiles());
      const before = namesRecordsMayHold(current.profiles, current.profiles ? undefined : await cachedNames(deps.ddb, deps.teamsTable, teamId, 'PROFILES'), await readSeenNames(deps.ddb, deps.teamsTable, teamId, 'PROFILES'));
      // Before the sweep: a delivery mapped from now on uses the new names (late ones are caught by the settle sweep).
      await writeNameCache(deps.ddb, deps.teamsTable, teamId, 'PROFILES', toMap(after), run.now());
      const r = renamesBetween(before, after, (id, name) => apptProfileLabel(id, name, config.choices));
      appointment = r.renames;
      forget.profiles = oldNamePairs(before, after);
      if (r.ambiguous > 0) entries.push(ambiguousEntry(run.now(), runId, 'appointment profile', r.ambiguous));
      next.profiles = after;
    }
    if (mapsFlags(config)) {
      const after = await readList(() => run.api.listPatientFlagTypes());
      const before = namesRecordsMayHold(current.flagTypes, current.flagTypes ? undefined : await cachedNames(deps.ddb, deps.teamsTable, teamId, 'FLAG_TYPES'), await readSeenNames(deps.ddb, deps.teamsTable, teamId, 'FLAG_TYPES'));
      await writeNameCache(deps.ddb, deps.teamsTable, teamId, 'FLAG_TYPES', toMap(after), run.now());
      const r = renamesBetween(before, after, (_id, name) => name);
      patient = r.renames;
      forget.flagTypes = oldNamePairs(before, after);
      if (r.ambiguous > 0) entries.push(ambiguousEntry(run.now(), runId, 'patient flag type', r.ambiguous));
      next.flagTypes = after;
    }
    const profileNameChanged = forget.profiles.length > 0;
    if (appointment.length > 0 || patient.length > 0 || profileNameChanged) {
      const pending = current.fanOut;
      next.fanOut = {
        appointment: composeRenames(pending?.appointment ?? [], appointment),
        ...(profileNameChanged || pending?.appointmentById ? { appointmentById: true } : {}),
        patient: composeRenames(pending?.patient ?? [], patient),
        settleAt: new Date(run.now().getTime() + NAME_SETTLE_MINUTES * 60_000).toISOString(),
        // A sweep under way starts over: its earlier pages did not know the new renames.
        updated: pending?.updated ?? 0,
        forget: { profiles: [...(pending?.forget?.profiles ?? []), ...forget.profiles], flagTypes: [...(pending?.forget?.flagTypes ?? []), ...forget.flagTypes] },
      };
      logger.info('reconcile: renamed names found', { teamId, runId, profiles: appointment.length, flagTypes: patient.length });
    }
    await commit(next, entries);
    current = next;
    // Nothing to relabel (only ambiguous names, or none): the old names are dealt with now.
    if (!next.fanOut) await forgetOldNames(deps, teamId, forget);
  }
  while (current.fanOut) {
    if (run.signal.aborted) return current;
    const fanOut: NameFanOut = current.fanOut;
    const sweep = fanOut.sweep ?? { startedAt: run.now().toISOString(), entity: firstEntity(fanOut), startKey: null };
    const renames = fanOut[sweep.entity];
    const byId = sweep.entity === 'appointment' && fanOut.appointmentById === true;
    const entries: IntegrationLogEntry[] = [];
    let updated = 0;
    if (renames.length > 0 || byId) {
      const page = await sweepQuery(deps.ddb, deps.recordsTable, teamId, sweep.entity, renames, byId, sweep.startKey);
      const deliveryId = `reconcile:${runId}:names`;
      const names = current.profiles ?? {};
      const profileLabel: ProfileLabel = (id) => (names[String(id)] === undefined ? undefined : apptProfileLabel(id, names[String(id)], config.choices));
      for (const item of page.Items ?? []) {
        const fields = await relabelRecord(deps.ddb, deps.recordsTable, teamId, sweep.entity, item, renames, config, deliveryId, byId ? profileLabel : undefined);
        if (!fields) continue;
        updated++;
        entries.push({
          at: run.now().toISOString(),
          event: 'RECONCILE',
          deliveryId,
          entity: sweep.entity,
          drchronoId: String(item.sk),
          outcome: 'updated',
          fieldsWritten: fields,
          detail: sweep.entity === 'appointment' ? 'appointment profile renamed in DrChrono' : 'patient flag type renamed in DrChrono',
        });
      }
      if (page.LastEvaluatedKey) {
        current = { ...current, fanOut: { ...fanOut, updated: fanOut.updated + updated, sweep: { ...sweep, startKey: page.LastEvaluatedKey } } };
        await commit(current, entries);
        continue;
      }
    }
    const nextEntity: NameEntity | undefined = sweep.entity === 'appointment' && fanOut.patient.length > 0 ? 'patient' : undefined;
    if (nextEntity) {
      current = { ...current, fanOut: { ...fanOut, updated: fanOut.updated + updated, sweep: { ...sweep, entity: nextEntity, startKey: null } } };
    } else if (sweep.startedAt >= fanOut.settleAt) {
      // The last sweep: every delivery that could have mapped an old name had written before it started.
      const { fanOut: _done, ...rest } = current;
      current = rest;
      // Before the commit: a crash in between resumes the (finished) sweep and forgets again, a no-op.
      if (fanOut.forget) await forgetOldNames(deps, teamId, fanOut.forget);
      logger.info('reconcile: renamed names applied', { teamId, runId, records: fanOut.updated + updated });
    } else {
      // Swept once; once more after settleAt (the next hourly run) for deliveries that mapped the old name late.
      const { sweep: _swept, ...pending } = fanOut;
      current = { ...current, fanOut: { ...pending, updated: fanOut.updated + updated } };
      await commit(current, entries);
      return current;
    }
    await commit(current, entries);
  }
  return current;
}

async function forgetOldNames(deps: NameRefreshDeps, teamId: string, forget: { profiles: readonly NamePair[]; flagTypes: readonly NamePair[] }): Promise<void> {
  await forgetNames(deps.ddb, deps.teamsTable, teamId, 'PROFILES', forget.profiles);
  await forgetNames(deps.ddb, deps.teamsTable, teamId, 'FLAG_TYPES', forget.flagTypes);
}

function firstEntity(f: NameFanOut): NameEntity {
  return f.appointment.length > 0 || f.appointmentById ? 'appointment' : 'patient';
}

function ambiguousEntry(now: Date, runId: string, what: string, n: number): IntegrationLogEntry {
  return {
    at: now.toISOString(),
    event: 'RECONCILE',
    deliveryId: `reconcile:${runId}:names`,
    entity: 'team',
    outcome: 'info',
    detail:
      what === 'appointment profile'
        ? `${n} renamed ${what}(s) not relabelled by name: the old name is now another one's name; appointments that store their profile id are relabelled by id, older ones change with their next update`
        : `${n} renamed ${what}(s) not relabelled: the old name is now another one's name; the records change with their next update`,
  };
}
