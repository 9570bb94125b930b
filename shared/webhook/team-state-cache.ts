import type { WebhookTeamView } from './receive-webhook';

/**
 * How long a container reuses a team's webhook view (state and tokenVersion). A team disabled, fenced for removal
 * or rotated with `--overlap 0` reaches every warm webhook container within this. One second: the per-request read
 * it replaces was eventually consistent, so "at once" always meant "within about a second" (DynamoDB replication),
 * and a busy team (10 deliveries a second per container) still pays one read per 10 deliveries
 * (docs/webhook.md, "Team state").
 */
export const WEBHOOK_TEAM_STATE_TTL_MS = 1_000;

/**
 * Most views kept: requests for random team ids are cached as `gone` too (so they cost no read within the TTL),
 * and must not grow a container's memory without bound. The oldest view is dropped first.
 */
export const WEBHOOK_TEAM_STATE_MAX_ENTRIES = 10_000;

export interface WebhookTeamStateCacheOptions {
  /** One read of the team item (webhookTeamState); `consistent` for the reads that bypass the cache. */
  read(teamId: string, consistent: boolean): Promise<WebhookTeamView>;
  ttlMs?: number;
  maxEntries?: number;
  now?: () => number;
}

/** `seq` orders reads by when they started (clock-independent), so a slow old read never replaces a newer view. */
type Entry = { view: WebhookTeamView; at: number; seq: number };

/**
 * Per-container cache of the webhook's view of a team, so an accepted delivery to a busy team costs no DynamoDB
 * read. Only `active` and `gone` views are served from it (a `disabled` one is kept only to order reads): a `disabled`
 * team is read on every request (as before), so
 * `team enable` takes effect at once and its catch-up reconcile never misses a delivery answered from a stale
 * `disabled`. Callers bypass the cache (`fresh`) for the handshake and before answering a signature failure.
 */
export class WebhookTeamStateCache {
  private readonly entries = new Map<string, Entry>();
  private seq = 0;
  private readonly inflight = new Map<string, Promise<WebhookTeamView>>();
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(private readonly opts: WebhookTeamStateCacheOptions) {
    this.ttlMs = opts.ttlMs ?? WEBHOOK_TEAM_STATE_TTL_MS;
    this.maxEntries = opts.maxEntries ?? WEBHOOK_TEAM_STATE_MAX_ENTRIES;
    this.now = opts.now ?? (() => Date.now());
  }

  /** The cached view when it is younger than the TTL, else one read (concurrent misses share it). */
  async get(teamId: string): Promise<WebhookTeamView> {
    const hit = this.entries.get(teamId);
    // A disabled view is kept only to order reads: a disabled team is read on every request.
    if (hit && hit.view.state !== 'disabled') {
      const age = this.now() - hit.at;
      // A clock that moved back (age < 0) proves nothing about the entry's age: read again.
      if (age >= 0 && age < this.ttlMs) return hit.view;
    }
    const running = this.inflight.get(teamId);
    if (running) return running;
    const p = this.read(teamId, false).finally(() => this.inflight.delete(teamId));
    this.inflight.set(teamId, p);
    return p;
  }

  /**
   * Read the team item now, strongly consistent, bypassing the cache, and keep what it says. Never joins a read
   * already in flight: that one may have started before the rotation or disable this caller must see.
   */
  fresh(teamId: string): Promise<WebhookTeamView> {
    return this.read(teamId, true);
  }

  private async read(teamId: string, consistent: boolean): Promise<WebhookTeamView> {
    const startedAt = this.now();
    const seq = ++this.seq;
    const view = await this.opts.read(teamId, consistent);
    const kept = this.entries.get(teamId);
    // A slower read that started before the kept one must not replace it with an older view.
    if (kept && kept.seq > seq) return view;
    this.entries.delete(teamId);
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(teamId, { view, at: startedAt, seq });
    return view;
  }
}
