import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { getTeamItem, type TeamItem } from '../teams/team-store';
import { readNameCache, writeNameCache, type NameListKind } from '../store/profile-cache';

/**
 * Per-container caches of what the sync worker needs about a team besides the message itself:
 * the team item (status, field config, budget limit), appointment profile and flag type names, and which
 * doctors the store already holds. Lives at module scope in the handler, so a warm container reads each
 * at most once per TTL.
 */
export interface SyncContextCacheOptions {
  ddb: () => DynamoDBDocumentClient;
  teamsTable: string;
  /** How long a team item is reused; config changes apply within this time. Default 30 s. */
  teamTtlMs?: number;
  /** Memory TTL of name lists; the teams-table copy has its own 6 h TTL. Default 15 min. */
  namesTtlMs?: number;
  now?: () => number;
}

const MISSING_ID_REFETCH_MS = 5 * 60_000;
/** How long a container reuses a team item: `team disable` reaches queued work within this (team-removal.ts drains it). */
export const DEFAULT_TEAM_TTL_MS = 30_000;

interface Timed<T> {
  value: T;
  at: number;
}

export class SyncContextCache {
  private readonly teams = new Map<string, Timed<TeamItem | undefined>>();
  private readonly names = new Map<string, Timed<ReadonlyMap<number, string>>>();
  private readonly doctors = new Map<string, Set<string>>();
  private readonly teamTtlMs: number;
  private readonly namesTtlMs: number;
  private readonly now: () => number;

  constructor(private readonly opts: SyncContextCacheOptions) {
    this.teamTtlMs = opts.teamTtlMs ?? DEFAULT_TEAM_TTL_MS;
    this.namesTtlMs = opts.namesTtlMs ?? 15 * 60_000;
    this.now = opts.now ?? Date.now;
  }

  async team(teamId: string): Promise<TeamItem | undefined> {
    const hit = this.teams.get(teamId);
    if (hit && this.now() - hit.at < this.teamTtlMs) return hit.value;
    const value = await getTeamItem(this.opts.ddb(), this.opts.teamsTable, teamId);
    this.teams.set(teamId, { value, at: this.now() });
    return value;
  }

  /**
   * A name list: container memory, else the teams-table cache item, else `fetch` (DrChrono), which is then
   * stored in both. `mustContain`: an id the caller needs; when the cached list lacks it (a profile created
   * since), the list is refetched once.
   */
  async nameList(
    teamId: string,
    kind: NameListKind,
    fetch: () => AsyncIterable<{ id: number; name: string }>,
    mustContain?: number,
  ): Promise<ReadonlyMap<number, string>> {
    const key = `${teamId}#${kind}`;
    const fresh = (m: ReadonlyMap<number, string>) => mustContain === undefined || m.has(mustContain);
    const hit = this.names.get(key);
    if (hit && this.now() - hit.at < this.namesTtlMs) {
      // An id missing from a list fetched moments ago (archived, or another practice's) must not cost a
      // DrChrono call per message: refetch for a missing id at most once per MISSING_ID_REFETCH_MS.
      if (fresh(hit.value) || this.now() - hit.at < MISSING_ID_REFETCH_MS) return hit.value;
    }
    const ddb = this.opts.ddb();
    if (!hit || this.now() - hit.at >= this.namesTtlMs) {
      const stored = await readNameCache(ddb, this.opts.teamsTable, teamId, kind, new Date(this.now()));
      if (stored && fresh(stored)) {
        this.names.set(key, { value: stored, at: this.now() });
        return stored;
      }
    }
    const fetched = new Map<number, string>();
    for await (const item of fetch()) fetched.set(item.id, item.name);
    await writeNameCache(ddb, this.opts.teamsTable, teamId, kind, fetched, new Date(this.now()));
    this.names.set(key, { value: fetched, at: this.now() });
    return fetched;
  }

  knowsDoctor(teamId: string, doctorId: string): boolean {
    return this.doctors.get(teamId)?.has(doctorId) ?? false;
  }

  rememberDoctor(teamId: string, doctorId: string): void {
    let set = this.doctors.get(teamId);
    if (!set) this.doctors.set(teamId, (set = new Set()));
    set.add(doctorId);
  }

  /** Drop a team's cached item (e.g. after the CLI changed it, in tests). */
  forgetTeam(teamId?: string): void {
    if (teamId === undefined) this.teams.clear();
    else this.teams.delete(teamId);
  }
}
