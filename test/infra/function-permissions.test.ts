import type { FunctionName } from '../../lib/secure-defaults';
import { iamActionOf, sdkCommandsOf } from './handler-commands';
import { allActionsOf, grantsOf, type Grants } from './role-grants';
import { REPO_ROOT, synthStack, type SynthesizedStack } from './synth-stack';

/** Every function: its own log group, X-Ray (no resource-level permissions) and the one CMK. */
const EVERY_FUNCTION: Grants = {
  'logs:own': ['logs:CreateLogStream', 'logs:PutLogEvents'],
  '*': ['xray:PutTelemetryRecords', 'xray:PutTraceSegments'],
  'kms:key': ['kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey'],
};

/** What the Lambda service does with a function's role for its SQS event source (CDK's SqsEventSource grant). */
const EVENT_SOURCE_SQS = ['sqs:ChangeMessageVisibility', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:ReceiveMessage'];

/**
 * The pinned rights of every function: resource -> sorted actions. One entry per function; a new action or
 * resource is added here and in lib/ together, so a widened grant fails this test. Labels come from
 * test/infra/role-grants.ts (`table:<name>`, `table:<name>/index/<index>`, `queue:<name>`, `secrets:team/*`, `secrets:connect-link-key`).
 */
const PERMISSIONS: Record<FunctionName, Grants> = {
  webhook: {
    ...EVERY_FUNCTION,
    'table:teams': ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
    'secrets:team/*': ['secretsmanager:GetSecretValue'],
    'queue:ingest': ['sqs:SendMessage'],
  },
  oauth: {
    ...EVERY_FUNCTION,
    'table:teams': ['dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
    'secrets:team/*': ['secretsmanager:GetSecretValue', 'secretsmanager:PutSecretValue'],
    // Verifies signed connect links (shared/oauth/connect-link.ts); see also connect-link-key.test.ts.
    'secrets:connect-link-key': ['secretsmanager:GetSecretValue'],
    'queue:backfill': ['sqs:SendMessage'],
  },
  'token-refresh': {
    ...EVERY_FUNCTION,
    'table:teams': ['dynamodb:UpdateItem'],
    'table:teams/index/byTokenExpiry': ['dynamodb:Query'],
    'table:integrationLog': ['dynamodb:PutItem'],
    'secrets:team/*': ['secretsmanager:GetSecretValue', 'secretsmanager:PutSecretValue'],
  },
  sync: {
    ...EVERY_FUNCTION,
    'table:teams': ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
    'table:records': ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
    'table:records [LeadingKeys: *#appointment]': ['dynamodb:Query'],
    'table:integrationLog': ['dynamodb:PutItem'],
    'secrets:team/*': ['secretsmanager:GetSecretValue'],
    'queue:ingest': [...EVENT_SOURCE_SQS, 'sqs:SendMessage'].sort(),
  },
  backfill: {
    ...EVERY_FUNCTION,
    'table:teams': ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
    'table:records': ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
    'table:records [LeadingKeys: *#appointment, *#patient]': ['dynamodb:Query'],
    'table:integrationLog': ['dynamodb:PutItem'],
    'secrets:team/*': ['secretsmanager:GetSecretValue'],
    'queue:backfill': [...EVENT_SOURCE_SQS, 'sqs:SendMessage'].sort(),
  },
  reconcile: {
    ...EVERY_FUNCTION,
    'table:teams': ['dynamodb:GetItem', 'dynamodb:Scan'],
    // The webhook counts roll-up (shared/teams/webhook-counts.ts, shared/config/webhook-count-attributes.ts): the
    // watermark, the rolled-up count and last delivery, the live-team check; nothing returned.
    'table:teams [Attributes only: pk, sk, webhookCountsThrough, lastProcessedDeliveryAt, webhooksProcessed, status; ReturnValues = NONE]': [
      'dynamodb:UpdateItem',
    ],
    // One team's log items after its watermark, the count attributes only (never an entry of the log).
    'table:integrationLog [Attributes only: pk, sk, wn, wl; Select = SPECIFIC_ATTRIBUTES]': ['dynamodb:Query'],
    'queue:backfill': ['sqs:SendMessage'],
  },
  // docs/write-back.md "The write API": change items, the budget and lookup caches; records read-only.
  'write-api': {
    ...EVERY_FUNCTION,
    'table:teams': ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
    'table:records': ['dynamodb:GetItem'],
    'table:records/index/byChartId': ['dynamodb:Query'],
    'secrets:team/*': ['secretsmanager:GetSecretValue'],
    'queue:writeBack': ['sqs:SendMessage'],
  },
  // wt-worker's handler (shared/write-back/apply-change.ts, write-back-batch.ts): the sync's record path plus change items.
  'write-back': {
    ...EVERY_FUNCTION,
    'table:teams': ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
    'table:records': ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
    'table:records [LeadingKeys: *#appointment]': ['dynamodb:Query'],
    'table:integrationLog': ['dynamodb:PutItem'],
    'secrets:team/*': ['secretsmanager:GetSecretValue'],
    'queue:writeBack': [...EVENT_SOURCE_SQS],
  },
};

const FUNCTIONS = Object.keys(PERMISSIONS) as FunctionName[];
/** Services whose actions the handlers' own SDK calls must account for, one by one. */
const DATA_PLANE = /^(dynamodb|sqs|secretsmanager|kms|cloudwatch):/;

describe.each(['dev', 'prod'] as const)('function permissions (%s)', (stage) => {
  let s: SynthesizedStack;
  beforeAll(() => {
    s = synthStack(stage);
  });

  it('pins a permissions entry for every function of the stack', () => {
    expect(Object.keys(s.stack.functions).sort()).toEqual([...FUNCTIONS].sort());
  });

  it.each(FUNCTIONS)('grants %s exactly its pinned actions on its pinned resources', (fn) => {
    expect(grantsOf(s, fn)).toEqual(PERMISSIONS[fn]);
  });

  it('gives the webhook no Scan, Query, BatchWriteItem, PutItem or DeleteItem on the teams table', () => {
    expect(grantsOf(s, 'webhook')['table:teams']).toEqual(['dynamodb:GetItem', 'dynamodb:UpdateItem']);
    expect(Object.keys(grantsOf(s, 'webhook')).filter((label) => label.startsWith('table:'))).toEqual(['table:teams']);
  });

  it('gives the write API no write on the records table and no Scan, Query or Delete on the teams table', () => {
    const grants = grantsOf(s, 'write-api');
    expect(grants['table:records']).toEqual(['dynamodb:GetItem']);
    expect(grants['table:teams']?.filter((a) => /Scan|Query|Delete|Batch/.test(a))).toEqual([]);
  });

  it('gives oauth no Scan or Query on any table or index', () => {
    const actions = [...allActionsOf(grantsOf(s, 'oauth'))];
    expect(actions.filter((a) => a === 'dynamodb:Scan' || a === 'dynamodb:Query')).toEqual([]);
  });
});

describe('handler SDK commands against role grants', () => {
  let s: SynthesizedStack;
  const commands = new Map<FunctionName, string[]>();
  beforeAll(async () => {
    s = synthStack('dev');
    for (const fn of FUNCTIONS) commands.set(fn, await sdkCommandsOf(REPO_ROOT, fn));
  });

  it('finds the commands a handler sends and not those only an unreached shared function sends', () => {
    // team-store.ts also exports listTeamItems (Scan) and createTeamItem (Put); the webhook reaches neither.
    expect(commands.get('webhook')).toEqual([
      'client-secrets-manager:GetSecretValueCommand',
      'client-sqs:SendMessageCommand',
      'lib-dynamodb:GetCommand',
      'lib-dynamodb:UpdateCommand',
    ]);
  });

  it.each(FUNCTIONS)('%s: its role allows every AWS action its handler code can send, and no data-plane action it cannot', (fn) => {
    const needed = new Set((commands.get(fn) ?? []).map(iamActionOf));
    const granted = allActionsOf(grantsOf(s, fn));
    expect([...needed].filter((a) => !granted.has(a)).sort()).toEqual([]);
    const consumesQueue = s.stack.functions[fn].fn.node.children.some((c) => c.node.id.startsWith('SqsEventSource'));
    const platform = new Set(consumesQueue ? EVENT_SOURCE_SQS : []);
    const unused = [...granted].filter((a) => DATA_PLANE.test(a) && !a.startsWith('kms:') && !needed.has(a) && !platform.has(a));
    expect(unused.sort()).toEqual([]);
  });
});
