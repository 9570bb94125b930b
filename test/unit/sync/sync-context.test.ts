import { mockClient } from 'aws-sdk-client-mock';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { SyncContextCache } from '../../../shared/sync/sync-context';
import { TeamLimiter } from '../../../shared/sync/team-limiter';
import { TEAM, teamItem } from './helpers';

const ddb = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
const mock = mockClient(ddb);
let clock = 1_800_000_000_000;
const cache = () => new SyncContextCache({ ddb: () => ddb, teamsTable: 'teams', now: () => clock });

function lister(names: [number, string][]) {
  const calls = { n: 0 };
  const fetch = () => ({
    async *[Symbol.asyncIterator]() {
      calls.n += 1;
      for (const [id, name] of names) yield { id, name };
    },
  });
  return { fetch, calls };
}

beforeEach(() => {
  mock.reset();
  mock.on(PutCommand).resolves({});
  clock = 1_800_000_000_000;
});

describe('SyncContextCache', () => {
  it('reuses the team item within its TTL and reads it again after', async () => {
    mock.on(GetCommand).resolves({ Item: teamItem() });
    const c = cache();
    await c.team(TEAM);
    await c.team(TEAM);
    expect(mock.commandCalls(GetCommand)).toHaveLength(1);
    clock += 31_000;
    await c.team(TEAM);
    expect(mock.commandCalls(GetCommand)).toHaveLength(2);
  });

  it('takes profile names from the teams-table cache item before asking DrChrono', async () => {
    mock.on(GetCommand).resolves({ Item: { pk: TEAM, sk: 'PROFILES', names: { '7': 'Follow-up' }, expiresAt: clock / 1000 + 60 } });
    const { fetch, calls } = lister([[7, 'other']]);
    const names = await cache().nameList(TEAM, 'PROFILES', fetch, 7);
    expect(names.get(7)).toBe('Follow-up');
    expect(calls.n).toBe(0);
  });

  it('ignores an expired cache item, fetches, and stores the list with a TTL', async () => {
    mock.on(GetCommand).resolves({ Item: { pk: TEAM, sk: 'PROFILES', names: { '7': 'Old' }, expiresAt: clock / 1000 - 1 } });
    const { fetch, calls } = lister([[7, 'New']]);
    const names = await cache().nameList(TEAM, 'PROFILES', fetch, 7);
    expect(names.get(7)).toBe('New');
    expect(calls.n).toBe(1);
    expect(mock.commandCalls(PutCommand).find((c) => c.args[0].input.Item?.sk === 'PROFILES')!.args[0].input.Item).toMatchObject({ sk: 'PROFILES', names: { '7': 'New' } });
  });

  it('refetches for an unknown id at most once per five minutes', async () => {
    mock.on(GetCommand).resolves({});
    const { fetch, calls } = lister([[7, 'A']]);
    const c = cache();
    await c.nameList(TEAM, 'PROFILES', fetch, 7);
    await c.nameList(TEAM, 'PROFILES', fetch, 99);
    await c.nameList(TEAM, 'PROFILES', fetch, 99);
    expect(calls.n).toBe(1);
    clock += 5 * 60_000 + 1;
    await c.nameList(TEAM, 'PROFILES', fetch, 99);
    expect(calls.n).toBe(2);
  });

  it('remembers known doctors per team', () => {
    const c = cache();
    c.rememberDoctor(TEAM, '5');
    expect(c.knowsDoctor(TEAM, '5')).toBe(true);
    expect(c.knowsDoctor('other-team', '5')).toBe(false);
  });
});

describe('TeamLimiter', () => {
  it('runs at most two tasks of one team at a time, and other teams alongside', async () => {
    const limiter = new TeamLimiter(2);
    let running = 0;
    let peak = 0;
    const task = async () => {
      running += 1;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, 5));
      running -= 1;
    };
    await Promise.all([1, 2, 3, 4, 5].map(() => limiter.run('a', task)));
    expect(peak).toBe(2);
    let other = 0;
    await Promise.all([limiter.run('a', task), limiter.run('a', task), limiter.run('b', async () => void (other = running))]);
    expect(other).toBe(2);
  });
});
