import type { RunningSandbox } from '../../../local/drchrono-sandbox/index';
import { ARCHIVED_OFFICE_ID, SATELLITE_OFFICE_ID } from '../../../local/drchrono-sandbox/seed';
import { api, connect, control, sandbox, type AnyJson } from './helpers';

/**
 * Writes through DrChrono's API as the sandbox answers them (interfaces: POST → 201 + object, PATCH/PUT/DELETE →
 * 204, DRF 400s per field, 409 overlap, 403 without the write scope), and the webhooks they fire.
 */
let sb: RunningSandbox;
let token: string;
let events: { event: string; object: AnyJson }[];
beforeEach(async () => {
  sb = await sandbox();
  token = (await connect(sb)).access_token;
  events = [];
  sb.engine.onChange((event, _type, object) => events.push({ event, object }));
});
afterEach(() => sb.close());

const send = (method: string, path: string, body?: unknown, t = token) => api(sb, t, path, { method, body: body === undefined ? undefined : JSON.stringify(body) });
const SLOT = { doctor: 263812, patient: 104857601, office: 118732, exam_room: 2, duration: 30 };

describe('patient writes through the API', () => {
  it('creates a minimal patient with only the fields sent, blanks, and a Chart ID derived from the name', async () => {
    const r = await send('POST', '/api/patients', { first_name: 'Minnie', last_name: 'Writewell', doctor: 263812, gender: 'Female' });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ first_name: 'Minnie', last_name: 'Writewell', doctor: 263812, gender: 'Female', chart_id: 'WRMI000001' });
    for (const k of ['email', 'social_security_number', 'home_phone', 'cell_phone', 'office_phone', 'address', 'emergency_contact_name', 'responsible_party_name']) expect(r.body[k]).toBe('');
    expect(r.body.date_of_birth).toBeNull();
    const verbose = (await api(sb, token, `/api/patients/${r.body.id}?verbose=true`)).body;
    for (const k of ['primary_insurance', 'secondary_insurance', 'tertiary_insurance']) expect(verbose[k]).toEqual({});
    expect(verbose.patient_flags_attached).toEqual([]);
    expect(events.map((e) => e.event)).toEqual(['PATIENT_CREATE']);
    expect(events[0]!.object.updated_at).toBe(r.body.updated_at);
  });

  it('answers POST with the object as GET serialises it: verbose fields only with verbose=true', async () => {
    const plain = await send('POST', '/api/patients', { doctor: 263812, gender: 'Male' });
    expect(plain.body).not.toHaveProperty('primary_insurance');
    const verbose = await send('POST', '/api/patients?verbose=true', { doctor: 263812, gender: 'Male' });
    expect(verbose.body).toHaveProperty('primary_insurance');
  });

  it('gives the next free number to a second patient with the same name initials, and keeps a Chart ID that is sent', async () => {
    await send('POST', '/api/patients', { first_name: 'Minnie', last_name: 'Writewell', doctor: 263812, gender: 'Female' });
    const second = await send('POST', '/api/patients', { first_name: 'Mike', last_name: 'Wright', doctor: 263812, gender: 'Male' });
    expect(second.body.chart_id).toBe('WRMI000002');
    expect((await send('POST', '/api/patients', { chart_id: 'APP-42', doctor: 263812, gender: '' })).body.chart_id).toBe('APP-42');
  });

  it('derives a missing Chart ID from the name in the control API (DrChrono\'s UI) too, and keeps an explicit empty one', async () => {
    const ui = (await control(sb, 'POST', '/patients', { first_name: 'Uma', last_name: 'Interface' })).body;
    expect(ui.chart_id).toBe('INUM000001');
    expect((await control(sb, 'POST', '/patients', { first_name: 'No', last_name: 'Chart', chart_id: '' })).body.chart_id).toBe('');
  });

  it('filters the patient list by exact chart_id', async () => {
    const p = (await send('POST', '/api/patients', { chart_id: 'EXACT-1', doctor: 263812, gender: 'Other' })).body;
    await send('POST', '/api/patients', { chart_id: 'EXACT-10', doctor: 263812, gender: 'Other' });
    const page = (await api(sb, token, '/api/patients?chart_id=EXACT-1')).body;
    expect(page.results.map((x: AnyJson) => x.id)).toEqual([p.id]);
  });

  it('answers 400 with every bad field in DRF format and creates nothing', async () => {
    const before = sb.engine.state.data.patients.length;
    const r = await send('POST', '/api/patients', { gender: 'Robot', date_of_birth: '12/31/1990', preferred_language: 'klingon' });
    expect(r.status).toBe(400);
    expect(r.body).toEqual({
      doctor: ['This field is required.'],
      gender: ['"Robot" is not a valid choice.'],
      date_of_birth: ['Date has wrong format. Use one of these formats instead: YYYY-MM-DD.'],
      preferred_language: ['"klingon" is not a valid choice.'],
    });
    expect(sb.engine.state.data.patients).toHaveLength(before);
    expect(events).toEqual([]);
  });

  it('answers 400 non_field_errors to a body that is not an object', async () => {
    const r = await send('POST', '/api/patients', [1, 2]);
    expect(r).toMatchObject({ status: 400, body: { non_field_errors: ['Invalid data. Expected a dictionary, but got list.'] } });
  });

  it('PATCH answers 204 with no body, changes only the fields sent, moves updated_at and fires PATIENT_MODIFY', async () => {
    sb.engine.advanceClock(2000);
    const before = (await api(sb, token, '/api/patients/104857602')).body;
    const r = await send('PATCH', '/api/patients/104857602', { email: 'new.address@example.com', id: 1, updated_at: '2000-01-01T00:00:00' });
    expect(r.status).toBe(204);
    expect(r.body).toBeUndefined();
    const after = (await api(sb, token, '/api/patients/104857602')).body;
    expect(after).toEqual({ ...before, email: 'new.address@example.com', updated_at: after.updated_at });
    expect(after.updated_at > before.updated_at).toBe(true);
    expect(events).toEqual([{ event: 'PATIENT_MODIFY', object: expect.objectContaining({ id: 104857602, email: 'new.address@example.com', updated_at: after.updated_at }) }]);
  });

  it('PUT needs doctor and gender; PATCH does not', async () => {
    expect((await send('PUT', '/api/patients/104857602', { email: 'x@example.com' })).body).toEqual({ doctor: ['This field is required.'], gender: ['This field is required.'] });
    expect((await send('PUT', '/api/patients/104857602', { email: 'x@example.com', doctor: 263813, gender: 'Male' })).status).toBe(204);
  });

  it('answers 404 to a write to an unknown patient', async () => {
    expect((await send('PATCH', '/api/patients/1', { email: 'x@example.com' })).status).toBe(404);
  });
});

describe('appointment writes through the API', () => {
  it('creates an appointment (201 + object) with the profile\'s duration when none is sent, and fires APPOINTMENT_CREATE', async () => {
    const r = await send('POST', '/api/appointments', { ...SLOT, duration: undefined, profile: 447201, scheduled_time: '2031-03-03T09:00:00' });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ id: expect.any(String), duration: 45, reason: 'Annual physical', status: '', office: 118732, exam_room: 2, deleted_flag: false });
    expect(events.map((e) => [e.event, e.object.id])).toEqual([['APPOINTMENT_CREATE', r.body.id]]);
  });

  it('answers 400 for every missing required field, and for a missing duration without a profile', async () => {
    const r = await send('POST', '/api/appointments', { notes: 'n' });
    expect(r.status).toBe(400);
    expect(Object.keys(r.body).sort()).toEqual(['doctor', 'exam_room', 'office', 'patient', 'scheduled_time']);
    const noDuration = await send('POST', '/api/appointments', { ...SLOT, duration: undefined, scheduled_time: '2031-03-03T09:00:00' });
    expect(noDuration).toMatchObject({ status: 400, body: { duration: ['This field is required.'] } });
  });

  it('answers 400 for an unknown patient, doctor or office, an archived office, and an exam room not in the office', async () => {
    const t = '2031-03-03T09:00:00';
    expect((await send('POST', '/api/appointments', { ...SLOT, scheduled_time: t, patient: 1, doctor: 2, office: 3 })).body).toEqual({
      doctor: ['Invalid pk "2" - object does not exist.'],
      patient: ['Invalid pk "1" - object does not exist.'],
      office: ['Invalid pk "3" - object does not exist.'],
    });
    expect((await send('POST', '/api/appointments', { ...SLOT, scheduled_time: t, office: ARCHIVED_OFFICE_ID, exam_room: 1 })).body).toEqual({ office: [`Invalid pk "${ARCHIVED_OFFICE_ID}" - object does not exist.`] });
    expect((await send('POST', '/api/appointments', { ...SLOT, scheduled_time: t, office: SATELLITE_OFFICE_ID, exam_room: 2 })).body).toEqual({ exam_room: [expect.any(String)] });
    expect((await send('POST', '/api/appointments', { ...SLOT, scheduled_time: t, patient: null })).body).toEqual({ patient: [expect.stringContaining('appt_is_break')] });
    expect(events).toEqual([]);
  });

  it('answers 409 to an appointment overlapping another in the same office and exam room, unless allow_overlapping', async () => {
    const first = await send('POST', '/api/appointments', { ...SLOT, scheduled_time: '2031-03-03T09:00:00' });
    expect(first.status).toBe(201);
    const clash = await send('POST', '/api/appointments', { ...SLOT, scheduled_time: '2031-03-03T09:15:00', doctor: 263813 });
    expect(clash).toMatchObject({ status: 409, body: { detail: 'Scheduled time overlaps with an existing appointment' } });
    expect((await send('POST', '/api/appointments', { ...SLOT, scheduled_time: '2031-03-03T09:15:00', exam_room: 3 })).status).toBe(201);
    expect((await send('POST', '/api/appointments', { ...SLOT, scheduled_time: '2031-03-03T09:30:00' })).status).toBe(201);
    const allowed = await send('POST', '/api/appointments', { ...SLOT, scheduled_time: '2031-03-03T09:15:00', allow_overlapping: true });
    expect(allowed).toMatchObject({ status: 201, body: { allow_overlapping: true } });
    expect(events.map((e) => e.event)).toEqual(['APPOINTMENT_CREATE', 'APPOINTMENT_CREATE', 'APPOINTMENT_CREATE', 'APPOINTMENT_CREATE']);
  });

  it('answers 409 to a move into an occupied slot, and lets a non-moving edit of an overlapped appointment through', async () => {
    await send('POST', '/api/appointments', { ...SLOT, scheduled_time: '2031-03-04T09:00:00' });
    const other = (await send('POST', '/api/appointments', { ...SLOT, scheduled_time: '2031-03-04T11:00:00' })).body;
    events = [];
    expect((await send('PATCH', `/api/appointments/${other.id}`, { scheduled_time: '2031-03-04T09:20:00' })).status).toBe(409);
    expect((await api(sb, token, `/api/appointments/${other.id}`)).body.scheduled_time).toBe('2031-03-04T11:00:00');
    expect((await send('PATCH', `/api/appointments/${other.id}`, { scheduled_time: '2031-03-04T09:20:00', allow_overlapping: true })).status).toBe(204);
    expect((await send('PATCH', `/api/appointments/${other.id}`, { status: 'Arrived' })).status).toBe(204);
    expect(events.map((e) => e.event)).toEqual(['APPOINTMENT_MODIFY', 'APPOINTMENT_MODIFY']);
  });

  it('moves an appointment (PATCH 204) and deletes it (DELETE 204, then readable with deleted_flag), firing MODIFY then DELETE', async () => {
    const a = (await send('POST', '/api/appointments', { ...SLOT, scheduled_time: '2031-03-05T09:00:00' })).body;
    expect((await send('PATCH', `/api/appointments/${a.id}`, { scheduled_time: '2031-03-05T10:00:00' })).status).toBe(204);
    expect((await api(sb, token, `/api/appointments/${a.id}`)).body.scheduled_time).toBe('2031-03-05T10:00:00');
    const del = await send('DELETE', `/api/appointments/${a.id}`);
    expect(del.status).toBe(204);
    expect((await api(sb, token, `/api/appointments/${a.id}`)).body.deleted_flag).toBe(true);
    expect(events.map((e) => e.event)).toEqual(['APPOINTMENT_CREATE', 'APPOINTMENT_MODIFY', 'APPOINTMENT_DELETE']);
    expect(events[2]!.object).toMatchObject({ id: a.id, deleted_flag: true });
    // A repeated DELETE (a retry after a lost answer) changes nothing and fires nothing.
    expect((await send('DELETE', `/api/appointments/${a.id}`)).status).toBe(204);
    expect(events).toHaveLength(3);
    // A deleted appointment no longer blocks its slot.
    expect((await send('POST', '/api/appointments', { ...SLOT, scheduled_time: '2031-03-05T10:00:00' })).status).toBe(201);
  });
});

describe('write scopes', () => {
  it('answers 403 to patient writes without patients:write and appointment writes without calendar:write; reads still work', async () => {
    const readOnly = (await connect(sb, 'sandbox-client', 'sandbox-secret', 'patients:read calendar:read clinical:write')).access_token;
    const forbidden = { status: 403, body: { detail: 'You do not have permission to perform this action.' } };
    expect(await send('POST', '/api/patients', { doctor: 263812, gender: 'Male' }, readOnly)).toMatchObject(forbidden);
    expect(await send('PATCH', '/api/patients/104857602', { email: 'x@example.com' }, readOnly)).toMatchObject(forbidden);
    expect(await send('POST', '/api/appointments', { ...SLOT, scheduled_time: '2031-03-06T09:00:00' }, readOnly)).toMatchObject(forbidden);
    expect(await send('DELETE', '/api/appointments/246813579', undefined, readOnly)).toMatchObject(forbidden);
    expect((await api(sb, readOnly, '/api/patients/104857602')).status).toBe(200);
    expect(events).toEqual([]);

    const patientsOnly = (await connect(sb, 'sandbox-client', 'sandbox-secret', 'patients:write calendar:read')).access_token;
    expect((await send('PATCH', '/api/patients/104857602', { email: 'x@example.com' }, patientsOnly)).status).toBe(204);
    expect(await send('PATCH', '/api/appointments/246813579', { notes: 'x' }, patientsOnly)).toMatchObject(forbidden);
  });
});

describe('offices', () => {
  it('lists offices with exam rooms, filtered by doctor: one doctor has two live offices, archived ones are flagged', async () => {
    const all = (await api(sb, token, '/api/offices')).body;
    expect(all.next).toBeNull();
    expect(all.results[0]).toMatchObject({ id: 118732, doctor: 263812, archived: false, exam_rooms: [{ index: 1, name: 'Exam 1' }, { index: 2, name: 'Exam 2' }, { index: 3, name: 'Exam 3' }] });
    expect(all.results[0]).not.toHaveProperty('online_timeslots');
    const live = (doctor: number) => all.results.filter((o: AnyJson) => o.doctor === doctor && !o.archived);
    for (const doctor of [263812, 263813, 263814]) expect(live(doctor).filter((o: AnyJson) => o.exam_rooms.length >= 2)).toHaveLength(1);
    expect(live(263814)).toHaveLength(2);
    const of263813 = (await api(sb, token, '/api/offices?doctor=263813')).body.results;
    expect(of263813.map((o: AnyJson) => [o.id, o.archived])).toEqual([[118733, false], [ARCHIVED_OFFICE_ID, true]]);
    expect((await api(sb, token, '/api/offices/118734')).body.name).toBe('Pediatrics Wing');
  });

  it('paginates the office list with results/next', async () => {
    const first = (await api(sb, token, '/api/offices?page_size=2')).body;
    expect(first.results).toHaveLength(2);
    const next = new URL(first.next);
    expect((await api(sb, token, next.pathname + next.search)).body.results[0].id).toBe(118734);
  });

  it('puts every seeded appointment in an office of its doctor, in one of that office\'s rooms', () => {
    const offices = sb.engine.state.data.offices ?? [];
    for (const a of sb.engine.state.data.appointments) {
      const o = offices.find((x) => x.id === a.office);
      expect(o?.doctor).toBe(a.doctor);
      expect((o?.exam_rooms as { index: number }[]).map((r) => r.index)).toContain(a.exam_room);
    }
  });

  it('needs user:read for offices, as DrChrono\'s spec says', async () => {
    const noUser = (await connect(sb, 'sandbox-client', 'sandbox-secret', 'patients:read')).access_token;
    expect((await api(sb, noUser, '/api/offices')).status).toBe(403);
  });
});
