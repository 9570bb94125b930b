import type { RunningSandbox } from '../../../local/drchrono-sandbox/index';
import { PRACTICE_GROUP, SECOND_PRACTICE_GROUP, SECOND_PRACTICE_USER_IDS } from '../../../local/drchrono-sandbox/seed';
import { api, control, REDIRECT, sandbox, tokenRequest } from './helpers';

let sb: RunningSandbox;
beforeEach(async () => {
  sb = await sandbox({ codeTtlSeconds: 60 });
});
afterEach(() => sb.close());

async function tokenFor(userId?: number): Promise<string> {
  const form = new URLSearchParams({ client_id: 'sandbox-client', redirect_uri: REDIRECT, response_type: 'code', state: 's', decision: 'approve' });
  if (userId !== undefined) form.set('user_id', String(userId));
  const res = await fetch(`${sb.url}/o/authorize/`, { method: 'POST', body: form, redirect: 'manual' });
  const code = new URL(res.headers.get('location')!).searchParams.get('code')!;
  const t = await tokenRequest(sb, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, client_id: 'sandbox-client', client_secret: 'sandbox-secret' });
  return t.body.access_token as string;
}

async function currentUser(token: string) {
  const redirect = await api(sb, token, '/api/users/current');
  return (await api(sb, token, new URL(redirect.headers.get('location')!).pathname)).body;
}

describe('sandbox practices', () => {
  it('the approve page lets you choose the approving user, the default one preselected', async () => {
    const html = await (await fetch(`${sb.url}/o/authorize/?response_type=code&client_id=sandbox-client&redirect_uri=${encodeURIComponent(REDIRECT)}`)).text();
    expect(html).toContain('name="user_id"');
    expect(html).toContain('<option value="9001" selected>');
    expect(html).toContain(`<option value="${SECOND_PRACTICE_USER_IDS.doctor}">`);
  });

  it('without a choice the default practice user approves, as before', async () => {
    const user = await currentUser(await tokenFor());
    expect(user).toMatchObject({ id: 9001, practice_group: PRACTICE_GROUP });
  });

  it("a second practice's user sees only that practice's users, doctors, patients and appointments", async () => {
    const token = await tokenFor(SECOND_PRACTICE_USER_IDS.doctor);
    expect(await currentUser(token)).toMatchObject({ id: SECOND_PRACTICE_USER_IDS.doctor, practice_group: SECOND_PRACTICE_GROUP });
    const doctors = (await api(sb, token, '/api/doctors')).body.results as { practice_group: string }[];
    expect(doctors.map((d) => d.practice_group)).toEqual([SECOND_PRACTICE_GROUP]);
    const patients = (await api(sb, token, '/api/patients')).body.results as { id: number }[];
    expect(patients.length).toBe(5);
    expect(patients.every((p) => p.id >= 204857601)).toBe(true);
    expect((await api(sb, token, '/api/patients/104857601')).status).toBe(404);
    const appts = (await api(sb, token, '/api/appointments?since=2000-01-01')).body.results as { patient: number }[];
    expect(appts.length).toBe(5);
    expect((await api(sb, token, '/api/patients', { method: 'POST', body: '{}' })).status).toBe(403);
  });

  it("the default practice's users do not see the second practice's patients", async () => {
    const token = await tokenFor();
    const patients = (await api(sb, token, '/api/patients')).body.results as { id: number }[];
    expect(patients.some((p) => p.id >= 204857601)).toBe(false);
  });

  it('the control API approves as any practice user and refuses an unknown one', async () => {
    const ok = await control(sb, 'POST', '/oauth/approve', { client_id: 'sandbox-client', redirect_uri: REDIRECT, user_id: SECOND_PRACTICE_USER_IDS.frontdesk });
    expect(new URL(ok.body.location).searchParams.get('code')).toBeTruthy();
    expect((await control(sb, 'POST', '/oauth/approve', { client_id: 'sandbox-client', redirect_uri: REDIRECT, user_id: 123 })).status).toBe(400);
  });
});
