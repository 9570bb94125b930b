import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { buildSync } from 'esbuild';

/**
 * What a heap dump of a webhook container holds after the signature check: the check may keep what it needs
 * (a digest per token) only as long as the secret object it was given (the secret cache's copy). Measured in a
 * child process from V8 heap snapshots, which hold only reachable objects: a token whose secret was released must
 * not be in the heap any more. The token is made at run time (never a literal in any source) and found in the
 * snapshot's strings by its SHA-256, so the child never holds the token itself while it looks.
 */
const CHILD = String.raw`
const v8 = require('node:v8');
const crypto = require('node:crypto');
const { isAcceptedDeliverySignature } = require(process.argv[2]);
const fingerprint = (s) => crypto.createHash('sha256').update(s).digest('hex');
async function tokenInHeap(print) {
  const chunks = [];
  for await (const chunk of v8.getHeapSnapshot()) chunks.push(chunk);
  const { strings } = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  return strings.some((s) => s.length === 40 && fingerprint(s) === print);
}
const held = {};
function verify() {
  const token = crypto.randomBytes(20).toString('hex');
  held.secret = { webhookSecret: token, previousWebhookSecrets: [] };
  // The header arrives as its own string (an HTTP header), not the secret's instance.
  const header = Buffer.from(token, 'utf8').toString('utf8');
  const accepted = isAcceptedDeliverySignature(header, held.secret, Date.now(), '{"object":{"id":1}}');
  return { accepted, print: fingerprint(token) };
}
(async () => {
  const { accepted, print } = verify();
  const whileHeld = await tokenInHeap(print);
  delete held.secret; // the secret cache drops its copy (TTL, rotation, eviction)
  const afterRelease = await tokenInHeap(print);
  process.stdout.write(JSON.stringify({ accepted, whileHeld, afterRelease }));
})();
`;

describe('the webhook signature check and secrets in memory', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'signature-heap-'));
    buildSync({
      entryPoints: [path.join(__dirname, '../../../shared/webhook/signature.ts')],
      bundle: true,
      platform: 'node',
      format: 'cjs',
      outfile: path.join(dir, 'signature.js'),
      logLevel: 'silent',
    });
    writeFileSync(path.join(dir, 'child.js'), CHILD);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps no copy of a token once the secret object it checked against is released', () => {
    const out = execFileSync(process.execPath, [path.join(dir, 'child.js'), path.join(dir, 'signature.js')], { encoding: 'utf8', timeout: 60_000 });
    // whileHeld: the probe finds a token that is in the heap, so afterRelease=false means it is gone.
    expect(JSON.parse(out)).toEqual({ accepted: true, whileHeld: true, afterRelease: false });
  }, 60_000);
});
