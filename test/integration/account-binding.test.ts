import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { documentClient, secretsClient } from '../../shared/aws/clients';
import { main } from '../../cli/main';
import { DrChronoClient } from '../../shared/drchrono/client';
import { readConnectLinkKeys } from '../../shared/oauth/connect-link-key';
import { listRecords } from '../../shared/store/records';
import { readTeamSecret } from '../../shared/teams/team-secret';
import { getTeamItem } from '../../shared/teams/team-store';
import { getBackfillJob } from '../../shared/backfill/job-store';
import { SECOND_PRACTICE_GROUP, SECOND_PRACTICE_USER_IDS, PRACTICE_GROUP } from '../../local/drchrono-sandbox/seed';
import { Browser } from './helpers/browser';
import { connectLink, createSandboxApp, registerTestTeam } from './helpers/connect-team';
import { platform } from './helpers/platform';
import { waitFor } from './helpers/wait-for';
import { PLATFORM_INFO_ENV, PLATFORM_LOG_ENV } from './setup/platform-process';

/**
 * A clinic admin's browser against the local platform and the sandbox's two practices: the team is bound to the
 * DrChrono account that first connected it; another account is refused unless the operator's link allows one
 * change; unsigned, altered and expired links start nothing. Links come from the CLI, as an operator makes them.
 */
const DEFAULT_USER = 9001;
const teamsTable = () => platform().resources.teamsTable;
const teamOf = (teamId: string) => getTeamItem(documentClient(), teamsTable(), teamId, true);
const secretOf = (teamId: string) => readTeamSecret(secretsClient(), platform().resources.teamSecretPrefix, teamId);

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(['--platform-file', process.env[PLATFORM_INFO_ENV]!, ...argv], { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

/** The link the CLI prints (`team connect-link <teamId> [flags] --json`). */
async function cliLink(teamId: string, ...flags: string[]): Promise<string> {
  const r = await cli('team', 'connect-link', teamId, ...flags, '--json');
  expect(r).toMatchObject({ code: 0, err: '' });
  return (JSON.parse(r.out) as { url: string }).url;
}

async function currentUserId(accessToken: string): Promise<number> {
  return Number((await new DrChronoClient({ baseUrl: platform().sandboxUrl!, accessToken: async () => accessToken }).currentUser()).id);
}

async function patientChartIds(teamId: string): Promise<string[]> {
  const { records } = await listRecords(documentClient(), platform().resources.recordsTable, teamId, 'patient', { limit: 100 });
  return records.map((r) => String(r.chartId ?? r.fields['Chart ID']));
}

/** Powertools' EMF lines for a metric in the platform's log (what CloudWatch would ingest). */
function metricCount(name: string): number {
  const log = readFileSync(process.env[PLATFORM_LOG_ENV]!, 'utf8');
  return log.split('\n').filter((l) => l.includes('"_aws"') && l.includes(`"${name}"`)).length;
}

/** A team connected through the browser by the default practice's default user, its import done. */
async function connectedTeam(): Promise<{ teamId: string }> {
  const app = await createSandboxApp();
  const { teamId } = await registerTestTeam(app);
  const page = await new Browser().connect(await cliLink(teamId));
  expect(page.status).toBe(200);
  expect(page.text).toContain('DrChrono connected');
  await waitFor(async () => (await getBackfillJob(documentClient(), teamsTable(), teamId))?.status === 'completed', {
    timeoutMs: 60_000,
    intervalMs: 200,
    description: 'the connect backfill to complete',
  });
  return { teamId };
}

describe('a team stays bound to its DrChrono account (browser, two sandbox practices)', () => {
  it('binds the team on its first connection to the approving user and practice group', async () => {
    const { teamId } = await connectedTeam();
    expect(await teamOf(teamId)).toMatchObject({ status: 'connected', boundDrchronoUserId: DEFAULT_USER, boundDrchronoPracticeGroup: PRACTICE_GROUP });
  });

  it("refuses another practice's user: clear page, nothing stored, the clinic's tokens keep working, logged and counted", async () => {
    const { teamId } = await connectedTeam();
    const secretBefore = await secretOf(teamId);
    const teamBefore = await teamOf(teamId);
    const refusedBefore = metricCount('AccountChangeRefused');

    const page = await new Browser().connect(await cliLink(teamId), { userId: SECOND_PRACTICE_USER_IDS.doctor });
    expect(page.status).toBe(403);
    expect(page.text).toContain('Different DrChrono account');
    expect(page.url).toContain('/integration-oauth/callback');

    expect(await secretOf(teamId)).toEqual(secretBefore);
    const teamAfter = await teamOf(teamId);
    for (const k of ['status', 'tokenVersion', 'boundDrchronoUserId', 'boundDrchronoPracticeGroup', 'drchronoUserId', 'drchronoPracticeGroup', 'tokenExpiresAt'] as const) {
      expect(teamAfter?.[k]).toEqual(teamBefore?.[k]);
    }
    // The refused account's code was spent in its own name only: the clinic's stored token still works.
    expect(await currentUserId(secretBefore.accessToken!)).toBe(DEFAULT_USER);
    // No data of the other practice was imported.
    expect((await patientChartIds(teamId)).some((c) => c.includes('2ND'))).toBe(false);
    await waitFor(() => metricCount('AccountChangeRefused') > refusedBefore, { description: 'the AccountChangeRefused metric in the platform log' });
  });

  it('refuses another user of the same practice group too', async () => {
    const { teamId } = await connectedTeam();
    const page = await new Browser().connect(await cliLink(teamId), { userId: 9101 });
    expect(page.status).toBe(403);
    expect((await teamOf(teamId))?.boundDrchronoUserId).toBe(DEFAULT_USER);
  });

  it('reconnects the bound account through a new link', async () => {
    const { teamId } = await connectedTeam();
    const before = (await secretOf(teamId)).tokenVersion!;
    const page = await new Browser().connect(await cliLink(teamId), { userId: DEFAULT_USER });
    expect(page.status).toBe(200);
    expect((await secretOf(teamId)).tokenVersion).toBeGreaterThan(before);
  });

  it('allows one account change with --allow-account-change, then the permission is used up', async () => {
    const { teamId } = await connectedTeam();
    const allowed = await cliLink(teamId, '--allow-account-change', '--expires', '1h');

    const page = await new Browser().connect(allowed, { userId: SECOND_PRACTICE_USER_IDS.doctor });
    expect(page.status).toBe(200);
    expect(page.text).toContain('DrChrono connected');
    const team = await teamOf(teamId);
    expect(team).toMatchObject({
      status: 'connected',
      boundDrchronoUserId: SECOND_PRACTICE_USER_IDS.doctor,
      boundDrchronoPracticeGroup: SECOND_PRACTICE_GROUP,
      drchronoUserId: SECOND_PRACTICE_USER_IDS.doctor,
      accountBoundAt: expect.any(String),
    });
    expect(await currentUserId((await secretOf(teamId)).accessToken!)).toBe(SECOND_PRACTICE_USER_IDS.doctor);
    // The new practice's patients are imported by the backfill the connection starts.
    await waitFor(async () => (await patientChartIds(teamId)).some((c) => c.includes('2ND')), {
      timeoutMs: 60_000,
      intervalMs: 200,
      description: "the second practice's patients in the records",
    }).catch(async (err: unknown) => {
      throw new Error(`${String(err)}; chart ids: ${(await patientChartIds(teamId)).join(',')}`);
    });

    // The same link again (a replay, or a second tab): another account is refused, and nothing changes.
    const secretAfter = await secretOf(teamId);
    const replay = await new Browser().connect(allowed, { userId: SECOND_PRACTICE_USER_IDS.frontdesk });
    expect(replay.status).toBe(403);
    expect(replay.text).toContain('Account change already used');
    expect(await secretOf(teamId)).toEqual(secretAfter);
    // Back to the first account needs a new permission too.
    const back = await new Browser().connect(allowed, { userId: DEFAULT_USER });
    expect(back.status).toBe(403);
    // The account it is now bound to reconnects with the same link (no change, nothing to spend).
    expect((await new Browser().connect(allowed, { userId: SECOND_PRACTICE_USER_IDS.doctor })).status).toBe(200);
  }, 120_000);

  it('lets a permission go unspent when the bound account itself reconnects, so it still allows one change', async () => {
    const { teamId } = await connectedTeam();
    const allowed = await cliLink(teamId, '--allow-account-change');
    expect((await new Browser().connect(allowed, { userId: DEFAULT_USER })).status).toBe(200);
    expect((await new Browser().connect(allowed, { userId: SECOND_PRACTICE_USER_IDS.doctor })).status).toBe(200);
    expect((await teamOf(teamId))?.boundDrchronoUserId).toBe(SECOND_PRACTICE_USER_IDS.doctor);
  });
});

describe('signed, expiring connect links (browser)', () => {
  let teamId: string;
  beforeAll(async () => {
    teamId = (await registerTestTeam(await createSandboxApp())).teamId;
  });

  async function expectRefusedBeforeDrChrono(link: string, status: number, title: string): Promise<void> {
    const browser = new Browser();
    const page = await browser.open(link);
    expect(page.status).toBe(status);
    expect(page.text).toContain(title);
    // Nothing started: no redirect to DrChrono, no state cookie.
    expect(browser.visited).toEqual([link]);
    expect(browser.cookieNames()).toEqual([]);
    expect((await teamOf(teamId))?.status).toBe('registered');
  }

  it('refuses an unsigned link (the old, bare form)', async () => {
    await expectRefusedBeforeDrChrono(`${platform().apiBaseUrl}/integration-oauth/authorize/${teamId}`, 403, 'Connection link not valid');
  });

  it('refuses a link whose expiry was extended', async () => {
    const url = new URL(await cliLink(teamId, '--expires', '1h'));
    url.searchParams.set('exp', String(Number(url.searchParams.get('exp')) + 86_400));
    await expectRefusedBeforeDrChrono(url.toString(), 403, 'Connection link not valid');
  });

  it('refuses a link that was given the account-change permission', async () => {
    const url = new URL(await cliLink(teamId));
    url.searchParams.set('acc', '1');
    url.searchParams.set('lid', 'A'.repeat(22));
    await expectRefusedBeforeDrChrono(url.toString(), 403, 'Connection link not valid');
  });

  it("refuses another team's link moved to this team", async () => {
    const other = new URL(await cliLink((await registerTestTeam(await createSandboxApp())).teamId));
    other.pathname = `/integration-oauth/authorize/${teamId}`;
    await expectRefusedBeforeDrChrono(other.toString(), 403, 'Connection link not valid');
  });

  it('refuses an expired link', async () => {
    const expired = await connectLink(teamId, { ttlSeconds: 60, now: new Date(Date.now() - 120_000) });
    await expectRefusedBeforeDrChrono(expired, 410, 'Connection link expired');
  });

  it('accepts the link the CLI prints, keeping the state cookie protection', async () => {
    const browser = new Browser();
    const page = await browser.connect(await cliLink(teamId, '--expires', '10m'));
    expect(page.status).toBe(200);
    expect(browser.visited.some((u) => u.startsWith(`${platform().sandboxUrl}/o/authorize/`))).toBe(true);
    expect(browser.cookieNames()).toEqual([]); // the callback cleared the state cookie
  });
});

describe('connect-key rotate (local platform)', () => {
  it('keeps links signed with the previous key working, and new links work once the function sees the new key', async () => {
    const teamId = (await registerTestTeam(await createSandboxApp())).teamId;
    const old = await cliLink(teamId);
    const rotated = await cli('connect-key', 'rotate');
    expect(rotated.code).toBe(0);
    const shown = await cli('connect-key', 'show', '--json');
    const keys = (JSON.parse(shown.out) as { keys: { id: string }[] }).keys;
    expect(keys).toHaveLength(2);
    const stored = await readConnectLinkKeys(secretsClient(), platform().resources.connectLinkKeySecret);
    for (const k of stored.keys) expect(`${shown.out}${rotated.out}`).not.toContain(k.secret);
    const fresh = await cliLink(teamId);
    expect(new URL(fresh).searchParams.get('kid')).toBe(keys[0]!.id);
    expect(new URL(old).searchParams.get('kid')).toBe(keys[1]!.id);

    expect((await new Browser().open(old)).status).toBe(200); // the sandbox's approve page
    // The oauth function re-reads the keys for an unknown key id at most every 5 s.
    await waitFor(async () => (await new Browser().open(fresh)).status === 200, { timeoutMs: 15_000, intervalMs: 500, description: 'the rotated key to be accepted' });
  });

  it('refuses bad usage with exit code 2', async () => {
    expect((await cli('connect-key', 'spin')).code).toBe(2);
    expect((await cli('team', 'connect-link', randomUUID(), '--expires', '90d')).code).toBe(2);
  });

  it('refuses a connect link for an unknown team with exit code 1', async () => {
    const r = await cli('team', 'connect-link', randomUUID());
    expect(r.code).toBe(1);
    expect(r.err).toContain('not registered');
  });
});
