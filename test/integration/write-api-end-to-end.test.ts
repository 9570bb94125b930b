import { randomUUID } from 'node:crypto';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { documentClient } from '../../shared/aws/clients';
import { getBackfillJob } from '../../shared/backfill/job-store';
import { LOCAL_CREDENTIALS, signRequest } from '../../shared/http/sigv4';
import { teamKey } from '../../shared/teams/team-store';
import { createSandboxApp, decideInSandbox, followCallback, registerTestTeam, startAuthorize } from './helpers/connect-team';
import { httpJson, httpRequest, type HttpResult } from './helpers/http';
import { apiUrl, platform } from './helpers/platform';
import { waitFor } from './helpers/wait-for';

/**
 * The write API end to end: a signed request → change item + FIFO message → the write-back worker → DrChrono (the
 * sandbox) → the records, read back through the write API. The write-back worker's own cases (409s, 5xx, budget,
 * echo) are its suite's (write-back.test.ts); this one checks that what the API accepts is processable.
 */
type Json = Record<string, unknown>;
const ddb = documentClient();
const DOCTOR_WITH_ONE_LIVE_OFFICE = 263813; // sandbox seed: Internal Medicine Suite (118733) + an archived annex
const DOCTOR_WITH_TWO_LIVE_OFFICES = 263814; // sandbox seed: two live offices (118734 and 118735)
const sandbox = (path: string): string => `${platform().sandboxUrl}/_sandbox${path}`;

async function call(method: string, path: string, opts: { body?: Json; headers?: Record<string, string> } = {}): Promise<HttpResult<string>> {
  const url = apiUrl(path);
  const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
  const headers = await signRequest(
    { method, url, headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...opts.headers }, ...(body !== undefined ? { body } : {}) },
    { credentials: LOCAL_CREDENTIALS, region: platform().region },
  );
  return httpRequest(method, url, { headers, ...(body !== undefined ? { body } : {}) });
}

const parsed = (r: HttpResult<string>): Json => JSON.parse(r.text) as Json;

/** A team connected with the write scopes and write-back on (what `team write-back on` + the connect link do), its backfill done. */
async function connectWritingTeam(): Promise<string> {
  const app = await createSandboxApp();
  const { teamId } = await registerTestTeam(app);
  const authorize = await startAuthorize(teamId);
  if (authorize.status !== 302 || !authorize.location) throw new Error(`authorize answered ${authorize.status}`);
  const url = new URL(authorize.location);
  url.searchParams.set('scope', `${url.searchParams.get('scope') ?? ''} patients:write calendar:write`.trim());
  const callback = await followCallback(await decideInSandbox(url.toString(), 'approve'), authorize.cookie);
  if (callback.status !== 200) throw new Error(`callback answered ${callback.status}`);
  await ddb.send(
    new UpdateCommand({
      TableName: platform().resources.teamsTable,
      Key: teamKey(teamId),
      UpdateExpression: 'SET writeBack = :on, grantedScopes = :scopes',
      ExpressionAttributeValues: { ':on': true, ':scopes': ['patients:read', 'calendar:read', 'user:read', 'patients:write', 'calendar:write'] },
    }),
  );
  await waitFor(async () => (await getBackfillJob(ddb, platform().resources.teamsTable, teamId))?.status === 'completed', {
    timeoutMs: 60_000,
    intervalMs: 200,
    description: 'the connect backfill to complete',
  });
  return teamId;
}

async function outcome(teamId: string, changeId: string): Promise<Json> {
  return waitFor(
    async () => {
      const res = await call('GET', `/teams/${teamId}/changes/${changeId}`);
      const change = parsed(res);
      return res.status === 200 && change.status !== 'pending' ? change : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 250, description: `the outcome of change ${changeId}` },
  );
}

describe('write API end to end (write-back worker and DrChrono sandbox)', () => {
  let teamId: string;
  let chartId: string;

  beforeAll(async () => {
    // Created before the team connects, so its backfill imports it; a patient of this suite's own.
    chartId = `E2E${randomUUID().slice(0, 8).toUpperCase()}`;
    await httpJson('POST', sandbox('/patients'), { first_name: 'Api', last_name: 'EndToEnd', gender: 'Female', doctor: DOCTOR_WITH_ONE_LIVE_OFFICE, chart_id: chartId }, 201);
    teamId = await connectWritingTeam();
  }, 90_000);

  it('applies a PATCH based on the read version, and the record then reads the new value under a new ETag', async () => {
    const before = await call('GET', `/teams/${teamId}/patients/${chartId}`);
    expect(before.status).toBe(200);
    const email = `e2e-${randomUUID().slice(0, 8)}@example.invalid`;
    const res = await call('PATCH', `/teams/${teamId}/patients/${chartId}`, { body: { Email: email }, headers: { 'if-match': before.headers.etag! } });
    expect(res.status).toBe(202);
    const change = await outcome(teamId, String(parsed(res).changeId));
    expect(change).toMatchObject({ status: 'applied', key: chartId });

    const after = await call('GET', `/teams/${teamId}/patients/${chartId}`);
    expect((parsed(after).fields as Json).Email).toBe(email);
    expect(after.headers.etag).not.toBe(before.headers.etag);

    // The same base version again: DrChrono's copy moved on since, so the retry is a conflict, not a second write.
    const retry = await call('PATCH', `/teams/${teamId}/patients/${chartId}`, { body: { Email: 'late@example.invalid' }, headers: { 'if-match': before.headers.etag! } });
    expect(await outcome(teamId, String(parsed(retry).changeId))).toMatchObject({ status: 'conflict' });
  });

  it('answers 400 saying what is missing when the provider has two live offices and the team has no default office', async () => {
    const res = await call('POST', `/teams/${teamId}/appointments`, {
      body: { Patient: chartId, Provider: String(DOCTOR_WITH_TWO_LIVE_OFFICES), 'Date of Service': '2032-03-03T09:00:00', Duration: 30 },
    });
    expect(res.status).toBe(400);
    const problems = parsed(res).problems as { field: string; problem: string }[];
    expect(problems).toEqual([{ field: 'Office', problem: expect.stringContaining('team write-back defaults') }]);
  });

  it('creates an appointment in the provider\'s only live office (looked up in DrChrono, archived offices left out) and reads it back by its Claim ID', async () => {
    const day = 10 + Math.floor(Math.random() * 18);
    const minute = Math.floor(Math.random() * 480);
    const when = `2032-0${1 + Math.floor(Math.random() * 9)}-${day}T${String(8 + Math.floor(minute / 60)).padStart(2, '0')}:${String(minute % 60).padStart(2, '0')}:00`;
    const res = await call('POST', `/teams/${teamId}/appointments`, {
      body: { Patient: chartId, Provider: String(DOCTOR_WITH_ONE_LIVE_OFFICE), 'Date of Service': when, Duration: 30, Reason: 'end to end' },
    });
    expect(res.status).toBe(202);
    const change = await outcome(teamId, String(parsed(res).changeId));
    expect(change).toMatchObject({ status: 'applied', entity: 'appointment', op: 'create' });
    const claimId = String(change.key);

    const record = await waitFor(async () => {
      const r = await call('GET', `/teams/${teamId}/appointments/${claimId}`);
      return r.status === 200 ? parsed(r) : undefined;
    }, { timeoutMs: 30_000, description: 'the created appointment record' });
    expect(record).toMatchObject({ entity: 'appointment', key: claimId, deleted: false });
    const { body: data } = await httpJson<{ appointments: Json[] }>('GET', sandbox('/data'), undefined, 200);
    expect(data.appointments.find((a) => String(a.id) === claimId)).toMatchObject({ office: 118733, doctor: DOCTOR_WITH_ONE_LIVE_OFFICE });

    const del = await call('DELETE', `/teams/${teamId}/appointments/${claimId}`);
    expect(del.status).toBe(202);
    expect(await outcome(teamId, String(parsed(del).changeId))).toMatchObject({ status: 'applied' });
  });
});
