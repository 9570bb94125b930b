import type { DrChronoClient, DrChronoClientOptions } from './client';
import type { Appointment, AppointmentProfile, Doctor, Patient, PatientFlagType } from './schemas';

/**
 * Loads the DrChrono client (and axios under it) on the first DrChrono call in a container instead of at module
 * init. The sync worker calls DrChrono for about 1 event in 100 (most objects arrive whole in the webhook), so a
 * cold start no longer waits for that code, and a container that never calls DrChrono never runs it. In esbuild's
 * single-file bundle a module reached only through `import()` is still in the file but wrapped, and runs on first
 * use; that holds only while nothing on the function's path imports `./client`, `./bulk`, `./transport` or
 * `axios` statically (type-only imports are fine), which test/infra/bundling.test.ts checks. What this moves is
 * in docs/performance.md ("Where figures are far from their floor", bundles).
 */

/**
 * `load` runs once per container and its result is kept. Calls made while it runs share it. A failed load is
 * not kept: the next call runs `load` again instead of replaying the old rejection for the container's life.
 */
export function loadOnce<T>(load: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | undefined;
  return () => {
    if (pending) return pending;
    const attempt = Promise.resolve()
      .then(load)
      .catch((err: unknown) => {
        if (pending === attempt) pending = undefined;
        throw err;
      });
    pending = attempt;
    return attempt;
  };
}

/** The client module, evaluated on first use. */
export const loadDrChronoClientModule = loadOnce(() => import('./client'));

/** What the sync path reads through the deferred client: a subset of DrChronoClient. */
export type DeferredReads = Pick<DrChronoClient, 'getPatient' | 'getAppointment' | 'getDoctor' | 'listAppointmentProfiles' | 'listPatientFlagTypes'>;

/**
 * Stands in for `new DrChronoClient(opts)` until its first call, which loads the client module and builds the
 * real client; later calls reuse it. Same methods, arguments, errors and budget hook (`beforeCall`).
 */
export class DeferredDrChronoClient implements DeferredReads {
  private client: DrChronoClient | undefined;

  constructor(
    private readonly opts: DrChronoClientOptions,
    private readonly load: () => Promise<{ DrChronoClient: new (o: DrChronoClientOptions) => DrChronoClient }> = loadDrChronoClientModule,
  ) {}

  private async real(): Promise<DrChronoClient> {
    if (this.client) return this.client;
    const { DrChronoClient: Client } = await this.load();
    this.client ??= new Client(this.opts);
    return this.client;
  }

  async getPatient(id: number | string, o?: { verbose?: boolean }): Promise<Patient> {
    return (await this.real()).getPatient(id, o);
  }

  async getAppointment(id: number | string, o?: { verbose?: boolean }): Promise<Appointment> {
    return (await this.real()).getAppointment(id, o);
  }

  async getDoctor(id: number | string): Promise<Doctor> {
    return (await this.real()).getDoctor(id);
  }

  async *listAppointmentProfiles(): AsyncIterable<AppointmentProfile> {
    yield* (await this.real()).listAppointmentProfiles();
  }

  async *listPatientFlagTypes(): AsyncIterable<PatientFlagType> {
    yield* (await this.real()).listPatientFlagTypes();
  }
}
