import { createServer } from 'node:http';
import { listen } from '../http/listen';
import { SandboxEngine } from './engine';
import { SandboxRouter } from './server';
import { WebhookDispatcher } from './webhooks';

export { SandboxEngine, SandboxHttpError, DEFAULT_APP, ACCESS_TOKEN_SECONDS, ALL_SCOPES } from './engine';
export { WebhookDispatcher, RETRY_HOURS } from './webhooks';
export type * from './types';

export interface StartSandboxOptions {
  /** 0 picks a free port. */
  port: number;
  host?: string;
  /** Persist state (data, apps, tokens, deliveries) to this JSON file and reload it on start. */
  statePath?: string;
  /** Divides webhook retry delays: 3600 makes DrChrono's 1 h / 3 h / 7 h schedule 1 s / 3 s / 7 s. Default 1. */
  timeScale?: number;
  /** Seed the synthetic practice (default true). Ignored when state is loaded from statePath. */
  seed?: boolean;
  /** Authorization code lifetime, seconds (default 60). */
  codeTtlSeconds?: number;
  /** Webhook request timeout (default 10 s). */
  deliveryTimeoutMs?: number;
}

export interface RunningSandbox {
  url: string;
  engine: SandboxEngine;
  webhooks: WebhookDispatcher;
  /** Resolves once no webhook delivery is in flight. */
  idle(): Promise<void>;
  close(): Promise<void>;
}

/** Starts the DrChrono sandbox on 127.0.0.1 (local-only; never part of a Lambda bundle). */
export async function startSandbox(opts: StartSandboxOptions): Promise<RunningSandbox> {
  const host = opts.host ?? '127.0.0.1';
  const engine = new SandboxEngine({ statePath: opts.statePath, seed: opts.seed, codeTtlSeconds: opts.codeTtlSeconds });
  const webhooks = new WebhookDispatcher(engine, { timeScale: opts.timeScale ?? 1, deliveryTimeoutMs: opts.deliveryTimeoutMs });
  let url = '';
  const router = new SandboxRouter(engine, webhooks, () => url);
  const server = createServer((req, res) => void router.handle(req, res));
  // Idle keep-alive connections stay open longer than clients keep them pooled (Node's default of 5 s races
  // clients that reuse a socket just as the server closes it: ECONNRESET). Load balancers commonly idle out at 60 s.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  const listening = await listen(server, opts.port, host);
  url = listening.url;

  return {
    url,
    engine,
    webhooks,
    idle: () => webhooks.idle(),
    async close() {
      webhooks.close();
      for (const res of router.hanging) res.destroy();
      await listening.close();
      await webhooks.idle();
      engine.flush();
    },
  };
}
