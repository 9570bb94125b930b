import { mockClient } from 'aws-sdk-client-mock';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { DrChronoUnauthorizedError } from '../../../shared/drchrono/errors';
import { TeamNotConnectedError, TokenRefreshRequestedError, withTeamToken, type TeamTokenDeps } from '../../../shared/team-job/team-api';
import type { TeamSecret } from '../../../shared/teams/team-secret';

const TEAM = '3f1c2b4e-8a7d-4c1e-9b2a-5d6e7f8a9b0c';
const ddbMock = mockClient(DynamoDBDocumentClient);
const base: TeamSecret = { clientId: 'c', clientSecret: 's', webhookSecret: 'w', accessToken: 'token-1', tokenVersion: 3 };

function deps(cached: TeamSecret | null, reread: TeamSecret | null): TeamTokenDeps & { rereads: number } {
  const d = {
    rereads: 0,
    ddb: DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' })),
    teamsTable: 'teams',
    now: () => new Date('2026-11-21T10:00:00Z'),
    secrets: {
      get: async () => cached,
      refresh: async () => {
        d.rereads += 1;
        return reread;
      },
    },
  };
  return d;
}

/** A DrChrono call that accepts only the given tokens. */
const callAccepting = (...valid: string[]) => {
  const seen: string[] = [];
  const fn = async (token: string) => {
    seen.push(token);
    if (!valid.includes(token)) throw new DrChronoUnauthorizedError();
    return 'ok';
  };
  return { fn, seen };
};

beforeEach(() => {
  ddbMock.reset();
  ddbMock.on(UpdateCommand).resolves({});
});

describe('withTeamToken (backfill and reconcile token use)', () => {
  it('uses the cached token without reading the secret again', async () => {
    const d = deps(base, base);
    const call = callAccepting('token-1');
    await expect(withTeamToken(TEAM, d, 'backfill', call.fn)).resolves.toBe('ok');
    expect(d.rereads).toBe(0);
  });

  it("re-reads a cached secret older than the team's tokenVersion before the first call (an account change leaves the old token working)", async () => {
    const d = deps(base, { ...base, accessToken: 'token-new-account', tokenVersion: 4 });
    const call = callAccepting('token-1', 'token-new-account');
    await expect(withTeamToken(TEAM, d, 'backfill', call.fn, 4)).resolves.toBe('ok');
    expect(call.seen).toEqual(['token-new-account']);
    expect(d.rereads).toBe(1);
  });

  it("keeps the cached secret when it is as new as the team's tokenVersion", async () => {
    const d = deps(base, { ...base, accessToken: 'token-2', tokenVersion: 4 });
    const call = callAccepting('token-1');
    await expect(withTeamToken(TEAM, d, 'backfill', call.fn, 3)).resolves.toBe('ok');
    expect(d.rereads).toBe(0);
  });

  it('re-reads the secret after a 401 and retries once with a newer token, without asking for a refresh', async () => {
    const d = deps(base, { ...base, accessToken: 'token-2', tokenVersion: 4 });
    const call = callAccepting('token-2');
    await expect(withTeamToken(TEAM, d, 'backfill', call.fn)).resolves.toBe('ok');
    expect(call.seen).toEqual(['token-1', 'token-2']);
    expect(ddbMock.commandCalls(UpdateCommand)).toHaveLength(0);
  });

  it('asks the refresher, naming the rejected token version, when the re-read token is the same', async () => {
    const d = deps(base, base);
    await expect(withTeamToken(TEAM, d, 'backfill', callAccepting().fn)).rejects.toBeInstanceOf(TokenRefreshRequestedError);
    const update = ddbMock.commandCalls(UpdateCommand)[0]!.args[0].input;
    expect(update.ExpressionAttributeValues).toMatchObject({ ':tv': 3 });
  });

  it('names the newer token version when the re-read token is rejected too', async () => {
    const d = deps(base, { ...base, accessToken: 'token-2', tokenVersion: 4 });
    await expect(withTeamToken(TEAM, d, 'backfill', callAccepting().fn)).rejects.toBeInstanceOf(TokenRefreshRequestedError);
    expect(ddbMock.commandCalls(UpdateCommand)[0]!.args[0].input.ExpressionAttributeValues).toMatchObject({ ':tv': 4 });
  });

  it('names the re-read version when an operator secret write moved the version but kept the rejected token', async () => {
    // rotate-webhook-secret / set-client-secret claim version 4 without changing tokens: the refresher compares
    // against 4, so a request naming 3 would be ignored as about a token it already replaced.
    const d = deps(base, { ...base, webhookSecret: 'w2', tokenVersion: 4 });
    await expect(withTeamToken(TEAM, d, 'backfill', callAccepting().fn)).rejects.toBeInstanceOf(TokenRefreshRequestedError);
    expect(ddbMock.commandCalls(UpdateCommand)[0]!.args[0].input.ExpressionAttributeValues).toMatchObject({ ':tv': 4 });
  });

  it('refuses to call DrChrono for a team without tokens', async () => {
    const call = callAccepting('token-1');
    await expect(withTeamToken(TEAM, deps({ ...base, accessToken: undefined }, null), 'backfill', call.fn)).rejects.toBeInstanceOf(TeamNotConnectedError);
    expect(call.seen).toEqual([]);
  });
});
