import { DrChronoClient, type DrChronoClientOptions } from '../../../shared/drchrono/client';
import { DeferredDrChronoClient, loadDrChronoClientModule, loadOnce } from '../../../shared/drchrono/deferred-client';
import { DrChronoNotFoundError } from '../../../shared/drchrono/errors';
import { json, StubServer } from './stub-server';
import patientFixture from '../../fixtures/drchrono/patient.json';
import appointmentFixture from '../../fixtures/drchrono/appointment.json';
import doctorFixture from '../../fixtures/drchrono/doctor.json';

describe('loadOnce', () => {
  it('runs the load once and hands every later call the same result', async () => {
    const load = jest.fn(async () => ({ loaded: true }));
    const get = loadOnce(load);
    const first = await get();
    expect(await get()).toBe(first);
    expect(load).toHaveBeenCalledTimes(1);
  });

  it('lets concurrent first calls share one load', async () => {
    let release!: (v: string) => void;
    const load = jest.fn(() => new Promise<string>((resolve) => (release = resolve)));
    const get = loadOnce(load);
    const calls = [get(), get(), get()];
    // The load has not settled yet, and still only one started.
    await Promise.resolve();
    expect(load).toHaveBeenCalledTimes(1);
    release('module');
    expect(await Promise.all(calls)).toEqual(['module', 'module', 'module']);
    expect(load).toHaveBeenCalledTimes(1);
  });

  it('does not keep a failed load: the next call loads again and succeeds', async () => {
    const load = jest.fn<Promise<string>, []>().mockRejectedValueOnce(new Error('evaluation failed')).mockResolvedValue('module');
    const get = loadOnce(load);
    await expect(get()).rejects.toThrow('evaluation failed');
    await expect(get()).resolves.toBe('module');
    await expect(get()).resolves.toBe('module');
    expect(load).toHaveBeenCalledTimes(2);
  });

  it('fails every caller that shared a failed load, then retries on the next call', async () => {
    let fail!: (e: Error) => void;
    const load = jest
      .fn<Promise<string>, []>()
      .mockImplementationOnce(() => new Promise<string>((_, reject) => (fail = reject)))
      .mockResolvedValue('module');
    const get = loadOnce(load);
    const shared = [get(), get()];
    await Promise.resolve();
    fail(new Error('evaluation failed'));
    for (const p of shared) await expect(p).rejects.toThrow('evaluation failed');
    await expect(get()).resolves.toBe('module');
    expect(load).toHaveBeenCalledTimes(2);
  });

  it('turns a load that throws synchronously into a rejection and retries it next time', async () => {
    const load = jest
      .fn<Promise<string>, []>()
      .mockImplementationOnce(() => {
        throw new Error('sync throw');
      })
      .mockResolvedValue('module');
    const get = loadOnce(load);
    await expect(get()).rejects.toThrow('sync throw');
    await expect(get()).resolves.toBe('module');
  });
});

describe('DeferredDrChronoClient', () => {
  let stub: StubServer;
  /** Answers by path (query left out), 404 for anything else. */
  function routes(byPath: Record<string, (url: string) => { status: number; body?: unknown }>): void {
    stub.handler = (req, res) => {
      const url = req.url ?? '';
      const route = byPath[url.split('?')[0]!];
      const r = route ? route(url) : { status: 404, body: { detail: 'Not found.' } };
      json(res, r.status, r.body);
    };
  }
  beforeEach(async () => {
    stub = await new StubServer().start();
  });
  afterEach(async () => {
    await stub.stop();
  });

  function options(beforeCall = jest.fn(async () => undefined)): DrChronoClientOptions {
    return { baseUrl: stub.url, accessToken: async () => 'tok', beforeCall, maxRetries: 0 };
  }

  it('loads nothing until its first call', () => {
    const load = jest.fn(loadDrChronoClientModule);
    new DeferredDrChronoClient(options(), load);
    expect(load).not.toHaveBeenCalled();
  });

  it('loads the client module on the first call, builds one client and reuses it for later calls', async () => {
    routes({ '/api/patients/7': () => ({ status: 200, body: { ...patientFixture, id: 7 } }), '/api/doctors/1': () => ({ status: 200, body: { ...doctorFixture, id: 1 } }) });
    const load = jest.fn(loadDrChronoClientModule);
    const beforeCall = jest.fn(async () => undefined);
    const client = new DeferredDrChronoClient(options(beforeCall), load);
    await expect(client.getPatient(7)).resolves.toMatchObject({ id: 7 });
    await expect(client.getDoctor(1)).resolves.toMatchObject({ id: 1 });
    // The second call reuses the client it built: no second trip through the loader.
    expect(load).toHaveBeenCalledTimes(1);
    // The budget hook still runs once per request.
    expect(beforeCall).toHaveBeenCalledTimes(2);
  });

  it('keeps the module loaded for the container: a second client does not load it again', async () => {
    routes({ '/api/patients/7': () => ({ status: 200, body: { ...patientFixture, id: 7 } }) });
    const inner = jest.fn(async () => import('../../../shared/drchrono/client'));
    const load = loadOnce(inner);
    await new DeferredDrChronoClient(options(), load).getPatient(7);
    await new DeferredDrChronoClient(options(), load).getPatient(7);
    expect(inner).toHaveBeenCalledTimes(1);
    expect(stub.seen).toHaveLength(2);
  });

  it('shares one load among concurrent first calls', async () => {
    routes({ '/api/patients/7': () => ({ status: 200, body: { ...patientFixture, id: 7 } }), '/api/appointments/8': () => ({ status: 200, body: { ...appointmentFixture, id: 8 } }) });
    const inner = jest.fn(async () => import('../../../shared/drchrono/client'));
    const client = new DeferredDrChronoClient(options(), loadOnce(inner));
    await Promise.all([client.getPatient(7), client.getAppointment(8, { verbose: true })]);
    expect(inner).toHaveBeenCalledTimes(1);
    expect(stub.seen.map((r) => r.url).sort()).toEqual(['/api/appointments/8?verbose=true', '/api/patients/7']);
  });

  it('retries the load on the next call after a failed one, and sends nothing while it fails', async () => {
    routes({ '/api/patients/7': () => ({ status: 200, body: { ...patientFixture, id: 7 } }) });
    const inner = jest
      .fn<Promise<{ DrChronoClient: typeof DrChronoClient }>, []>()
      .mockRejectedValueOnce(new Error('evaluation failed'))
      .mockResolvedValue({ DrChronoClient });
    const client = new DeferredDrChronoClient(options(), loadOnce(inner));
    await expect(client.getPatient(7)).rejects.toThrow('evaluation failed');
    expect(stub.seen).toHaveLength(0);
    await expect(client.getPatient(7)).resolves.toMatchObject({ id: 7 });
    expect(inner).toHaveBeenCalledTimes(2);
  });

  it('passes DrChrono errors through unchanged', async () => {
    routes({});
    const client = new DeferredDrChronoClient(options());
    await expect(client.getPatient(7)).rejects.toBeInstanceOf(DrChronoNotFoundError);
  });

  it('pages the lists it defers (appointment profiles, patient flag types)', async () => {
    routes({
      '/api/appointment_profiles': (url) =>
        url.includes('page=2')
          ? { status: 200, body: { results: [{ id: 2, name: 'B' }], next: null } }
          : { status: 200, body: { results: [{ id: 1, name: 'A' }], next: `${stub.url}/api/appointment_profiles?page=2` } },
      '/api/patient_flag_types': () => ({ status: 200, body: { results: [{ id: 5, name: 'F' }], next: null } }),
    });
    const client = new DeferredDrChronoClient(options());
    const profiles: unknown[] = [];
    for await (const p of client.listAppointmentProfiles()) profiles.push(p);
    const flags: unknown[] = [];
    for await (const f of client.listPatientFlagTypes()) flags.push(f);
    expect(profiles).toMatchObject([{ id: 1 }, { id: 2 }]);
    expect(flags).toMatchObject([{ id: 5 }]);
  });
});
