import { teamSecretsArn } from '../../lib/app-function';
import type { FunctionName } from '../../lib/secure-defaults';
import { logicalIdOf, resourcesOfType, type SynthesizedStack } from './synth-stack';

type Statement = { Effect: string; Action: string | string[]; Resource: unknown; Condition?: unknown };

/** What a role may do: resource label -> sorted actions. A statement with a condition gets its own label. */
export type Grants = Record<string, string[]>;

const list = <T>(v: T | T[]): T[] => (Array.isArray(v) ? v : [v]);

/**
 * Names every resource a function role can be granted, so a grant reads `table:teams`, `queue:ingest`,
 * `secrets:team/*`, `logs:own` instead of CloudFormation intrinsics. An unknown resource is labelled
 * `UNKNOWN <json>`, which no pinned table contains.
 */
function resourceLabels(s: SynthesizedStack, fn: FunctionName): Map<string, string> {
  const { stack } = s;
  const key = (v: unknown): string => JSON.stringify(stack.resolve(v));
  const labels = new Map<string, string>();
  for (const [name, t] of Object.entries({ teams: stack.tables.teams, records: stack.tables.records, integrationLog: stack.tables.integrationLog })) {
    labels.set(key(t.table.tableArn), `table:${name}`);
    for (const index of t.indexNames) labels.set(key(`${t.table.tableArn}/index/${index}`), `table:${name}/index/${index}`);
  }
  for (const [name, q] of Object.entries({ ingest: stack.ingest, backfill: stack.backfillQueue, writeBack: stack.writeBackQueue })) {
    labels.set(key(q.queue.queueArn), `queue:${name}`);
    labels.set(key(q.dlq.queueArn), `queue:${name}-dlq`);
  }
  labels.set(key(stack.encryptionKey.key.keyArn), 'kms:key');
  labels.set(key(teamSecretsArn(stack, stack.names.teamSecretPrefix)), 'secrets:team/*');
  labels.set(key(stack.connectLinkKey.secret.secretArn), 'secrets:connect-link-key');
  for (const [name, f] of Object.entries(stack.functions)) labels.set(key(f.logGroup.logGroupArn), name === fn ? 'logs:own' : `logs:${name}`);
  labels.set(JSON.stringify('*'), '*');
  return labels;
}

/**
 * A readable label for a statement's condition: `[LeadingKeys: *#appointment, *#patient]` for the partition
 * condition of `allowQueryPartitions`, `[Attributes only: pk, sk, wn; Select = SPECIFIC_ATTRIBUTES]` for the
 * attribute-scoped grants (`allowUpdateAttributes`, `allowQueryAttributes`), JSON for anything else.
 */
function conditionLabel(condition: unknown): string {
  const parts: string[] = [];
  for (const [op, keys] of Object.entries(condition as Record<string, Record<string, unknown>>)) {
    for (const [key, value] of Object.entries(keys)) {
      const values = list(value as string | string[]).join(', ');
      if (op === 'ForAllValues:StringLike' && key === 'dynamodb:LeadingKeys') parts.push(`LeadingKeys: ${values}`);
      else if (op === 'ForAllValues:StringEquals' && key === 'dynamodb:Attributes') parts.push(`Attributes only: ${values}`);
      else if (op === 'StringEquals' && (key === 'dynamodb:Select' || key === 'dynamodb:ReturnValues')) parts.push(`${key.slice('dynamodb:'.length)} = ${values}`);
      else return `[${JSON.stringify(condition)}]`;
    }
  }
  return `[${parts.join('; ')}]`;
}

/** Every Allow of a function's role policy, by resource label, actions sorted and de-duplicated. */
export function grantsOf(s: SynthesizedStack, fn: FunctionName): Grants {
  const policyId = logicalIdOf(s.stack, s.stack.functions[fn].role.node.findChild('DefaultPolicy'));
  const policy = resourcesOfType(s.template, 'AWS::IAM::Policy')[policyId];
  const statements = (policy?.Properties as { PolicyDocument: { Statement: Statement[] } } | undefined)?.PolicyDocument.Statement ?? [];
  const labels = resourceLabels(s, fn);
  const out: Record<string, Set<string>> = {};
  for (const st of statements) {
    if (st.Effect !== 'Allow') throw new Error(`unexpected ${st.Effect} statement in ${fn}'s policy`);
    for (const resource of list(st.Resource)) {
      const json = JSON.stringify(resource);
      const base = labels.get(json) ?? `UNKNOWN ${json}`;
      const label = st.Condition === undefined ? base : `${base} ${conditionLabel(st.Condition)}`;
      out[label] ??= new Set();
      for (const a of list(st.Action)) out[label].add(a);
    }
  }
  return Object.fromEntries(Object.entries(out).map(([label, actions]) => [label, [...actions].sort()]));
}

/** Every action the role allows, on any resource. */
export function allActionsOf(grants: Grants): Set<string> {
  return new Set(Object.values(grants).flat());
}

/** Roles in the template other than the functions' own (custom resources and the like). */
export function roleIds(s: SynthesizedStack): string[] {
  return Object.keys(resourcesOfType(s.template, 'AWS::IAM::Role'));
}

/** One Allow statement of a function's role, its resources named as in `grantsOf`, its condition as synthesized. */
export interface LabelledStatement {
  actions: string[];
  resources: string[];
  condition?: Record<string, Record<string, string | string[]>>;
}

/** Every Allow statement of a function's role policy, with resource labels (for evaluating requests against it). */
export function statementsOf(s: SynthesizedStack, fn: FunctionName): LabelledStatement[] {
  const policyId = logicalIdOf(s.stack, s.stack.functions[fn].role.node.findChild('DefaultPolicy'));
  const policy = resourcesOfType(s.template, 'AWS::IAM::Policy')[policyId];
  const statements = (policy?.Properties as { PolicyDocument: { Statement: Statement[] } } | undefined)?.PolicyDocument.Statement ?? [];
  const labels = resourceLabels(s, fn);
  return statements.map((st) => {
    if (st.Effect !== 'Allow') throw new Error(`unexpected ${st.Effect} statement in ${fn}'s policy`);
    const resources = list(st.Resource).map((r) => labels.get(JSON.stringify(r)) ?? `UNKNOWN ${JSON.stringify(r)}`);
    const out: LabelledStatement = { actions: list(st.Action), resources };
    if (st.Condition !== undefined) out.condition = st.Condition as LabelledStatement['condition'];
    return out;
  });
}
