import { Match } from 'aws-cdk-lib/assertions';
import { resourceNames } from '../../shared/config/resource-names';
import { logicalIdOf, resourcesOfType, synthStack, type SynthesizedStack } from './synth-stack';

type Statement = { Effect: string; Action: string | string[]; Resource: unknown; Condition?: unknown };

function statementsByPolicy(s: SynthesizedStack): Record<string, Statement[]> {
  const out: Record<string, Statement[]> = {};
  for (const [id, policy] of Object.entries(resourcesOfType(s.template, 'AWS::IAM::Policy'))) {
    const doc = (policy.Properties as { PolicyDocument: { Statement: Statement[] } }).PolicyDocument;
    out[id] = doc.Statement;
  }
  return out;
}
const actionsOf = (st: Statement): string[] => (Array.isArray(st.Action) ? st.Action : [st.Action]);
const resourcesOf = (st: Statement): unknown[] => (Array.isArray(st.Resource) ? st.Resource : [st.Resource]);

describe.each(['dev', 'prod'] as const)('security properties (%s)', (stage) => {
  let s: SynthesizedStack;
  let keyArn: unknown;
  beforeAll(() => {
    s = synthStack(stage);
    keyArn = { 'Fn::GetAtt': [logicalIdOf(s.stack, s.stack.encryptionKey.key), 'Arn'] };
  });

  it('has exactly one customer-managed KMS key, with rotation on', () => {
    s.template.resourceCountIs('AWS::KMS::Key', 1);
    s.template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
  });

  it('lets CloudWatch Logs use the key only for this account\'s log groups', () => {
    s.template.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Principal: { Service: { 'Fn::Join': ['', ['logs.', { Ref: 'AWS::Region' }, '.amazonaws.com']] } },
            Condition: {
              ArnLike: {
                'kms:EncryptionContext:aws:logs:arn': {
                  'Fn::Join': ['', Match.arrayWith([Match.stringLikeRegexp(':logs:'), Match.stringLikeRegexp(':log-group:\\*$')])],
                },
              },
            },
          }),
        ]),
      },
    });
  });

  it('encrypts every table with the CMK and keeps point-in-time recovery on', () => {
    const tables = Object.values(resourcesOfType(s.template, 'AWS::DynamoDB::Table'));
    expect(tables).toHaveLength(3);
    for (const t of tables) {
      expect(t.Properties).toMatchObject({
        SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: keyArn },
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        BillingMode: 'PAY_PER_REQUEST',
      });
    }
  });

  it('encrypts every queue, DLQs included, with the CMK', () => {
    const queues = Object.values(resourcesOfType(s.template, 'AWS::SQS::Queue'));
    // ingest, backfill and write-back (FIFO), each with its DLQ.
    expect(queues).toHaveLength(6);
    for (const q of queues) expect(q.Properties?.KmsMasterKeyId).toEqual(keyArn);
  });

  it('encrypts every log group with the CMK and sets a retention', () => {
    const groups = Object.values(resourcesOfType(s.template, 'AWS::Logs::LogGroup'));
    // 8 functions, the API access log and the data protection audit log.
    expect(groups).toHaveLength(10);
    for (const g of groups) {
      expect(g.Properties?.KmsKeyId).toEqual(keyArn);
      expect(g.Properties?.RetentionInDays).toEqual(stage === 'prod' ? 2192 : 14);
    }
  });

  it('encrypts the alarm topic with the CMK and refuses non-TLS publishing', () => {
    s.template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: keyArn });
    s.template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });

  it('gives every queue an SSL-only policy', () => {
    const queueIds = Object.keys(resourcesOfType(s.template, 'AWS::SQS::Queue'));
    const policies = Object.values(resourcesOfType(s.template, 'AWS::SQS::QueuePolicy'));
    const covered = new Set<string>();
    for (const p of policies) {
      const props = p.Properties as { Queues: { Ref: string }[]; PolicyDocument: { Statement: Statement[] } };
      const denyPlainHttp = props.PolicyDocument.Statement.some(
        (st) => st.Effect === 'Deny' && JSON.stringify(st.Condition) === JSON.stringify({ Bool: { 'aws:SecureTransport': 'false' } }),
      );
      if (denyPlainHttp) for (const q of props.Queues) covered.add(q.Ref);
    }
    expect([...covered].sort()).toEqual(queueIds.sort());
  });

  it('grants team secrets only by this stage\'s name prefix, never "*"', () => {
    const prefix = resourceNames(stage).teamSecretPrefix;
    // The connect-link key is one named secret with its own pinned grant (connect-link-key.test.ts).
    const linkKey = logicalIdOf(s.stack, s.stack.connectLinkKey.secret);
    const secretStatements = Object.values(statementsByPolicy(s)).flatMap((sts) =>
      sts.filter((st) => actionsOf(st).some((a) => a.startsWith('secretsmanager:')) && !JSON.stringify(st.Resource).includes(`"Ref":"${linkKey}"`)),
    );
    expect(secretStatements.length).toBeGreaterThan(0);
    for (const st of secretStatements) {
      const resources = resourcesOf(st);
      expect(resources).toHaveLength(1);
      const arn = JSON.stringify(resources[0]);
      expect(arn).toContain(':secretsmanager:');
      expect(arn).toContain(`:secret:${prefix}*`);
      expect(resources[0]).not.toEqual('*');
    }
  });

  it('lets only oauth and token-refresh write team secrets, and reconcile not read them', () => {
    const byPolicy = statementsByPolicy(s);
    const secretActions = (fn: keyof typeof s.stack.functions): string[] => {
      const policyId = logicalIdOf(s.stack, s.stack.functions[fn].role.node.findChild('DefaultPolicy'));
      const linkKey = logicalIdOf(s.stack, s.stack.connectLinkKey.secret);
      return (byPolicy[policyId] ?? [])
        .filter((st) => !JSON.stringify(st.Resource).includes(`"Ref":"${linkKey}"`))
        .flatMap(actionsOf)
        .filter((a) => a.startsWith('secretsmanager:'))
        .sort();
    };
    const writer = ['secretsmanager:GetSecretValue', 'secretsmanager:PutSecretValue'];
    expect(secretActions('oauth')).toEqual(writer);
    expect(secretActions('token-refresh')).toEqual(writer);
    for (const reader of ['webhook', 'sync', 'backfill'] as const) expect(secretActions(reader)).toEqual(['secretsmanager:GetSecretValue']);
    expect(secretActions('reconcile')).toEqual([]);
  });

  it('gives reconcile read access to the teams table, UpdateItem on it only (the webhook counts roll-up), Query only on the integration log and send access to the backfill queue, nothing more', () => {
    const byPolicy = statementsByPolicy(s);
    const policyId = logicalIdOf(s.stack, s.stack.functions.reconcile.role.node.findChild('DefaultPolicy'));
    const statements = byPolicy[policyId] ?? [];
    const actions = [...new Set(statements.flatMap(actionsOf))];
    const dynamoWrites = actions.filter((a) => /^dynamodb:(Put|Update|Delete|BatchWrite)/.test(a));
    expect(dynamoWrites).toEqual(['dynamodb:UpdateItem']);
    const tableArn = (t: 'teams' | 'records' | 'integrationLog') => JSON.stringify({ 'Fn::GetAtt': [logicalIdOf(s.stack, s.stack.tables[t].table), 'Arn'] });
    const on = (t: 'teams' | 'records' | 'integrationLog') =>
      statements.filter((st) => resourcesOf(st).some((r) => JSON.stringify(r) === tableArn(t))).flatMap(actionsOf).sort();
    expect(on('teams')).toEqual(['dynamodb:GetItem', 'dynamodb:Scan', 'dynamodb:UpdateItem']);
    expect(on('integrationLog')).toEqual(['dynamodb:Query']);
    expect(on('records')).toEqual([]);
    const sendTargets = (byPolicy[policyId] ?? [])
      .filter((st) => actionsOf(st).includes('sqs:SendMessage'))
      .flatMap(resourcesOf)
      .map((r) => JSON.stringify(r));
    expect(sendTargets).toHaveLength(1);
    expect(sendTargets[0]).toContain(logicalIdOf(s.stack, s.stack.backfillQueue.queue));
  });

  it('gives sync and backfill single-item access to teams and records, Query only on the partitions each needs, and only PutItem on the integration log', () => {
    const byPolicy = statementsByPolicy(s);
    const tableArn = (t: 'teams' | 'records' | 'integrationLog') => ({ 'Fn::GetAtt': [logicalIdOf(s.stack, s.stack.tables[t].table), 'Arn'] });
    for (const fn of ['sync', 'backfill'] as const) {
      const policyId = logicalIdOf(s.stack, s.stack.functions[fn].role.node.findChild('DefaultPolicy'));
      const dynamo = (byPolicy[policyId] ?? []).filter((st) => actionsOf(st).some((a) => a.startsWith('dynamodb:')));
      const actionsOn = (t: 'teams' | 'records' | 'integrationLog') =>
        dynamo.filter((st) => resourcesOf(st).some((r) => JSON.stringify(r) === JSON.stringify(tableArn(t)))).flatMap(actionsOf).sort();
      expect(actionsOn('teams')).toEqual(['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem']);
      const unconditioned = dynamo.filter((st) => st.Condition === undefined);
      const onRecords = (sts: typeof dynamo) =>
        sts.filter((st) => resourcesOf(st).some((r) => JSON.stringify(r) === JSON.stringify(tableArn('records')))).flatMap(actionsOf).sort();
      expect(onRecords(unconditioned)).toEqual(['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem']);
      // Sync: the Chart ID fan-out (shared/store/patient-references.ts) queries appointment partitions only.
      // Backfill: the same, plus the deletion check's listing of one team's patient partition.
      const queries = dynamo.filter((st) => st.Condition !== undefined);
      expect(onRecords(queries)).toEqual(['dynamodb:Query']);
      const partitions = fn === 'sync' ? ['*#appointment'] : ['*#appointment', '*#patient'];
      expect(queries.map((st) => st.Condition)).toEqual([{ 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': partitions } }]);
      expect(actionsOn('integrationLog')).toEqual(['dynamodb:PutItem']);
      expect(dynamo.flatMap(actionsOf)).not.toContain('dynamodb:Scan');
      // No index access either.
      expect(JSON.stringify(dynamo)).not.toContain('/index/');
    }
  });

  it('uses "*" as an IAM resource only for X-Ray, which has no resource-level permissions', () => {
    const starStatements = Object.values(statementsByPolicy(s))
      .flat()
      .filter((st) => resourcesOf(st).includes('*'));
    for (const st of starStatements) expect(actionsOf(st).every((a) => a.startsWith('xray:'))).toBe(true);
    // No wildcard actions either (kms:*, dynamodb:*, index/* and the like).
    const actions = Object.values(statementsByPolicy(s)).flat().flatMap(actionsOf);
    expect(actions.filter((a) => a.includes('*'))).toEqual([]);
    const indexWildcards = JSON.stringify(statementsByPolicy(s)).match(/index\/\*/g);
    expect(indexWildcards).toBeNull();
  });

  it('attaches no AWS managed policies to function roles', () => {
    for (const role of Object.values(resourcesOfType(s.template, 'AWS::IAM::Role'))) {
      expect(role.Properties?.ManagedPolicyArns).toBeUndefined();
    }
  });

  if (stage === 'prod') {
    it('retains tables, key, queues and log groups, with deletion protection on the tables', () => {
      for (const t of Object.values(resourcesOfType(s.template, 'AWS::DynamoDB::Table'))) {
        expect(t).toMatchObject({ DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
        expect(t.Properties?.DeletionProtectionEnabled).toBe(true);
      }
      for (const type of ['AWS::KMS::Key', 'AWS::SQS::Queue', 'AWS::Logs::LogGroup']) {
        for (const r of Object.values(resourcesOfType(s.template, type))) expect(r.DeletionPolicy).toBe('Retain');
      }
    });
  } else {
    it('destroys tables, key, queues and log groups with the stack, and leaves deletion protection off', () => {
      for (const t of Object.values(resourcesOfType(s.template, 'AWS::DynamoDB::Table'))) {
        expect(t.DeletionPolicy).toBe('Delete');
        expect(t.Properties?.DeletionProtectionEnabled).toBe(false);
      }
      for (const type of ['AWS::KMS::Key', 'AWS::SQS::Queue', 'AWS::Logs::LogGroup']) {
        for (const r of Object.values(resourcesOfType(s.template, type))) expect(r.DeletionPolicy).toBe('Delete');
      }
    });
  }
});
