import { build } from 'esbuild';
import * as path from 'node:path';

/**
 * The AWS SDK commands a function's handler can construct, found by bundling it the way it deploys (esbuild,
 * tree-shaken) with the SDK left external: code the handler cannot reach is dropped, so a shared module's
 * unused Scan does not count, and every `new XCommand(` left in the bundle is one the function may send.
 */
export async function sdkCommandsOf(repoRoot: string, fn: string): Promise<string[]> {
  const out = await build({
    entryPoints: [path.join(repoRoot, 'functions', fn, 'handler.ts')],
    absWorkingDir: repoRoot,
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'node',
    treeShaking: true,
    minify: false,
    external: ['@aws-sdk/*'],
    logLevel: 'silent',
  });
  const text = out.outputFiles[0]?.text ?? '';
  // esbuild renames clashing imports (`GetCommand as GetCommand2`): map each local name to package:command.
  const commandByLocalName = new Map<string, string>();
  for (const m of text.matchAll(/import\s*\{([^}]*)\}\s*from\s*"@aws-sdk\/([^"]+)"/g)) {
    for (const part of (m[1] ?? '').split(',')) {
      const [imported, local] = part.trim().split(/\s+as\s+/);
      if (imported?.endsWith('Command')) commandByLocalName.set(local ?? imported, `${m[2]}:${imported}`);
    }
  }
  const used = new Set<string>();
  for (const m of text.matchAll(/new\s+([A-Za-z0-9_$]+)\s*\(/g)) {
    const command = commandByLocalName.get(m[1] ?? '');
    if (command) used.add(command);
  }
  return [...used].sort();
}

const DOCUMENT_CLIENT_ACTIONS: Record<string, string> = {
  GetCommand: 'dynamodb:GetItem',
  PutCommand: 'dynamodb:PutItem',
  UpdateCommand: 'dynamodb:UpdateItem',
  DeleteCommand: 'dynamodb:DeleteItem',
  QueryCommand: 'dynamodb:Query',
  ScanCommand: 'dynamodb:Scan',
  BatchGetCommand: 'dynamodb:BatchGetItem',
  BatchWriteCommand: 'dynamodb:BatchWriteItem',
};

/** Batch SQS commands are authorised by their single-message action. */
const SQS_BATCH_ACTIONS: Record<string, string> = {
  SendMessageBatchCommand: 'sqs:SendMessage',
  DeleteMessageBatchCommand: 'sqs:DeleteMessage',
  ChangeMessageVisibilityBatchCommand: 'sqs:ChangeMessageVisibility',
};

/** The IAM action a `package:Command` needs. Throws for a command this map does not know, so it gets added on purpose. */
export function iamActionOf(command: string): string {
  const [pkg, name] = command.split(':') as [string, string];
  const plain = name.replace(/Command$/, '');
  if (pkg === 'lib-dynamodb' && DOCUMENT_CLIENT_ACTIONS[name]) return DOCUMENT_CLIENT_ACTIONS[name];
  if (pkg === 'client-dynamodb' && !/^(Transact|Batch(Execute)?Statement|ExecuteStatement)/.test(plain)) return `dynamodb:${plain}`;
  if (pkg === 'client-sqs') return SQS_BATCH_ACTIONS[name] ?? `sqs:${plain}`;
  if (pkg === 'client-secrets-manager') return `secretsmanager:${plain}`;
  if (pkg === 'client-kms') return `kms:${plain}`;
  if (pkg === 'client-cloudwatch') return `cloudwatch:${plain}`;
  throw new Error(`no IAM action known for ${command}: add it to test/infra/handler-commands.ts`);
}
