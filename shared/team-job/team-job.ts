import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { budgetLimitOf, consumeApiBudget } from '../budget/api-budget';
import type { BulkListKind, BulkListRequest, BulkPoll } from '../drchrono/bulk';
import { DrChronoError } from '../drchrono/errors';
import type { ListAppointmentsOptions, ListPage, ListPatientsOptions } from '../drchrono/client';
import type { Appointment, AppointmentProfile, Doctor, Patient, PatientFlagType } from '../drchrono/schemas';
import type { IngestMessage } from '../ingest/ingest-message';
import { errorFields, logger } from '../logging/logger';
import { readTeamSyncConfig, type TeamSyncConfig } from '../mapping';
import { writeIntegrationLog, type IntegrationLogEntry } from '../store/integration-log';
import { InvocationDeadline, InvocationDeadlineExceededError } from '../sync/invocation-deadline';
import type { ProcessResult } from '../sync/process-ingest-message';
import type { TeamSecret } from '../teams/team-secret';
import type { TeamItem } from '../teams/team-store';
import { withTeamToken } from './team-api';

/**
 * The one job behind backfill, reconcile and the deletion check: read from DrChrono with the team's token,
 * charged to the team's hourly budget at backfill priority, within the invocation's deadline, and write what
 * was read through the order-guarded path (import-objects.ts). Each schedule supplies only what to read and
 * where its progress lives; failures are classified once (team-api.ts pauseFor): "not now" defers the work
 * item, anything else fails it and SQS retries.
 */
export type WorkResult = { status: 'done' } | { status: 'defer'; delaySeconds: number } | { status: 'retry'; error: unknown };

export interface WorkContext {
  messageId: string;
  /** Unique per invocation (awsRequestId): integration log group id. */
  groupId: string;
  /** The receive after which SQS moves the message to the DLQ. */
  finalAttempt: boolean;
  /** Milliseconds left in the invocation (Lambda's getRemainingTimeInMillis); no deadline when omitted. */
  remainingMs?: () => number;
}

/**
 * Kept back from the invocation for committing progress, writing the log and enqueueing the next item. Work
 * still running then fails like any other error instead of dying in Lambda's timeout with nothing recorded.
 */
export const WORK_RESERVE_MS = 10_000;

/** What the schedules call on DrChrono: a subset of DrChronoClient. */
export interface TeamDrChronoApi {
  listDoctors(): AsyncIterable<Doctor>;
  listAppointmentProfiles(): AsyncIterable<AppointmentProfile>;
  listPatientFlagTypes(): AsyncIterable<PatientFlagType>;
  patientsPage(o: ListPatientsOptions, cursor?: string | null): Promise<ListPage<Patient>>;
  appointmentsPage(o: ListAppointmentsOptions, cursor?: string | null): Promise<ListPage<Appointment>>;
  getPatient(id: number | string, o?: { verbose?: boolean }): Promise<Patient>;
}

export interface TeamBulkApi {
  create(kind: BulkListKind, req: BulkListRequest): Promise<string>;
  waitForPage(kind: BulkListKind, uuid: string, delaysMs: readonly number[]): Promise<BulkPoll>;
}

export interface TeamJobDeps {
  ddb: DynamoDBDocumentClient;
  teamsTable: string;
  recordsTable: string;
  integrationLogTable: string;
  integrationLogTtlDays: number;
  secrets: { get(teamId: string): Promise<TeamSecret | null>; refresh(teamId: string, minAgeMs?: number): Promise<TeamSecret | null> };
  /** The sync worker's processIngestMessage, bound to its deps. */
  process: (msg: IngestMessage) => Promise<ProcessResult>;
  drchrono: (o: { accessToken: () => Promise<string>; beforeCall: () => Promise<void> }) => { api: TeamDrChronoApi; bulk: TeamBulkApi };
  now?: () => Date;
}

/** What a schedule's body gets: the budgeted DrChrono client, the team's field config, the deadline's signal. */
export interface TeamRun {
  api: TeamDrChronoApi;
  bulk: TeamBulkApi;
  config: TeamSyncConfig;
  /** Aborted at the invocation deadline: start no more pages or objects. */
  signal: AbortSignal;
  now: () => Date;
}

export function clockOf(deps: { now?: () => Date }): () => Date {
  return deps.now ?? (() => new Date());
}

/**
 * Runs `body` for a connected team. Throws what DrChrono, the budget or the deadline threw, for the caller
 * to classify with pauseFor (after it has saved whatever progress the body committed).
 */
export async function runTeamJob<T>(team: TeamItem, ctx: WorkContext, deps: TeamJobDeps, who: string, body: (run: TeamRun) => Promise<T>): Promise<T> {
  const now = clockOf(deps);
  const limit = budgetLimitOf(team);
  const config = readTeamSyncConfig(team);
  const deadline = new InvocationDeadline(ctx.remainingMs, WORK_RESERVE_MS);
  try {
    const work = withTeamToken(team.teamId, { ...deps, now }, who, (token) => {
      const { api, bulk } = deps.drchrono({
        accessToken: async () => token,
        // Every DrChrono request is charged before it is made; backfill priority leaves webhooks their reserve.
        beforeCall: async () => {
          await consumeApiBudget(deps.ddb, deps.teamsTable, team.teamId, { limit, priority: 'backfill', now: now() });
        },
      });
      return body({ api, bulk, config, signal: deadline.signal, now });
    }, team.tokenVersion);
    return await deadline.race(work, () => new InvocationDeadlineExceededError());
  } finally {
    deadline.dispose();
  }
}

/** Writes a schedule's integration log entries; a lost log group never makes SQS redo written work. */
export async function writeTeamLog(deps: TeamJobDeps, teamId: string, entries: IntegrationLogEntry[], groupId: string, who: string): Promise<void> {
  if (entries.length === 0) return;
  try {
    await writeIntegrationLog(deps.ddb, deps.integrationLogTable, teamId, entries, { ttlDays: deps.integrationLogTtlDays, now: clockOf(deps)(), groupId });
  } catch (err) {
    logger.error(`${who}: could not write integration log`, { teamId, entries: entries.length, ...errorFields(err) });
  }
}

export function teamEntry(now: Date, event: string, deliveryId: string, outcome: IntegrationLogEntry['outcome'], detail: string, extra: Partial<IntegrationLogEntry> = {}): IntegrationLogEntry {
  return { at: now.toISOString(), event, deliveryId, entity: 'team', outcome, detail, ...extra };
}

/**
 * DrChrono does not document how long a list's `next` link stays valid, and reconcile and the deletion check keep
 * one across hours. A saved link that DrChrono now refuses (400, 404 or 410) is not an error of the job: the
 * caller reads the same query again from its first page, so nothing is skipped (pages read before come back
 * unchanged). A refusal of a first page (no cursor) is a real failure and propagates.
 */
export function isRefusedCursor(err: unknown, cursor: string | null | undefined): boolean {
  return cursor != null && err instanceof DrChronoError && !err.retryable && (err.status === 400 || err.status === 404 || err.status === 410);
}
