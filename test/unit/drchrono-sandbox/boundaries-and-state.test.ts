import { subscribedSpelling } from '../../../local/drchrono-sandbox/webhooks';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSandbox } from '../../../local/drchrono-sandbox/index';
import { api, connect, control } from './helpers';

const ROOT = join(__dirname, '..', '..', '..');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? sourceFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

describe('sandbox boundaries', () => {
  it('no Lambda code (functions/, shared/) imports the sandbox', () => {
    const offenders = ['functions', 'shared']
      .flatMap((d) => {
        try {
          return sourceFiles(join(ROOT, d));
        } catch {
          return [];
        }
      })
      .filter((f) => /from ['"][^'"]*drchrono-sandbox/.test(readFileSync(f, 'utf8')));
    expect(offenders).toEqual([]);
  });
});

describe('sandbox state file', () => {
  it('keeps data, apps and tokens across a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'drchrono-sandbox-'));
    const statePath = join(dir, 'state.json');
    try {
      const first = await startSandbox({ port: 0, statePath });
      const token = (await connect(first)).access_token;
      await control(first, 'PATCH', '/apps/sandbox-client', { hourlyBudget: 77 });
      const created = (await control(first, 'POST', '/patients', { first_name: 'Persisted' })).body;
      await first.close();

      const second = await startSandbox({ port: 0, statePath });
      try {
        expect((await api(second, token, `/api/patients/${created.id}`)).body.first_name).toBe('Persisted');
        expect((await control(second, 'GET', '/apps/sandbox-client')).body.hourlyBudget).toBe(77);
      } finally {
        await second.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('sandbox state file written before offices were modelled', () => {
  it('gets the seed\'s offices on load, so appointment writes keep working', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'drchrono-sandbox-'));
    const statePath = join(dir, 'state.json');
    try {
      const first = await startSandbox({ port: 0, statePath });
      await first.close();
      const old = JSON.parse(readFileSync(statePath, 'utf8'));
      delete old.data.offices;
      writeFileSync(statePath, JSON.stringify(old));

      const second = await startSandbox({ port: 0, statePath });
      try {
        const token = (await connect(second)).access_token;
        expect((await api(second, token, '/api/offices?doctor=263812')).body.results.map((o: { id: number }) => o.id)).toEqual([118732]);
        const body = JSON.stringify({ doctor: 263812, patient: 104857601, office: 118732, exam_room: 1, duration: 15, scheduled_time: '2031-01-02T09:00:00' });
        expect((await api(second, token, '/api/appointments', { method: 'POST', body })).status).toBe(201);
      } finally {
        await second.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('webhook event spelling', () => {
  it('sends the flag change event under the spelling the app subscribed to', () => {
    expect(subscribedSpelling(['PATIENT_FLAG_CMODIFY'], 'PATIENT_FLAG_CMODIFY')).toBe('PATIENT_FLAG_CMODIFY');
    expect(subscribedSpelling(['PATIENT_FLAG_MODIFY'], 'PATIENT_FLAG_CMODIFY')).toBe('PATIENT_FLAG_MODIFY');
    expect(subscribedSpelling(['PATIENT_MODIFY'], 'PATIENT_FLAG_CMODIFY')).toBeUndefined();
  });
});
