import { mockClient } from 'aws-sdk-client-mock';
import { GetSecretValueCommand, ResourceNotFoundException, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { TeamSecretCache } from '../../../shared/teams/team-secret-cache';

const TEAM = '3f1c2b4e-8a7d-4c1e-9b2a-5d6e7f8a9b0c';
const SECRET = { clientId: 'cid', clientSecret: 'csecret', webhookSecret: 'w'.repeat(40) };

function setup(opts: { exists?: boolean } = {}) {
  const sm = mockClient(SecretsManagerClient);
  sm.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify(SECRET) });
  const client = new SecretsManagerClient({ region: 'us-east-1' });
  let now = 1_000_000;
  const existsCalls: string[] = [];
  const cache = new TeamSecretCache({
    client: () => client,
    prefix: 'drchrono-sync/test/teams/',
    ttlMs: 60_000,
    notFoundTtlMs: 10_000,
    now: () => now,
    ...(opts.exists === undefined
      ? {}
      : {
          teamExists: async (id: string) => {
            existsCalls.push(id);
            return opts.exists!;
          },
        }),
  });
  return { sm, cache, existsCalls, advance: (ms: number) => (now += ms) };
}

describe('TeamSecretCache', () => {
  it('serves warm reads from memory: two gets cost one Secrets Manager call', async () => {
    const { sm, cache } = setup();
    expect(await cache.get(TEAM)).toEqual(SECRET);
    expect(await cache.get(TEAM)).toEqual(SECRET);
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(1);
    expect(sm.commandCalls(GetSecretValueCommand)[0]!.args[0].input.SecretId).toBe(`drchrono-sync/test/teams/${TEAM}`);
  });

  it('reads the secret again once the TTL has passed', async () => {
    const { sm, cache, advance } = setup();
    await cache.get(TEAM);
    advance(60_000);
    await cache.get(TEAM);
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(2);
  });

  it('coalesces concurrent misses into one read', async () => {
    const { sm, cache } = setup();
    await Promise.all([cache.get(TEAM), cache.get(TEAM), cache.get(TEAM)]);
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(1);
  });

  it('caches an unknown team as null for the shorter not-found TTL', async () => {
    const { sm, cache, advance } = setup();
    sm.on(GetSecretValueCommand).rejects(new ResourceNotFoundException({ message: 'nope', $metadata: {} }));
    expect(await cache.get(TEAM)).toBeNull();
    expect(await cache.get(TEAM)).toBeNull();
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(1);
    advance(10_000);
    await cache.get(TEAM);
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(2);
  });

  it('answers an unknown team from the existence check without calling Secrets Manager', async () => {
    const { sm, cache, existsCalls } = setup({ exists: false });
    expect(await cache.get(TEAM)).toBeNull();
    expect(await cache.get(TEAM)).toBeNull();
    expect(existsCalls).toEqual([TEAM]);
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(0);
  });

  it('reads the secret of a team the existence check knows', async () => {
    const { sm, cache } = setup({ exists: true });
    expect(await cache.get(TEAM)).toEqual(SECRET);
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(1);
  });

  it('refresh(minAge) re-reads only when the cached copy is at least minAge old', async () => {
    const { sm, cache, advance } = setup();
    await cache.get(TEAM);
    await cache.refresh(TEAM, 30_000);
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(1);
    advance(30_000);
    await cache.refresh(TEAM, 30_000);
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(2);
  });

  it('atLeastVersion re-reads a younger-than-minAge copy at once the first time a newer version is asked for, then bounded', async () => {
    const { sm, cache, advance } = setup();
    sm.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify({ ...SECRET, tokenVersion: 3 }) });
    await cache.get(TEAM);
    advance(1_000);
    // The team item says version 4 was claimed: the 1-second-old copy (version 3) is read again at once.
    sm.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify({ ...SECRET, webhookSecret: 'n'.repeat(40), tokenVersion: 4 }) });
    expect((await cache.atLeastVersion(TEAM, 4, 5_000))?.webhookSecret).toBe('n'.repeat(40));
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(2);
    // A copy already at the version is served from memory.
    expect((await cache.atLeastVersion(TEAM, 4, 5_000))?.tokenVersion).toBe(4);
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(2);
  });

  it('atLeastVersion re-reads a copy still below the version at most once per minAge', async () => {
    const { sm, cache, advance } = setup();
    sm.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify({ ...SECRET, tokenVersion: 3 }) });
    await cache.get(TEAM);
    // Version 4 is claimed but not yet written: the first ask re-reads, the next ones within minAge do not.
    await cache.atLeastVersion(TEAM, 4, 5_000);
    await cache.atLeastVersion(TEAM, 4, 5_000);
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(2);
    advance(5_000);
    await cache.atLeastVersion(TEAM, 4, 5_000);
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(3);
    // A newer claim is a new write: read at once.
    await cache.atLeastVersion(TEAM, 5, 5_000);
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(4);
  });

  it('propagates Secrets Manager failures other than not-found and caches nothing', async () => {
    const { sm, cache } = setup();
    sm.on(GetSecretValueCommand).rejectsOnce(new Error('throttled')).resolves({ SecretString: JSON.stringify(SECRET) });
    await expect(cache.get(TEAM)).rejects.toThrow('throttled');
    expect(await cache.get(TEAM)).toEqual(SECRET);
  });

  it('keeps at most maxEntries teams, dropping the least recently used, so thousands of quiet teams cannot grow a container without bound', async () => {
    const sm = mockClient(SecretsManagerClient);
    sm.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify(SECRET) });
    const client = new SecretsManagerClient({ region: 'us-east-1' });
    const cache = new TeamSecretCache({ client: () => client, prefix: 'p/', maxEntries: 3 });
    const ids = Array.from({ length: 4 }, (_, i) => `team-${i}`);
    for (const id of ids.slice(0, 3)) await cache.get(id);
    await cache.get('team-0'); // used again: team-1 is now the least recently used
    await cache.get('team-3');
    expect(['team-0', 'team-1', 'team-2', 'team-3'].map((id) => cache.ageOf(id) !== undefined)).toEqual([true, false, true, true]);
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(4);
    await cache.get('team-0');
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(4);
    sm.restore();
  });
});
