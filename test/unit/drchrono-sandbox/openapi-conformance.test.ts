import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import type { RunningSandbox } from '../../../local/drchrono-sandbox/index';
import subset from '../../fixtures/drchrono/openapi-subset.json';
import { api, connect, sandbox } from './helpers';

/**
 * The sandbox must answer in DrChrono's published shapes: every response below is validated against the
 * OpenAPI subset in test/fixtures/drchrono (with its documented corrections, e.g. `data` → `results`).
 */
const ajv = new Ajv({ strict: false, allErrors: true });
addFormats(ajv);
ajv.addSchema({ components: (subset as { components: object }).components }, 'drchrono');

type Paths = Record<string, { get: { responses: { '200': { content: { 'application/json': { schema: object } } } } } }>;
function validatorFor(path: string) {
  const schema = (subset.paths as unknown as Paths)[path]!.get.responses['200'].content['application/json'].schema;
  const rewritten = JSON.parse(JSON.stringify(schema).replaceAll('"#/components/', '"drchrono#/components/'));
  return ajv.compile(rewritten);
}

let sb: RunningSandbox;
let token: string;
beforeAll(async () => {
  sb = await sandbox();
  token = (await connect(sb)).access_token;
});
afterAll(() => sb.close());

async function expectValid(specPath: string, url: string) {
  const res = await api(sb, token, url);
  expect(res.status).toBe(200);
  const validate = validatorFor(specPath);
  const ok = validate(res.body);
  expect(validate.errors ?? []).toEqual([]);
  expect(ok).toBe(true);
  return res.body;
}

describe('sandbox responses validate against DrChrono OpenAPI schemas', () => {
  it.each([
    ['/api/patients', '/api/patients'],
    ['/api/patients', '/api/patients?verbose=true'],
    ['/api/patients/{id}', '/api/patients/104857601'],
    ['/api/patients/{id}', '/api/patients/104857601?verbose=true'],
    ['/api/appointments', '/api/appointments?since=2000-01-01'],
    ['/api/appointments', '/api/appointments?since=2000-01-01&verbose=true'],
    ['/api/appointments/{id}', '/api/appointments/246813579?verbose=true'],
    ['/api/doctors', '/api/doctors'],
    ['/api/doctors/{id}', '/api/doctors/263812'],
    ['/api/appointment_profiles', '/api/appointment_profiles'],
    ['/api/patient_flag_types', '/api/patient_flag_types'],
    ['/api/users/{id}', '/api/users/9001'],
  ])('%s (%s)', async (specPath, url) => {
    const body = await expectValid(specPath, url);
    if (Array.isArray(body.results)) expect(body.results.length).toBeGreaterThan(0);
  });

  it('validates a break (null patient and profile) and a deleted appointment', async () => {
    const all = await expectValid('/api/appointments', '/api/appointments?since=2000-01-01&page_size=20');
    let page = all;
    const items = [...page.results];
    while (page.next) {
      page = (await api(sb, token, new URL(page.next).pathname + new URL(page.next).search)).body;
      items.push(...page.results);
    }
    expect(items.some((a: { appt_is_break: boolean; patient: unknown }) => a.appt_is_break && a.patient === null)).toBe(true);
    expect(items.some((a: { deleted_flag: boolean }) => a.deleted_flag)).toBe(true);
  });

  it('resolves item schemas: a patient with a gender outside the enum fails', async () => {
    const page = (await api(sb, token, '/api/patients')).body;
    page.results[0].gender = 'Bogus';
    expect(validatorFor('/api/patients')(page)).toBe(false);
  });

  it('the published schema itself rejects the uncorrected `data` key', () => {
    const validate = validatorFor('/api/doctors');
    expect(validate({ data: [], next: null, previous: null })).toBe(false);
  });
});
