import { CfnResource } from 'aws-cdk-lib';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { nagPacks } from '../../lib/nag';
import { REPO_ROOT, synthStack } from './synth-stack';

describe.each(['dev', 'prod'] as const)('cdk-nag (%s)', (stage) => {
  it('reports zero unacknowledged findings from AwsSolutions, HIPAA.Security and Serverless', () => {
    const { app, stack } = synthStack(stage);
    const findings = nagPacks(app).flatMap((pack) =>
      pack.validateScope(app).violations.flatMap((v) => v.violatingResources.map((r) => `${v.ruleName} ${r.constructPath}`)),
    );
    expect(findings).toEqual([]);

    if (stage === 'prod') {
      const list = stack.nagAcknowledgements.map((a) => `${a.rule}\n    on ${a.resource}\n    because ${a.reason}`);
      console.log(`${list.length} cdk-nag acknowledgements:\n${list.join('\n')}`);
    }
  });

  it('acknowledges each finding on one resource, with a reason', () => {
    const { stack } = synthStack(stage);
    expect(stack.nagAcknowledgements.length).toBeGreaterThan(0);
    const byPath = new Map(stack.node.findAll().map((c) => [c.node.path, c]));
    const seen = new Set<string>();
    for (const a of stack.nagAcknowledgements) {
      expect(CfnResource.isCfnResource(byPath.get(a.resource))).toBe(true);
      expect(a.reason.length).toBeGreaterThan(40);
      const key = `${a.rule} ${a.resource}`;
      expect(seen.has(key)).toBe(false);
      seen.add(key);
    }
  });

  it('still fails on a finding nobody acknowledged', () => {
    const { app, stack } = synthStack(stage);
    // A queue without DLQ or SSL-only policy: the packs must still see it next to the acknowledged ones.
    new Queue(stack, 'Unacknowledged');
    const rules = nagPacks(app).flatMap((pack) => pack.validateScope(app).violations.map((v) => v.ruleName));
    expect(rules).toEqual(expect.arrayContaining(['AwsSolutions-SQS3', 'AwsSolutions-SQS4']));
  });
});

describe('cdk synth -c stage=prod', () => {
  it('synthesizes offline with no AWS credentials, bundling the real handlers, and nag passes', async () => {
    const outdir = mkdtempSync(path.join(tmpdir(), 'drchrono-sync-synth-'));
    try {
      const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: outdir, AWS_CONFIG_FILE: '/nonexistent', AWS_SHARED_CREDENTIALS_FILE: '/nonexistent' };
      const started = Date.now();
      // The pinned CLI from node_modules, run directly: no npm, no network.
      await promisify(execFile)(path.join(REPO_ROOT, 'node_modules/.bin/cdk'), ['synth', '-c', 'stage=prod', '-o', outdir, '-q'], {
        cwd: REPO_ROOT,
        env,
        timeout: 110_000,
      });
      console.log(`cdk synth -c stage=prod took ${((Date.now() - started) / 1000).toFixed(1)} s`);
      const template = JSON.parse(readFileSync(path.join(outdir, 'drchrono-sync-prod.template.json'), 'utf8')) as {
        Resources: Record<string, { Type: string }>;
      };
      expect(Object.values(template.Resources).filter((r) => r.Type === 'AWS::Lambda::Function')).toHaveLength(8);
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  }, 120_000);
});
