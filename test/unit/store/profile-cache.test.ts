import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { forgetNames, readNameCache, readSeenNames, writeNameCache } from '../../../shared/store/profile-cache';
import { FakeTeamsTable } from '../team-job/fake-teams-table';

const TEAM = '6f1c2b1e-0d55-4b43-9d2a-1f0b7a1c0e11';
const NOW = new Date('2026-11-21T12:00:00.000Z');
const ddbMock = mockClient(DynamoDBDocumentClient);
const ddb = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
let table: FakeTeamsTable;

beforeEach(() => {
  ddbMock.reset();
  table = new FakeTeamsTable(ddbMock);
});

describe('the name cache and the seen-names history', () => {
  it('remembers every name an id has had, whatever the cache holds now', async () => {
    await writeNameCache(ddb, 'teams', TEAM, 'PROFILES', new Map([[1, 'Check-up']]), NOW);
    await writeNameCache(ddb, 'teams', TEAM, 'PROFILES', new Map([[1, 'Annual'], [2, 'Telehealth']]), NOW);

    expect(await readNameCache(ddb, 'teams', TEAM, 'PROFILES', NOW)).toEqual(new Map([[1, 'Annual'], [2, 'Telehealth']]));
    expect(await readSeenNames(ddb, 'teams', TEAM, 'PROFILES')).toEqual({ '1': ['Check-up', 'Annual'], '2': ['Telehealth'] });
  });

  it('loses neither of two concurrent writers\' names (the revision race is retried)', async () => {
    await Promise.all([
      writeNameCache(ddb, 'teams', TEAM, 'FLAG_TYPES', new Map([[31, 'VIP']]), NOW),
      writeNameCache(ddb, 'teams', TEAM, 'FLAG_TYPES', new Map([[31, 'Very important']]), NOW),
    ]);

    expect((await readSeenNames(ddb, 'teams', TEAM, 'FLAG_TYPES'))['31']?.sort()).toEqual(['VIP', 'Very important']);
  });

  it('writes nothing when every name is already known', async () => {
    await writeNameCache(ddb, 'teams', TEAM, 'PROFILES', new Map([[1, 'Check-up']]), NOW);
    const seenPuts = () => table.puts.filter((p) => p.sk === 'PROFILES#SEEN').length;
    await writeNameCache(ddb, 'teams', TEAM, 'PROFILES', new Map([[1, 'Check-up']]), NOW);

    expect(seenPuts()).toBe(1);
  });

  it('forgets only the pairs it is given', async () => {
    await writeNameCache(ddb, 'teams', TEAM, 'PROFILES', new Map([[1, 'A'], [2, 'B']]), NOW);
    await writeNameCache(ddb, 'teams', TEAM, 'PROFILES', new Map([[1, 'A2'], [2, 'B']]), NOW);
    await forgetNames(ddb, 'teams', TEAM, 'PROFILES', [{ id: '1', name: 'A' }, { id: '2', name: 'not there' }]);

    expect(await readSeenNames(ddb, 'teams', TEAM, 'PROFILES')).toEqual({ '1': ['A2'], '2': ['B'] });
  });
});
