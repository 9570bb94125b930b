import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { readTeamSecret, TeamSecretNotFoundError, type TeamSecret } from './team-secret';

/**
 * Per-container cache of team secrets with a bounded TTL, so a warm invocation makes no Secrets Manager
 * call. Unknown teams are cached too (for a shorter time), so a flood of requests for random team ids
 * cannot turn into a flood of Secrets Manager calls.
 */
export interface TeamSecretCacheOptions {
  client: () => SecretsManagerClient;
  prefix: string;
  ttlMs?: number;
  notFoundTtlMs?: number;
  now?: () => number;
  /**
   * Optional cheap existence check consulted before Secrets Manager on a cache miss. A request for a random
   * team id then costs an eventually consistent DynamoDB read (about 1/80 of a GetSecretValue, with no KMS
   * call) instead of a Secrets Manager call.
   */
  teamExists?: (teamId: string) => Promise<boolean>;
  /** At most this many teams are kept; the least recently used is dropped first. Default TEAM_SECRET_CACHE_MAX_ENTRIES. */
  maxEntries?: number;
}

/**
 * A container serving thousands of teams keeps memory bounded (a secret is about 1 KB with its previous webhook
 * tokens): entries are otherwise dropped only when a stale one is read again, so teams that stop delivering would
 * stay for the container's life.
 */
export const TEAM_SECRET_CACHE_MAX_ENTRIES = 5_000;

/** `reReadFor`: the highest team tokenVersion this copy was read for (atLeastVersion). */
type Entry = { secret: TeamSecret | null; fetchedAt: number; reReadFor?: number };

export class TeamSecretCache {
  private readonly entries = new Map<string, Entry>();
  private readonly inflight = new Map<string, Promise<Entry>>();
  private readonly ttlMs: number;
  private readonly notFoundTtlMs: number;
  private readonly now: () => number;
  private readonly maxEntries: number;

  constructor(private readonly opts: TeamSecretCacheOptions) {
    this.maxEntries = Math.max(1, opts.maxEntries ?? TEAM_SECRET_CACHE_MAX_ENTRIES);
    this.ttlMs = opts.ttlMs ?? 5 * 60_000;
    this.notFoundTtlMs = opts.notFoundTtlMs ?? 30_000;
    // Looked up per call, not captured: a clock moved under test reaches a cache built earlier (a warm container's).
    this.now = opts.now ?? (() => Date.now());
  }

  /** The team's secret, or null when the team has none (unknown team). */
  async get(teamId: string): Promise<TeamSecret | null> {
    const cached = this.cached(teamId);
    if (cached && !this.isStale(cached)) return cached.secret;
    return (await this.load(teamId)).secret;
  }

  /**
   * Re-read the secret unless the cached copy is younger than minAgeMs. Callers use this after an
   * authentication failure, bounded so that repeated failures cost at most one read per minAgeMs.
   */
  async refresh(teamId: string, minAgeMs = 0): Promise<TeamSecret | null> {
    const cached = this.cached(teamId);
    if (cached && this.now() - cached.fetchedAt < minAgeMs) return cached.secret;
    return (await this.load(teamId)).secret;
  }

  /**
   * The secret, re-read when the cached copy's tokenVersion is below `version` (the team item's: a secret writer
   * claimed it, so the copy predates a write). The first ask for a version re-reads at once, so a change reaches a
   * warm container on its next request; while the copy stays below it (the writer claims before it writes, or its
   * write failed) further reads are bounded to one per minAgeMs. Only secret writers move the version.
   */
  async atLeastVersion(teamId: string, version: number, minAgeMs: number): Promise<TeamSecret | null> {
    const cached = this.cached(teamId);
    if (cached && !this.isStale(cached)) {
      if (cached.secret === null || (cached.secret.tokenVersion ?? 0) >= version) return cached.secret;
      if ((cached.reReadFor ?? -1) >= version && this.now() - cached.fetchedAt < minAgeMs) return cached.secret;
    }
    const entry = await this.load(teamId);
    entry.reReadFor = Math.max(entry.reReadFor ?? -1, version);
    return entry.secret;
  }

  /** Age in ms of the cached entry, or undefined when nothing is cached. */
  ageOf(teamId: string): number | undefined {
    const cached = this.entries.get(teamId);
    return cached ? this.now() - cached.fetchedAt : undefined;
  }

  invalidate(teamId?: string): void {
    if (teamId === undefined) this.entries.clear();
    else this.entries.delete(teamId);
  }

  /** The entry, moved to the most recently used end (a Map iterates in insertion order). */
  private cached(teamId: string): Entry | undefined {
    const e = this.entries.get(teamId);
    if (e) {
      this.entries.delete(teamId);
      this.entries.set(teamId, e);
    }
    return e;
  }

  private store(teamId: string, entry: Entry): void {
    this.entries.delete(teamId);
    while (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
    this.entries.set(teamId, entry);
  }

  private isStale(e: Entry): boolean {
    const ttl = e.secret === null ? this.notFoundTtlMs : this.ttlMs;
    return this.now() - e.fetchedAt >= ttl;
  }

  private load(teamId: string): Promise<Entry> {
    const running = this.inflight.get(teamId);
    if (running) return running;
    const p = (async () => {
      try {
        if (this.opts.teamExists && !(await this.opts.teamExists(teamId))) {
          const entry = { secret: null, fetchedAt: this.now() };
          this.store(teamId, entry);
          return entry;
        }
        const secret = await readTeamSecret(this.opts.client(), this.opts.prefix, teamId);
        const entry = { secret, fetchedAt: this.now() };
        this.store(teamId, entry);
        return entry;
      } catch (err) {
        if (err instanceof TeamSecretNotFoundError) {
          const entry = { secret: null, fetchedAt: this.now() };
          this.store(teamId, entry);
          return entry;
        }
        throw err;
      }
    })().finally(() => this.inflight.delete(teamId));
    this.inflight.set(teamId, p);
    return p;
  }
}
