/**
 * TEMPORARY (wip/api only, never to be merged): the reverse-mapping interface of /work/notes/s4/interfaces.md, so
 * the write API compiles before wt-revmap's shared/write-back/reverse-map.ts lands. Merging wip/revmap replaces
 * this file whole (take theirs).
 */
import type { TeamSyncConfig } from '../mapping/team-sync-config';

export interface WriteLookups {
  patientIdByChartId(chartId: string): Promise<string | undefined>;
  doctorExists(doctorId: string): Promise<boolean>;
  appointmentProfiles(): Promise<ReadonlyMap<number, string>>;
  officesOfDoctor(doctorId: string): Promise<number[]>;
}
export interface WriteDefaults {
  office?: number;
  examRoom?: number;
}
export interface FieldProblem {
  field: string;
  problem: string;
}
export type WritePlan = { ok: true; payload: Record<string, unknown>; fieldsWritten: string[] } | { ok: false; problems: FieldProblem[] };
export interface WriteRequest {
  entity: 'patient' | 'appointment';
  op: 'upsert' | 'update' | 'create' | 'delete';
  key: string | null;
  fields: Record<string, unknown>;
}

export function planWrite(_req: WriteRequest, _ctx: { config: TeamSyncConfig; defaults: WriteDefaults; lookups: WriteLookups }): Promise<WritePlan> {
  return Promise.reject(new Error('reverse mapping not merged yet (wip/revmap)'));
}
