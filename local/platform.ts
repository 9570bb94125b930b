import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync, renameSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { resourceNames } from '../shared/config/resource-names';
import { ROUTES } from '../shared/http/routes';
import { LOCAL_CREDENTIALS } from '../shared/http/sigv4';
import { startDynamoDbLocal, type DynamoDbLocal } from './emulators/dynamodb';
import { startSecretsManagerEmulator, type SecretsManagerEmulator } from './emulators/secrets-manager';
import { startSqsEmulator, type SqsEmulator } from './emulators/sqs';
import { AwsFaults, startFaultProxy, type FaultProxy } from './emulators/fault-proxy';
import { controlRoutes } from './api/control-routes';
import { jsonResponse } from './api/http-response';
import { startLocalApi, type LocalApi } from './api/server';
import {
  FunctionNotImplementedError,
  REPO_ROOT,
  functionArnName,
  isImplemented,
  loadHandler,
  registeredFunctions,
  testFunctionsEnabled,
  type LocalFunction,
  type QueueName,
} from './functions';
import { lambdaContext, withTimeout } from './lambda-context';
import { handlerEnvironment, oauthRedirectUriFor, webhookUrlTemplate, type PlatformInfo } from './platform-info';
import { SqsPoller } from './poller/sqs-poller';
import { ensureConnectLinkKey, ensureQueuePair, createResources, type QueuePair } from './resources';
import { Scheduler } from './scheduler';
import { TEST_CONSUMER_QUEUE, testConsumerQueueNames } from './test-functions/settings';
import { installTimeControl } from './time-control';

/**
 * Starts the whole local platform in this process: emulators, resources, DrChrono sandbox, local API,
 * SQS pollers and scheduler. Handlers run in-process and are imported only after process.env holds the
 * Lambda contract variables, exactly as a Lambda container sees them.
 */
export interface PlatformOptions {
  /** in-memory state, random ports, no .local/platform.json (integration tests) */
  ephemeral: boolean;
  /** wipe the persisted state before starting */
  clean: boolean;
  /** explicit API port (--port); otherwise PORT, otherwise 3000 (0 when ephemeral) */
  apiPort?: number;
  stateDir?: string;
  log(line: string): void;
}

export interface RunningPlatform {
  info: PlatformInfo;
  stop(): Promise<void>;
}

export const DEFAULT_PORTS = { api: 3000, dynamodb: 8000, sqs: 4566, secretsManager: 4584, sandbox: 3100 } as const;
const STAGE = 'local';
const REGION = 'us-east-1';
const SANDBOX_ENTRY = 'local/drchrono-sandbox/index.ts';
const KEEP_ON_CLEAN = new Set(['test-logs']);

type StartSandbox = (opts: {
  port: number;
  host?: string;
  statePath?: string;
  timeScale?: number;
}) => Promise<{ url: string; close(): Promise<void> }>;

function envPort(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`${name}=${raw} is not a port number`);
  return port;
}

/** A port the OS says is free now, for children (Java) that cannot report the port they bound. */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Deletes persisted state but keeps the integration-test logs, which a later PHI scan reads. */
export function cleanState(stateDir: string): void {
  if (!existsSync(stateDir)) return;
  for (const entry of readdirSync(stateDir)) {
    if (!KEEP_ON_CLEAN.has(entry)) rmSync(join(stateDir, entry), { recursive: true, force: true });
  }
}

async function loadSandbox(): Promise<StartSandbox | undefined> {
  const file = join(REPO_ROOT, SANDBOX_ENTRY);
  if (!existsSync(file)) return undefined;
  const mod = (await import(pathToFileURL(file).href)) as { startSandbox?: unknown };
  if (typeof mod.startSandbox !== 'function') throw new Error(`${SANDBOX_ENTRY} does not export startSandbox()`);
  return mod.startSandbox as StartSandbox;
}

function writeJsonAtomic(path: string, value: unknown): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`);
  renameSync(tmp, path);
}

export async function startPlatform(opts: PlatformOptions): Promise<RunningPlatform> {
  const stateDir = opts.stateDir ?? join(REPO_ROOT, '.local');
  const persistent = !opts.ephemeral;
  if (opts.clean) cleanState(stateDir);
  if (persistent) mkdirSync(stateDir, { recursive: true });

  // Before anything reads the clock: tests move it with POST /_local/clock (it is the real clock until then).
  installTimeControl();
  const stops: (() => Promise<void> | void)[] = [];
  const stopAll = async (): Promise<void> => {
    for (const stop of stops.splice(0).reverse()) {
      try {
        await stop();
      } catch (err) {
        opts.log(`[local] shutdown step failed: ${err instanceof Error ? err.name : 'UnknownError'}`);
      }
    }
  };

  try {
    const ports = opts.ephemeral
      ? { api: opts.apiPort ?? 0, dynamodb: await freePort(), sqs: 0, secretsManager: 0, sandbox: await freePort() }
      : {
          api: opts.apiPort ?? envPort('PORT', DEFAULT_PORTS.api),
          dynamodb: envPort('LOCAL_DYNAMODB_PORT', DEFAULT_PORTS.dynamodb),
          sqs: envPort('LOCAL_SQS_PORT', DEFAULT_PORTS.sqs),
          secretsManager: envPort('LOCAL_SECRETS_MANAGER_PORT', DEFAULT_PORTS.secretsManager),
          sandbox: envPort('LOCAL_SANDBOX_PORT', DEFAULT_PORTS.sandbox),
        };

    // Emulators in parallel; each one registers its stop before anything else can fail.
    const [ddb, sqsEmu, sm] = await Promise.all([
      startDynamoDbLocal({ port: ports.dynamodb, ...(persistent ? { dataDir: join(stateDir, 'dynamodb') } : {}) }).then(
        (d: DynamoDbLocal) => (stops.push(() => d.stop()), d),
      ),
      startSqsEmulator({ port: ports.sqs }).then((s: SqsEmulator) => (stops.push(() => s.stop()), s)),
      startSecretsManagerEmulator({
        port: ports.secretsManager,
        region: REGION,
        ...(persistent ? { persistPath: join(stateDir, 'secrets-manager.json') } : {}),
      }).then((s: SecretsManagerEmulator) => (stops.push(() => s.close()), s)),
    ]);
    opts.log(`[local] emulators up: dynamodb ${ddb.url}, sqs ${sqsEmu.url}, secrets manager ${sm.url}`);
    // The handlers reach DynamoDB and SQS through fault-injecting proxies (POST /_local/faults); pollers do not.
    const awsFaults = new AwsFaults();
    const proxies = await Promise.all([
      startFaultProxy({ service: 'dynamodb', target: ddb.url, faults: awsFaults }),
      startFaultProxy({ service: 'sqs', target: sqsEmu.url, faults: awsFaults }),
    ]);
    for (const p of proxies) stops.push(() => p.close());
    const [ddbProxy, sqsProxy] = proxies as [FaultProxy, FaultProxy];

    const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
    const ddbClient = new DynamoDBClient({ endpoint: ddb.url, region: REGION, credentials });
    const sqsClient = new SQSClient({ endpoint: sqsEmu.url, region: REGION, credentials, useQueueUrlAsEndpoint: false });
    stops.push(() => {
      ddbClient.destroy();
      sqsClient.destroy();
    });
    const names = resourceNames(STAGE);
    const created = await createResources(ddbClient, sqsClient, names);
    const smClient = new SecretsManagerClient({ endpoint: sm.url, region: REGION, credentials });
    try {
      await ensureConnectLinkKey(smClient, names.connectLinkKeySecret);
    } finally {
      smClient.destroy();
    }
    const queues = new Map<QueueName, QueuePair>([
      ['ingest', created.ingest],
      ['backfill', created.backfill],
      ['write-back', created.writeBack],
    ]);
    if (testFunctionsEnabled()) {
      const t = testConsumerQueueNames(STAGE);
      queues.set('test-consumer', await ensureQueuePair(sqsClient, t.queue, t.dlq, TEST_CONSUMER_QUEUE));
    }
    opts.log(`[local] tables, queues and the connect-link key ready (${persistent ? 'tables persisted' : 'in-memory'}; queues are in-memory)`);

    let sandboxUrl: string | null = null;
    const startSandbox = await loadSandbox();
    if (startSandbox) {
      const timeScale = process.env.LOCAL_SANDBOX_TIME_SCALE ? Number(process.env.LOCAL_SANDBOX_TIME_SCALE) : undefined;
      const sandbox = await startSandbox({
        port: ports.sandbox,
        host: '127.0.0.1',
        ...(persistent ? { statePath: join(stateDir, 'drchrono-sandbox', 'state.json') } : {}),
        ...(timeScale !== undefined && Number.isFinite(timeScale) ? { timeScale } : {}),
      });
      stops.push(() => sandbox.close());
      sandboxUrl = sandbox.url;
    } else {
      opts.log(`[local] WARNING: ${SANDBOX_ENTRY} not found; running without the DrChrono sandbox`);
    }

    // Handlers must not run before process.env is complete; the API is listening before we know its URL.
    let markEnvReady: () => void = () => {};
    const envReady = new Promise<void>((resolve) => (markEnvReady = resolve));

    const invoke = async (fn: LocalFunction, event: unknown): Promise<unknown> => {
      await envReady;
      const handler = await loadHandler(fn);
      const functionName = functionArnName(STAGE, fn);
      const context = lambdaContext({ functionName, timeoutSeconds: fn.timeoutSeconds, region: REGION });
      try {
        return await withTimeout(handler(event, context), functionName, fn.timeoutSeconds);
      } catch (err) {
        // Class only: error messages can quote input (e.g. JSON.parse), and input is PHI.
        opts.log(`[fn:${fn.name}] invocation failed: ${err instanceof Error ? err.name : 'UnknownError'}`);
        throw err;
      }
    };
    const byName = new Map(registeredFunctions().map((f) => [f.name, f]));

    const pollers = new Map<string, SqsPoller>();
    const scheduled = registeredFunctions().flatMap((f) =>
      f.trigger.kind === 'schedule'
        ? [
            {
              name: f.name,
              ruleName: `${functionArnName(STAGE, f)}-schedule`,
              // Tests drive schedules through /_local/run; timers only when asked for.
              everySeconds: process.env[f.trigger.intervalEnv]
                ? Number(process.env[f.trigger.intervalEnv])
                : opts.ephemeral
                  ? 0
                  : f.trigger.everySeconds,
            },
          ]
        : [],
    );
    const scheduler = new Scheduler(scheduled, REGION, (name, event) => invoke(byName.get(name)!, event), (l) =>
      opts.log(`[scheduler] ${l}`),
    );

    const api: LocalApi = await startLocalApi(
      { port: ports.api },
      {
        routes: ROUTES,
        iam: { region: REGION, credentials: LOCAL_CREDENTIALS },
        invoke: (fn, event: APIGatewayProxyEventV2) => invoke(byName.get(fn)!, event),
        onError: (_fn, err) =>
          err instanceof FunctionNotImplementedError ? jsonResponse(501, { message: err.message }) : undefined,
        control: controlRoutes({
          pollers,
          scheduler,
          awsFaults,
          health: () => ({
            status: 'ok',
            functions: registeredFunctions().map((f) => ({ name: f.name, trigger: f.trigger.kind, implemented: isImplemented(f) })),
          }),
        }),
        log: (l) => opts.log(`[api] ${l}`),
      },
    );
    stops.push(() => api.close());

    const info: PlatformInfo = {
      stage: STAGE,
      region: REGION,
      pid: process.pid,
      persistent,
      ...(persistent ? { stateDir } : {}),
      apiBaseUrl: api.url,
      webhookUrlTemplate: webhookUrlTemplate(api.url),
      oauthRedirectUri: oauthRedirectUriFor(api.url),
      sandboxUrl,
      endpoints: { dynamodb: ddb.url, sqs: sqsEmu.url, secretsManager: sm.url },
      resources: names,
      queueUrls: {
        ingest: created.ingest.url,
        ingestDlq: created.ingest.dlqUrl,
        backfill: created.backfill.url,
        backfillDlq: created.backfill.dlqUrl,
        writeBack: created.writeBack.url,
        writeBackDlq: created.writeBack.dlqUrl,
      },
      ...(queues.has('test-consumer')
        ? { testQueueUrls: { queue: queues.get('test-consumer')!.url, dlq: queues.get('test-consumer')!.dlqUrl } }
        : {}),
    };
    delete process.env.AWS_SESSION_TOKEN;
    delete process.env.AWS_PROFILE;
    Object.assign(process.env, handlerEnvironment(info), {
      AWS_ENDPOINT_URL_DYNAMODB: ddbProxy.url,
      AWS_ENDPOINT_URL_SQS: sqsProxy.url,
    });
    markEnvReady();

    const concurrency = envPort('LOCAL_POLLER_CONCURRENCY', 2) || 2;
    for (const fn of registeredFunctions()) {
      if (fn.trigger.kind !== 'queue') continue;
      const queue = queues.get(fn.trigger.queue)!;
      const poller = new SqsPoller({
        fn: fn.name,
        queueUrl: queue.url,
        queueArn: queue.arn,
        region: REGION,
        settings: fn.trigger.settings,
        concurrency,
        sqs: sqsClient,
        invoke: (event) => invoke(fn, event),
        // A function nobody has written yet leaves its messages on the queue instead of failing them.
        canInvoke: () => isImplemented(fn),
        log: (l) => opts.log(`[poller:${fn.name}] ${l}`),
      });
      poller.start();
      pollers.set(fn.name, poller);
      stops.push(() => poller.stop());
      if (!isImplemented(fn)) opts.log(`[local] ${fn.entry} not found yet: ${fn.name} poller waits for it`);
    }
    scheduler.start();
    stops.push(() => scheduler.stop());

    if (persistent) {
      const infoPath = join(stateDir, 'platform.json');
      writeJsonAtomic(infoPath, info);
      // A stopped platform must not leave endpoints behind that the CLI would try to use.
      stops.unshift(() => rmSync(infoPath, { force: true }));
    }
    return { info, stop: stopAll };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
