import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { budgetLimitOf, consumeApiBudget } from '../budget/api-budget';
import { ApiBudgetExhaustedError, DrChronoError, DrChronoUnauthorizedError } from '../drchrono/errors';
import { requestTokenRefresh } from '../oauth/refresh-request';
import type { AppointmentProfile, Office } from '../drchrono/schemas';
import { findPatientsByChartId, getRecord } from '../store/records';
import type { SyncContextCache } from '../sync/sync-context';
import type { TeamSecretCache } from '../teams/team-secret-cache';
import type { TeamItem } from '../teams/team-store';
import type { WriteLookups } from './reverse-map';

/**
 * The write API's lookups for the reverse mapping (reverse-map.ts WriteLookups). Patients and doctors come from
 * the records table. Appointment profiles come from the PROFILES name cache the sync keeps in the teams table;
 * when it is cold, and for a doctor's offices, the write API asks DrChrono itself with the team's token, charging
 * the team's hourly budget at the 'write-back' priority (docs/write-back.md, "The write API"). A lookup that cannot
 * be answered now throws LookupUnavailableError: the API answers 503 with Retry-After and accepts nothing.
 */
export interface WriteLookupApi {
  listAppointmentProfiles(): AsyncIterable<AppointmentProfile>;
  listOffices(o: { doctor: number | string }): AsyncIterable<Office>;
}

export interface WriteLookupDeps {
  ddb: DynamoDBDocumentClient;
  teamsTable: string;
  recordsTable: string;
  secrets: TeamSecretCache;
  /** Name lists: container memory, then the teams-table cache, then DrChrono (shared with the sync's cache logic). */
  names: SyncContextCache;
  offices: OfficeCache;
  drchrono(o: { accessToken: () => Promise<string>; beforeCall: () => Promise<void> }): WriteLookupApi;
  now?: () => Date;
}

/** A lookup needs DrChrono and DrChrono cannot be asked now (no token, budget spent, DrChrono failing). */
/** Several live patients hold the Chart ID the change names: writing to either could put PHI on the wrong person. */
export class AmbiguousChartIdError extends Error {
  override name = 'AmbiguousChartIdError';
  constructor() {
    super('several patients have this Chart ID');
  }
}

export class LookupUnavailableError extends Error {
  override name = 'LookupUnavailableError';
  constructor(
    readonly reason: 'no-token' | 'budget' | 'drchrono',
    readonly retryAfterSeconds: number,
  ) {
    super(`lookup unavailable: ${reason}`);
  }
}

/** How long a warm container reuses a doctor's office list. Offices change rarely; a new one shows within this. */
export const OFFICE_CACHE_TTL_MS = 15 * 60_000;
/**
 * The write API answers within API Gateway's 29 s (function-settings.ts), so its DrChrono client is short: 5 s per
 * request and one retry (the sync client's 10 s × 3 tries could take ~38 s), and no request starts after
 * WRITE_LOOKUP_DEADLINE_MS from the request's first lookup: a slow DrChrono gives the documented 503 with
 * Retry-After instead of a gateway timeout.
 */
export const WRITE_LOOKUP_CLIENT = { timeoutMs: 5_000, maxRetries: 1, retryBaseDelayMs: 250, retryMaxDelayMs: 1_000 } as const;
export const WRITE_LOOKUP_DEADLINE_MS = 15_000;
const DRCHRONO_RETRY_AFTER_SECONDS = 30;
/** A secret copy older than the team's tokenVersion is re-read at most this often. */
const SECRET_REREAD_MIN_AGE_MS = 30_000;

/** Per-container cache of each team's doctors' non-archived office ids. */
export class OfficeCache {
  private readonly entries = new Map<string, { ids: number[]; at: number }>();
  constructor(private readonly now: () => number = Date.now) {}
  async get(teamId: string, doctorId: string, load: () => Promise<number[]>): Promise<number[]> {
    const key = `${teamId}#${doctorId}`;
    const hit = this.entries.get(key);
    if (hit && this.now() - hit.at < OFFICE_CACHE_TTL_MS) return hit.ids;
    const ids = await load();
    this.entries.set(key, { ids, at: this.now() });
    return ids;
  }
}

export function writeLookups(team: TeamItem, deps: WriteLookupDeps): WriteLookups {
  const teamId = team.teamId;
  const now = deps.now ?? (() => new Date());
  // One writeLookups per request (write-api.ts): the deadline counts from the request's lookups.
  const deadline = now().getTime() + WRITE_LOOKUP_DEADLINE_MS;

  /** The token version the lookup used: named in a refresh request after a 401 (the refresher ignores stale ones). */
  let usedTokenVersion: number | undefined;
  const client = async (): Promise<WriteLookupApi> => {
    const version = team.tokenVersion ?? 0;
    const secret = version > 0 ? await deps.secrets.atLeastVersion(teamId, version, SECRET_REREAD_MIN_AGE_MS) : await deps.secrets.get(teamId);
    const token = secret?.accessToken;
    usedTokenVersion = secret?.tokenVersion;
    if (team.status !== 'connected' || token === undefined) throw new LookupUnavailableError('no-token', DRCHRONO_RETRY_AFTER_SECONDS);
    const limit = budgetLimitOf(team);
    return deps.drchrono({
      accessToken: async () => token,
      beforeCall: async () => {
        if (now().getTime() >= deadline) throw new LookupUnavailableError('drchrono', DRCHRONO_RETRY_AFTER_SECONDS);
        await consumeApiBudget(deps.ddb, deps.teamsTable, teamId, { limit, priority: 'write-back', now: now() });
      },
    });
  };

  /** DrChrono failures become LookupUnavailableError; anything else (our bug, AWS) stays a 5xx. */
  const translated = async <T>(work: () => Promise<T>): Promise<T> => {
    try {
      return await work();
    } catch (err) {
      if (err instanceof ApiBudgetExhaustedError) {
        throw new LookupUnavailableError('budget', Math.max(1, Math.ceil((err.resetAt.getTime() - now().getTime()) / 1000)));
      }
      // A token DrChrono refuses is not ours to refresh here (one writer: the refresher), but the refresher must hear
      // of it, as the sync worker makes it: else the app's retries meet the same 401 until the token's expiry.
      if (err instanceof DrChronoUnauthorizedError) await requestTokenRefresh(deps.ddb, deps.teamsTable, teamId, 'write-api: DrChrono answered 401', now(), usedTokenVersion);
      if (err instanceof DrChronoError) throw new LookupUnavailableError('drchrono', DRCHRONO_RETRY_AFTER_SECONDS);
      throw err;
    }
  };

  return {
    async patientIdByChartId(chartId) {
      const { live } = await findPatientsByChartId(deps.ddb, deps.recordsTable, teamId, chartId);
      if (live.length > 1) throw new AmbiguousChartIdError();
      return live[0]?.drchronoId;
    },
    async doctorExists(doctorId) {
      if (!/^\d{1,20}$/.test(doctorId)) return false;
      const record = await getRecord(deps.ddb, deps.recordsTable, teamId, 'employee', doctorId);
      return record !== undefined && !record.deleted;
    },
    appointmentProfiles() {
      // The token is read only when the cache is cold: a warm cache answers without DrChrono.
      return translated(() =>
        deps.names.nameList(teamId, 'PROFILES', async function* () {
          yield* (await client()).listAppointmentProfiles();
        }),
      );
    },
    officesOfDoctor(doctorId) {
      return deps.offices.get(teamId, doctorId, () =>
        translated(async () => {
          const ids: number[] = [];
          for await (const office of (await client()).listOffices({ doctor: doctorId })) if (office.archived !== true) ids.push(office.id);
          return ids;
        }),
      );
    },
  };
}
