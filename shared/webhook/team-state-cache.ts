import type { WebhookTeamView } from './receive-webhook';

/**
 * How long a container reuses a team's webhook view (state and tokenVersion). A team disabled, fenced for removal
 * or rotated with `--overlap 0` reaches every warm webhook container within this; work queued meanwhile is
 * ignored or dropped by the sync worker, which checks the team itself (docs/webhook.md, "Team state").
 */
export const WEBHOOK_TEAM_STATE_TTL_MS = 10_000;

/**
 * Most views kept: requests for random team ids are cached as `gone` too (so they cost no read within the TTL),
 * and must not grow a container's memory without bound. The oldest view is dropped first.
 */
export const WEBHOOK_TEAM_STATE_MAX_ENTRIES = 10_000;

export interface WebhookTeamStateCacheOptions {
  /** One read of the team item (webhookTeamState). */
  read(teamId: string): Promise<WebhookTeamView>;
  ttlMs?: number;
  maxEntries?: number;
  now?: () => number;
}

type Entry = { view: WebhookTeamView; at: number };

/**
 * Per-container cache of the webhook's view of a team, so an accepted delivery to a busy team costs no DynamoDB
 * read. Only `active` and `gone` views are kept: a `disabled` team is read on every request (as before), so
 * `team enable` takes effect at once and its catch-up reconcile never misses a delivery answered from a stale
 * `disabled`. Callers bypass the cache (`fresh`) for the handshake and before answering a signature failure.
 */
export class WebhookTeamStateCache {
  private readonly entries = new Map<string, Entry>();
  private readonly inflight = new Map<string, Promise<WebhookTeamView>>();
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(private readonly opts: WebhookTeamStateCacheOptions) {
    this.ttlMs = opts.ttlMs ?? WEBHOOK_TEAM_STATE_TTL_MS;
    this.maxEntries = opts.maxEntries ?? WEBHOOK_TEAM_STATE_MAX_ENTRIES;
    this.now = opts.now ?? (() => Date.now());
  }

  /** The cached view when it is younger than the TTL, else one read. */
  async get(teamId: string): Promise<WebhookTeamView> {
    const hit = this.entries.get(teamId);
    if (hit) {
      const age = this.now() - hit.at;
      // A clock that moved back (age < 0) proves nothing about the entry's age: read again.
      if (age >= 0 && age < this.ttlMs) return hit.view;
    }
    return this.fresh(teamId);
  }

  /** Read the team item now, bypassing the cache, and keep what it says. Concurrent asks share one read. */
  fresh(teamId: string): Promise<WebhookTeamView> {
    const running = this.inflight.get(teamId);
    if (running) return running;
    const p = this.opts
      .read(teamId)
      .then((view) => {
        this.entries.delete(teamId);
        if (view.state !== 'disabled') {
          if (this.entries.size >= this.maxEntries) {
            const oldest = this.entries.keys().next();
            if (!oldest.done) this.entries.delete(oldest.value);
          }
          this.entries.set(teamId, { view, at: this.now() });
        }
        return view;
      })
      .finally(() => this.inflight.delete(teamId));
    this.inflight.set(teamId, p);
    return p;
  }
}
