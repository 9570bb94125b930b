import { readFileSync } from 'node:fs';
import * as path from 'node:path';

/**
 * What the deployed stack holds that is billed by the month, read from the synthesized template (the same stack
 * `cdk synth` builds, bundling skipped): alarms, dashboards, KMS keys, secrets, and which roles use which
 * KMS-encrypted queue or table (each such principal makes KMS requests once per data-key reuse period, whatever the
 * traffic).
 */
export interface StackInventory {
  alarms: number;
  dashboards: number;
  kmsKeys: number;
  secrets: number;
  /** Distinct (role, queue, send|receive) on SSE-KMS queues. */
  queueKeyPrincipals: string[];
  /** Distinct (role, table) on tables encrypted with a customer-managed key. */
  tableKeyPrincipals: string[];
  /** The queues' data-key reuse period (KmsDataKeyReusePeriodSeconds, SQS's default 300); the shortest if they differ. */
  queueDataKeyReuseSeconds: number;
}

type Resource = { Type: string; Properties?: Record<string, unknown> };
export interface TemplateJson {
  Resources: Record<string, Resource>;
}

const ofType = (t: TemplateJson, type: string): [string, Resource][] => Object.entries(t.Resources).filter(([, r]) => r.Type === type);
const asArray = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

export function inventoryOf(t: TemplateJson): StackInventory {
  const queues = ofType(t, 'AWS::SQS::Queue').filter(([, r]) => r.Properties?.KmsMasterKeyId !== undefined);
  const tables = ofType(t, 'AWS::DynamoDB::Table').filter(([, r]) => (r.Properties?.SSESpecification as { KMSMasterKeyId?: unknown } | undefined)?.KMSMasterKeyId !== undefined);
  const queuePairs = new Set<string>();
  const tablePairs = new Set<string>();
  for (const [, policy] of ofType(t, 'AWS::IAM::Policy')) {
    const roles = asArray(policy.Properties?.Roles as unknown).map((r) => JSON.stringify(r));
    const statements = asArray((policy.Properties?.PolicyDocument as { Statement?: unknown })?.Statement) as { Action?: string | string[]; Resource?: unknown; Effect?: string }[];
    for (const st of statements) {
      if (st.Effect === 'Deny') continue;
      const actions = asArray(st.Action);
      const resources = JSON.stringify(st.Resource ?? null);
      const mentions = (id: string): boolean => resources.includes(`"${id}"`);
      for (const role of roles) {
        for (const [id] of queues) {
          if (!mentions(id)) continue;
          if (actions.includes('sqs:SendMessage')) queuePairs.add(`${role} ${id} send`);
          if (actions.includes('sqs:ReceiveMessage')) queuePairs.add(`${role} ${id} receive`);
        }
        for (const [id] of tables) if (mentions(id) && actions.some((a) => a.startsWith('dynamodb:'))) tablePairs.add(`${role} ${id}`);
      }
    }
  }
  return {
    alarms: ofType(t, 'AWS::CloudWatch::Alarm').length,
    dashboards: ofType(t, 'AWS::CloudWatch::Dashboard').length,
    kmsKeys: ofType(t, 'AWS::KMS::Key').length,
    secrets: ofType(t, 'AWS::SecretsManager::Secret').length,
    queueKeyPrincipals: [...queuePairs].sort(),
    tableKeyPrincipals: [...tablePairs].sort(),
    queueDataKeyReuseSeconds: Math.min(...queues.map(([, r]) => Number(r.Properties?.KmsDataKeyReusePeriodSeconds ?? 300)), Infinity),
  };
}

const synthesized = new Map<string, Promise<StackInventory>>();

/** Synthesizes the prod stack from the repository at `repoRoot` (slow: tens of seconds, once per process). */
export function synthInventory(repoRoot: string = process.cwd()): Promise<StackInventory> {
  let inv = synthesized.get(repoRoot);
  if (!inv) {
    inv = synthesize(repoRoot);
    synthesized.set(repoRoot, inv);
  }
  return inv;
}

async function synthesize(repoRoot: string): Promise<StackInventory> {
  const { App } = await import('aws-cdk-lib');
  const { Template } = await import('aws-cdk-lib/assertions');
  const { DrChronoSyncStack } = await import('../lib/drchrono-sync-stack');
  const context = (JSON.parse(readFileSync(path.join(repoRoot, 'cdk.json'), 'utf8')) as { context?: Record<string, unknown> }).context ?? {};
  const app = new App({ context: { ...context, stage: 'prod', 'aws:cdk:bundling-stacks': [] } });
  const stack = new DrChronoSyncStack(app, 'drchrono-sync-prod', { stage: 'prod', repoRoot });
  return inventoryOf(Template.fromStack(stack).toJSON() as TemplateJson);
}
