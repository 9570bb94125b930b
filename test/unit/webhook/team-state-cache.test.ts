import type { WebhookTeamView } from '../../../shared/webhook/receive-webhook';
import { WEBHOOK_TEAM_STATE_TTL_MS, WebhookTeamStateCache } from '../../../shared/webhook/team-state-cache';

const A = '3f2c1b0a-9d8e-4f7a-8b6c-00000000000a';
const B = '3f2c1b0a-9d8e-4f7a-8b6c-00000000000b';

/** A cache over a team table held in a map, with a clock the test moves. */
function setup(opts: { maxEntries?: number } = {}) {
  let now = 1_000_000;
  const table = new Map<string, WebhookTeamView>();
  const reads: string[] = [];
  const cache = new WebhookTeamStateCache({
    read: async (teamId) => {
      reads.push(teamId);
      return table.get(teamId) ?? { state: 'gone' };
    },
    now: () => now,
    ...opts,
  });
  return { cache, table, reads, advance: (ms: number) => void (now += ms) };
}

describe('WebhookTeamStateCache', () => {
  it('reuses an active team\'s view within the TTL and reads it again once the TTL has passed', async () => {
    const t = setup();
    t.table.set(A, { state: 'active', tokenVersion: 2 });
    await t.cache.get(A);
    t.advance(WEBHOOK_TEAM_STATE_TTL_MS - 1);
    expect(await t.cache.get(A)).toEqual({ state: 'active', tokenVersion: 2 });
    expect(t.reads).toEqual([A]);
    t.table.set(A, { state: 'disabled' });
    t.advance(1);
    expect(await t.cache.get(A)).toEqual({ state: 'disabled' });
    expect(t.reads).toEqual([A, A]);
  });

  it('never keeps a disabled view, so `team enable` reaches the next delivery at once', async () => {
    const t = setup();
    t.table.set(A, { state: 'disabled' });
    await t.cache.get(A);
    t.table.set(A, { state: 'active' });
    expect(await t.cache.get(A)).toEqual({ state: 'active' });
    expect(t.reads).toEqual([A, A]);
  });

  it('keeps a removed or unknown team\'s view, so its requests cost no read within the TTL', async () => {
    const t = setup();
    expect(await t.cache.get(A)).toEqual({ state: 'gone' });
    for (let i = 0; i < 5; i++) expect(await t.cache.get(A)).toEqual({ state: 'gone' });
    expect(t.reads).toEqual([A]);
  });

  it('fresh() reads even within the TTL and replaces the cached view', async () => {
    const t = setup();
    t.table.set(A, { state: 'active', tokenVersion: 1 });
    await t.cache.get(A);
    t.table.set(A, { state: 'active', tokenVersion: 2 });
    expect(await t.cache.fresh(A)).toEqual({ state: 'active', tokenVersion: 2 });
    expect(await t.cache.get(A)).toEqual({ state: 'active', tokenVersion: 2 });
    expect(t.reads).toEqual([A, A]);
  });

  it('reads again when the clock moved back behind a cached view', async () => {
    const t = setup();
    t.table.set(A, { state: 'active' });
    await t.cache.get(A);
    t.advance(-60_000);
    await t.cache.get(A);
    expect(t.reads).toEqual([A, A]);
  });

  it('shares one read between concurrent cache misses for the same team', async () => {
    const t = setup();
    t.table.set(A, { state: 'active' });
    await Promise.all([t.cache.get(A), t.cache.get(A), t.cache.get(A)]);
    expect(t.reads).toEqual([A]);
  });

  it('fresh() never joins a read already in flight, and reads strongly consistent', async () => {
    // The in-flight read may have started before the rotation the caller must see (a refused signature re-reads).
    let release: () => void = () => undefined;
    const consistency: boolean[] = [];
    let version = 1;
    const cache = new WebhookTeamStateCache({
      read: async (_teamId, consistent) => {
        consistency.push(consistent);
        const seen = version;
        if (!consistent) await new Promise<void>((r) => (release = r));
        return { state: 'active', tokenVersion: seen };
      },
    });
    const stale = cache.get(A);
    version = 2; // the rotation lands while the cached read is in flight
    expect(await cache.fresh(A)).toEqual({ state: 'active', tokenVersion: 2 });
    release();
    expect(await stale).toEqual({ state: 'active', tokenVersion: 1 });
    expect(consistency).toEqual([false, true]);
    // The older read finished last, but started first: it must not replace the fresh view.
    expect(await cache.get(A)).toEqual({ state: 'active', tokenVersion: 2 });
  });

  it('does not keep a failed read: the next request reads again', async () => {
    let fail = true;
    const reads: string[] = [];
    const cache = new WebhookTeamStateCache({
      read: async (teamId) => {
        reads.push(teamId);
        if (fail) throw new Error('ProvisionedThroughputExceededException');
        return { state: 'active' };
      },
    });
    await expect(cache.get(A)).rejects.toThrow('ProvisionedThroughputExceededException');
    fail = false;
    expect(await cache.get(A)).toEqual({ state: 'active' });
    expect(reads).toEqual([A, A]);
  });

  it('holds at most maxEntries views, dropping the oldest first', async () => {
    const t = setup({ maxEntries: 1 });
    await t.cache.get(A);
    await t.cache.get(B);
    await t.cache.get(B);
    await t.cache.get(A);
    expect(t.reads).toEqual([A, B, A]);
  });
});
