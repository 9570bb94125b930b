import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { chartKey } from '../../../shared/store/records';
import { mockClient } from 'aws-sdk-client-mock';
import { DrChronoServerError, DrChronoUnauthorizedError } from '../../../shared/drchrono/errors';
import type { AppointmentProfile, Office } from '../../../shared/drchrono/schemas';
import { FUNCTION_SETTINGS } from '../../../shared/config/function-settings';
import { SyncContextCache } from '../../../shared/sync/sync-context';
import type { TeamSecret } from '../../../shared/teams/team-secret';
import { TeamSecretCache } from '../../../shared/teams/team-secret-cache';
import type { TeamItem } from '../../../shared/teams/team-store';
import { AmbiguousChartIdError, LookupUnavailableError, OFFICE_CACHE_TTL_MS, OfficeCache, WRITE_LOOKUP_CLIENT, WRITE_LOOKUP_DEADLINE_MS, writeLookups, type WriteLookupApi, type WriteLookupDeps } from '../../../shared/write-back/write-lookups';

const TEAM = '3f1c2a9e-8d7b-4c6a-9e5f-1a2b3c4d5e6f';
const NOW = new Date('2026-11-30T09:10:00.000Z');
const ddbMock = mockClient(DynamoDBDocumentClient);
const ddb = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));

const team = (extra: Partial<TeamItem> = {}): TeamItem => ({
  pk: TEAM,
  sk: 'TEAM',
  teamId: TEAM,
  status: 'connected',
  createdAt: '2026-11-01T00:00:00.000Z',
  updatedAt: '2026-11-01T00:00:00.000Z',
  ...extra,
});

let apiCalls: string[];
let profiles: AppointmentProfile[];
let offices: Office[];
let failWith: Error | undefined;
let secret: TeamSecret | null;
let clock: number;

function fakeApi(o: { beforeCall: () => Promise<void> }): WriteLookupApi {
  async function* page<T>(name: string, items: T[]): AsyncIterable<T> {
    apiCalls.push(name);
    await o.beforeCall();
    if (failWith) throw failWith;
    yield* items;
  }
  return { listAppointmentProfiles: () => page('profiles', profiles), listOffices: (q) => page(`offices?doctor=${q.doctor}`, offices) };
}

function deps(): WriteLookupDeps {
  const secrets = new TeamSecretCache({ client: () => new SecretsManagerClient({ region: 'us-east-1' }), prefix: 'p/' });
  jest.spyOn(secrets, 'get').mockImplementation(async () => secret);
  jest.spyOn(secrets, 'atLeastVersion').mockImplementation(async () => secret);
  return {
    ddb,
    teamsTable: 'teams',
    recordsTable: 'records',
    secrets,
    names: new SyncContextCache({ ddb: () => ddb, teamsTable: 'teams', now: () => clock }),
    offices: new OfficeCache(() => clock),
    drchrono: fakeApi,
    now: () => new Date(clock),
  };
}

beforeEach(() => {
  ddbMock.reset();
  apiCalls = [];
  profiles = [{ id: 11, name: 'Follow-up' }];
  offices = [
    { id: 1, name: 'Main', archived: false },
    { id: 2, name: 'Old', archived: true },
    { id: 3, name: 'Annex' },
  ];
  failWith = undefined;
  secret = { clientId: 'c', clientSecret: 's', webhookSecret: 'w', accessToken: 'tok' };
  clock = NOW.getTime();
  ddbMock.on(GetCommand).resolves({});
  ddbMock.on(PutCommand).resolves({});
  ddbMock.on(UpdateCommand).resolves({ Attributes: { calls: 1 } });
});

describe('write API lookups', () => {
  it('answers appointment profiles from the warm PROFILES cache without a token or a DrChrono call', async () => {
    ddbMock.on(GetCommand, { TableName: 'teams', Key: { pk: TEAM, sk: 'PROFILES' } }).resolves({ Item: { names: { '11': 'Follow-up' }, expiresAt: NOW.getTime() / 1000 + 60 } });
    secret = null;
    const names = await writeLookups(team(), deps()).appointmentProfiles();
    expect([...names]).toEqual([[11, 'Follow-up']]);
    expect(apiCalls).toEqual([]);
  });

  it('fetches a cold PROFILES list from DrChrono, charging the team budget at the write-back priority, and caches it', async () => {
    const names = await writeLookups(team(), deps()).appointmentProfiles();
    expect([...names]).toEqual([[11, 'Follow-up']]);
    expect(apiCalls).toEqual(['profiles']);
    const budget = ddbMock.commandCalls(UpdateCommand).find((c) => String(c.args[0].input.Key?.sk).startsWith('BUDGET'));
    expect(budget).toBeDefined();
    // limit 500, reserve 20 %: the write-back ceiling is limit - reserve/2 = 450.
    expect(budget!.args[0].input.ExpressionAttributeValues?.[':max']).toBe(449);
    expect(ddbMock.commandCalls(PutCommand).some((c) => c.args[0].input.Item?.sk === 'PROFILES')).toBe(true);
  });

  it('lists a doctor\'s non-archived offices once per cache period', async () => {
    const d = deps();
    expect(await writeLookups(team(), d).officesOfDoctor('7')).toEqual([1, 3]);
    expect(await writeLookups(team(), d).officesOfDoctor('7')).toEqual([1, 3]);
    expect(apiCalls).toEqual(['offices?doctor=7']);
    clock += OFFICE_CACHE_TTL_MS;
    await writeLookups(team(), d).officesOfDoctor('7');
    expect(apiCalls).toEqual(['offices?doctor=7', 'offices?doctor=7']);
  });

  it('is unavailable (no-token) when the team has no access token or is not connected', async () => {
    secret = { clientId: 'c', clientSecret: 's', webhookSecret: 'w' };
    await expect(writeLookups(team(), deps()).officesOfDoctor('7')).rejects.toMatchObject({ name: 'LookupUnavailableError', reason: 'no-token' });
    secret = { clientId: 'c', clientSecret: 's', webhookSecret: 'w', accessToken: 'tok' };
    await expect(writeLookups(team({ status: 'reauthorization_required' }), deps()).officesOfDoctor('7')).rejects.toMatchObject({ reason: 'no-token' });
  });

  it('is unavailable (budget) until the hour resets when the team budget is spent', async () => {
    ddbMock.on(UpdateCommand).rejects(new ConditionalCheckFailedException({ message: 'no', $metadata: {} }));
    const err = await writeLookups(team(), deps()).appointmentProfiles().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LookupUnavailableError);
    expect(err).toMatchObject({ reason: 'budget', retryAfterSeconds: 50 * 60 });
  });

  it('is unavailable (drchrono) when DrChrono fails, and keeps other errors as they are', async () => {
    failWith = new DrChronoServerError({ status: 503 });
    await expect(writeLookups(team(), deps()).officesOfDoctor('7')).rejects.toMatchObject({ reason: 'drchrono', retryAfterSeconds: 30 });
    failWith = new TypeError('bug');
    await expect(writeLookups(team(), deps()).officesOfDoctor('8')).rejects.toBeInstanceOf(TypeError);
  });

  it('asks the refresher for a new token when DrChrono answers 401, naming the rejected token version', async () => {
    failWith = new DrChronoUnauthorizedError({ status: 401 });
    secret = { clientId: 'c', clientSecret: 's', webhookSecret: 'w', accessToken: 'tok', tokenVersion: 4 };
    await expect(writeLookups(team({ tokenVersion: 4 }), deps()).officesOfDoctor('7')).rejects.toMatchObject({ reason: 'drchrono' });
    const request = ddbMock.commandCalls(UpdateCommand).find((c) => c.args[0].input.Key?.sk === 'TEAM');
    expect(request?.args[0].input.ExpressionAttributeValues).toMatchObject({ ':requested': 'refresh-requested', ':tv': 4 });
  });

  it('resolves a doctor id to a live Employee record only', async () => {
    ddbMock.on(GetCommand, { TableName: 'records', Key: { pk: `${TEAM}#employee`, sk: '7' } }).resolves({ Item: { pk: `${TEAM}#employee`, sk: '7', version: 'o#x' } });
    ddbMock.on(GetCommand, { TableName: 'records', Key: { pk: `${TEAM}#employee`, sk: '8' } }).resolves({ Item: { pk: `${TEAM}#employee`, sk: '8', version: 'z#x', deleted: true } });
    const l = writeLookups(team(), deps());
    expect(await l.doctorExists('7')).toBe(true);
    expect(await l.doctorExists('8')).toBe(false);
    expect(await l.doctorExists('9')).toBe(false);
    expect(await l.doctorExists('7; drop')).toBe(false);
  });

  it('resolves a Chart ID to the live patient holding it, not to a deleted one', async () => {
    ddbMock.on(QueryCommand).resolves({ Items: [{ pk: `${TEAM}#patient`, sk: '501', chartKey: chartKey(TEAM, 'CH-1') }] });
    const item = { pk: `${TEAM}#patient`, sk: '501', version: 'o#x', chartKey: chartKey(TEAM, 'CH-1') };
    ddbMock.on(GetCommand, { TableName: 'records', Key: { pk: `${TEAM}#patient`, sk: '501' } }).resolves({ Item: item });
    expect(await writeLookups(team(), deps()).patientIdByChartId('CH-1')).toBe('501');
    ddbMock.on(GetCommand, { TableName: 'records', Key: { pk: `${TEAM}#patient`, sk: '501' } }).resolves({ Item: { ...item, deleted: true } });
    expect(await writeLookups(team(), deps()).patientIdByChartId('CH-1')).toBeUndefined();
  });

  it('gives up (drchrono, 503) instead of starting a DrChrono request once the lookup deadline has passed', async () => {
    const l = writeLookups(team(), deps());
    await l.officesOfDoctor('7');
    clock += WRITE_LOOKUP_DEADLINE_MS;
    await expect(l.appointmentProfiles()).rejects.toMatchObject({ name: 'LookupUnavailableError', reason: 'drchrono' });
    // The second request never started: no budget was charged for it.
    expect(ddbMock.commandCalls(UpdateCommand).filter((c) => String(c.args[0].input.Key?.sk).startsWith('BUDGET'))).toHaveLength(1);
  });

  it('bounds a lookup so the write API answers 503 within its timeout: the last request starts before the deadline and times out', () => {
    // Every request (each page and retry) starts before the deadline and lasts at most the client timeout.
    const worstMs = WRITE_LOOKUP_DEADLINE_MS + WRITE_LOOKUP_CLIENT.timeoutMs;
    expect(worstMs + 5_000).toBeLessThanOrEqual(FUNCTION_SETTINGS['write-api'].timeoutSeconds * 1000);
  });

  it('refuses to pick one of two live patients holding the same Chart ID', async () => {
    ddbMock.on(QueryCommand).resolves({ Items: ['501', '502'].map((sk) => ({ pk: `${TEAM}#patient`, sk, chartKey: chartKey(TEAM, 'CH-1') })) });
    for (const sk of ['501', '502']) {
      ddbMock.on(GetCommand, { TableName: 'records', Key: { pk: `${TEAM}#patient`, sk } }).resolves({ Item: { pk: `${TEAM}#patient`, sk, version: 'o#x', chartKey: chartKey(TEAM, 'CH-1') } });
    }
    await expect(writeLookups(team(), deps()).patientIdByChartId('CH-1')).rejects.toBeInstanceOf(AmbiguousChartIdError);
  });
});
