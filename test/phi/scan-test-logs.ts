/**
 * The PHI log scan: reads every log file the test suite wrote (.local/test-logs: the jest runs' output and the
 * local platform's output) and fails if any line holds a PHI value from the fixtures or the sandbox seed.
 * Run by `npm test` after the suites; exits non-zero on a hit, or when there is nothing to scan.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { collectPhiValues, findPhi } from './phi-values';
import { phiSources } from './phi-sources';

const REQUIRED_LOGS = ['unit.log', 'integration.log'];

async function main(): Promise<number> {
  const dir = join(process.cwd(), '.local', 'test-logs');
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.log'));
  } catch {
    console.error(`PHI scan: ${dir} does not exist; run the test suites first.`);
    return 1;
  }
  const missing = REQUIRED_LOGS.filter((f) => !files.includes(f));
  if (missing.length) {
    console.error(`PHI scan: missing ${missing.join(', ')}; the scan would prove nothing.`);
    return 1;
  }
  const values = new Set<string>();
  for (const source of await phiSources()) collectPhiValues(source, values);
  if (values.size < 20) {
    console.error(`PHI scan: only ${values.size} PHI values collected; the fixtures or seed could not be read.`);
    return 1;
  }
  let lines = 0;
  let bytes = 0;
  const hits = [];
  for (const f of files) {
    const path = join(dir, f);
    const text = readFileSync(path, 'utf8');
    bytes += statSync(path).size;
    lines += text.split('\n').length;
    hits.push(...findPhi(text, f, values));
  }
  if (hits.length) {
    console.error(`PHI scan: ${hits.length} hit(s) in ${files.length} log files:`);
    for (const h of hits.slice(0, 50)) console.error(`  ${h.file}:${h.line} contains ${h.masked}`);
    return 1;
  }
  console.log(`PHI scan: ${values.size} PHI values, ${files.length} log files, ${lines} lines, ${bytes} bytes: no PHI found.`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error('PHI scan failed to run:', err instanceof Error ? err.message : 'unknown error');
    process.exit(1);
  },
);
