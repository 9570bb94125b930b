import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { seedData, seedSecondPractice } from '../../local/drchrono-sandbox/seed';

/**
 * Every object whose PHI the suite feeds through the product: the DrChrono fixtures, and the patients and
 * appointments the sandbox seeds (both practices; the seed is deterministic apart from timestamps, which are not PHI here).
 */
export async function phiSources(): Promise<unknown[]> {
  const dir = join(process.cwd(), 'test', 'fixtures', 'drchrono');
  const sources: unknown[] = [];
  for (const f of readdirSync(dir)) {
    if (f.endsWith('.json') && !f.startsWith('openapi')) sources.push(JSON.parse(readFileSync(join(dir, f), 'utf8')));
  }
  const seed = seedData(Date.now());
  const second = seedSecondPractice(Date.now());
  sources.push(seed.patients, seed.appointments, second.patients, second.appointments);
  return sources;
}
