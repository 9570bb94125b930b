import { parseArgs } from 'node:util';
import { SYNCED_EVENTS } from '../../shared/ingest/ingest-message';
import { readTeamSecret } from '../../shared/teams/team-secret';
import { parseTeamId } from '../../shared/teams/team-id';
import { CliError, redirectUri, teamWebhookUrl, type CliContext } from '../context';

export const SANDBOX_USAGE = `Usage: drchrono-sync sandbox <command>   (drives the local DrChrono sandbox; docs/drchrono-sandbox.md)
  status                                   sandbox URL, apps, webhook state
  connect-team <teamId>                    make the sandbox app + webhook match a registered team (its client id/secret,
                                           webhook secret, the local webhook route, the synced events)
  patient create [--set field=value ...]   create a patient (fires PATIENT_CREATE)
  patient modify <id> --set field=value    modify a patient (fires PATIENT_MODIFY)
  patient delete <id>                      delete a patient (DrChrono sends no webhook for this)
  patient flag add <id> --type <flagTypeId> [--text T]              (fires PATIENT_FLAG_CREATE)
  patient flag modify <id> <flagId> [--type <flagTypeId>] [--text T] (fires PATIENT_FLAG_CMODIFY)
  patient flag remove <id> <flagId>        archives the flag             (fires PATIENT_FLAG_CMODIFY)
  appointment create --patient <id> [--set field=value ...]     (fires APPOINTMENT_CREATE)
  appointment modify <id> --set field=value                     (fires APPOINTMENT_MODIFY)
  appointment delete <id>                  soft delete, deleted_flag true     (fires APPOINTMENT_DELETE)
  deliveries [--app <clientId>] [--status pending|delivered|failed|held|disabled] [--json]
  redeliver <deliveryId>                   send a delivery again, as DrChrono's "redeliver" button
  app configure <clientId> [--client-secret S] [--redirect-uri U ...] [--rotate on|off]
                [--invalid-client on|off] [--latency-ms N] [--budget N]
  webhook configure <clientId> --url U [--secret S] [--events A,B,...]
  webhook on|off <clientId>                switch delivery on or off
  webhook quirks <clientId> [--duplicate N] [--delay-ms N] [--hold on|off]
  webhook release <clientId> [--order reverse|fifo]
  webhook verify <clientId>                run the GET ?msg= handshake now (exit 1 if it fails)
  rate-limit <clientId>                    this hour's call counter and budget
  fault <path> <500|502|503|timeout|reset|429|401> [--count N] [--method M]
  faults clear
  reset [--no-seed]
Values given with --set are JSON when they parse as JSON (numbers, true, null), strings otherwise.`;

const DEFAULT_APP = 'sandbox-client';

export async function run(argv: string[], ctx: CliContext): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === 'help' || cmd === '--help') {
    ctx.out(SANDBOX_USAGE);
    return cmd === undefined ? 2 : 0;
  }
  const sb = new SandboxControl(sandboxUrl(ctx));
  switch (cmd) {
    case 'status':
      return status(sb, ctx);
    case 'connect-team':
      return connectTeam(sb, rest, ctx);
    case 'patient':
    case 'appointment':
      return change(sb, cmd, rest, ctx);
    case 'deliveries':
      return deliveries(sb, rest, ctx);
    case 'redeliver': {
      const id = one(rest, 'a delivery id');
      const d = await sb.call('POST', `/deliveries/${encodeURIComponent(id)}/redeliver`);
      ctx.out(describeDelivery(d));
      return d.status === 'delivered' ? 0 : 1;
    }
    case 'app':
      return app(sb, rest, ctx);
    case 'webhook':
      return webhook(sb, rest, ctx);
    case 'rate-limit': {
      const r = await sb.call('GET', `/apps/${encodeURIComponent(rest[0] ?? DEFAULT_APP)}/rate-limit`);
      ctx.out(`${r.clientId}: ${r.calls}/${r.budget} calls this hour (${r.hour}), ${r.throttled} throttled, resets in ${r.resetInSeconds}s`);
      return 0;
    }
    case 'fault': {
      const { values, positionals } = parsed(() => parseArgs({ args: rest, allowPositionals: true, options: { count: { type: 'string' }, method: { type: 'string' } } }));
      const [path, kind] = positionals;
      if (!path || !kind) throw new CliError(`fault needs <path> <kind>\n\n${SANDBOX_USAGE}`, 2);
      const f = await sb.call('POST', '/faults', { path, kind, count: values.count ? int(values.count, '--count') : 1, ...(values.method ? { method: values.method } : {}) });
      ctx.out(`fault ${f.id}: next ${f.remaining} request(s) to ${f.path}${f.method ? ` (${f.method})` : ''} → ${f.kind}`);
      return 0;
    }
    case 'faults':
      if (rest[0] !== 'clear') throw new CliError(`usage: sandbox faults clear`, 2);
      await sb.call('DELETE', '/faults');
      ctx.out('faults cleared');
      return 0;
    case 'reset':
      await sb.call('POST', '/reset', { seed: !rest.includes('--no-seed') });
      ctx.out('sandbox reset');
      return 0;
    default:
      throw new CliError(`unknown sandbox command "${cmd}"\n\n${SANDBOX_USAGE}`, 2);
  }
}

// ---------------------------------------------------------------- commands

async function status(sb: SandboxControl, ctx: CliContext): Promise<number> {
  await sb.call('GET', '/health');
  ctx.out(`DrChrono sandbox at ${sb.url}`);
  for (const a of (await sb.call('GET', '/apps')) as unknown as SandboxAppView[]) {
    const w = a.webhook;
    ctx.out(
      `  app ${a.clientId}: budget ${a.hourlyBudget}/h, rotation ${onOff(a.rotateRefreshTokens)}, latency ${a.latencyMs} ms` +
        `\n    webhook ${w.callbackUrl ?? '(none)'} ${w.callbackUrl ? `[${w.active ? 'on' : 'off'}, ${w.verified ? 'verified' : 'not verified yet'}, ${w.events.length} events]` : ''}`,
    );
  }
  return 0;
}

async function connectTeam(sb: SandboxControl, args: string[], ctx: CliContext): Promise<number> {
  const raw = one(args, 'a team id');
  const teamId = parseTeamId(raw);
  if (!teamId) throw new CliError(`team id must be a UUID, got "${raw}"`, 2);
  const secret = await readTeamSecret(ctx.secrets, ctx.resources.teamSecretPrefix, teamId).catch((err: unknown) => {
    throw new CliError(`cannot read team ${teamId}'s secret (${err instanceof Error ? err.name : 'error'}); register it with \`drchrono-sync team add\``);
  });
  const url = teamWebhookUrl(ctx.resources, teamId);
  if (!url) throw new CliError('the platform info has no webhook URL; restart it with `npm start`');
  const redirect = redirectUri(ctx.resources);
  await sb.call('POST', '/apps', { clientId: secret.clientId, clientSecret: secret.clientSecret, ...(redirect ? { redirectUris: [redirect] } : {}) });
  await sb.call('PUT', `/apps/${encodeURIComponent(secret.clientId)}/webhook`, { callbackUrl: url, secretToken: secret.webhookSecret, events: [...SYNCED_EVENTS], active: true });
  const v = await sb.call('POST', `/apps/${encodeURIComponent(secret.clientId)}/webhook/verify`);
  ctx.out(`sandbox app ${secret.clientId} now belongs to team ${teamId}`);
  ctx.out(`  webhook → ${url} (${SYNCED_EVENTS.join(', ')})`);
  ctx.out(`  verification: ${v.ok ? 'passed' : `failed (${v.error ?? `HTTP ${v.status}`})`}`);
  return v.ok ? 0 : 1;
}

async function patientFlag(sb: SandboxControl, args: string[], ctx: CliContext): Promise<number> {
  const [action, ...rest] = args;
  const { values, positionals } = parsed(() =>
    parseArgs({ args: rest, allowPositionals: true, options: { type: { type: 'string' }, text: { type: 'string' } } }),
  );
  const patientId = int(one(positionals, 'a patient id'), 'patient id');
  const body: Record<string, unknown> = {};
  if (values.type !== undefined) body.flag_type = int(values.type, '--type');
  if (values.text !== undefined) body.flag_text = values.text;
  const flagPath = () => `/patients/${patientId}/flags/${int(one(positionals.slice(1), 'a flag id'), 'flag id')}`;
  let obj: Record<string, unknown>;
  switch (action) {
    case 'add':
      if (body.flag_type === undefined) throw new CliError('patient flag add needs --type <flagTypeId>', 2);
      obj = await sb.call('POST', `/patients/${patientId}/flags`, body);
      ctx.out(`flag ${obj.id} attached to patient ${patientId}`);
      break;
    case 'modify':
      obj = await sb.call('PATCH', flagPath(), body);
      ctx.out(`flag ${obj.id} of patient ${patientId} modified`);
      break;
    case 'remove':
      obj = await sb.call('DELETE', flagPath());
      ctx.out(`flag ${obj.id} of patient ${patientId} removed (archived)`);
      break;
    default:
      throw new CliError(`usage: sandbox patient flag add|modify|remove ...\n\n${SANDBOX_USAGE}`, 2);
  }
  await sb.call('POST', '/idle');
  const sent = (await sb.list(`/deliveries?objectId=${encodeURIComponent(String(obj.id))}`)).slice(-1);
  for (const d of sent) ctx.out(`  ${describeDelivery(d)}`);
  if (sent.length === 0) ctx.out('  no webhook delivery (no app subscribes to this event; see `sandbox connect-team`)');
  return 0;
}

async function change(sb: SandboxControl, kind: 'patient' | 'appointment', args: string[], ctx: CliContext): Promise<number> {
  const [action, ...rest] = args;
  if (kind === 'patient' && action === 'flag') return patientFlag(sb, rest, ctx);
  const { values, positionals } = parsed(() =>
    parseArgs({ args: rest, allowPositionals: true, options: { set: { type: 'string', multiple: true }, patient: { type: 'string' }, json: { type: 'boolean' } } }),
  );
  const fields = setFields(values.set ?? []);
  const base = kind === 'patient' ? '/patients' : '/appointments';
  let obj: Record<string, unknown>;
  switch (action) {
    case 'create':
      if (kind === 'appointment') {
        if (!values.patient) throw new CliError('appointment create needs --patient <id>', 2);
        fields.patient = int(values.patient, '--patient');
      }
      obj = await sb.call('POST', base, fields);
      ctx.out(`${kind} ${obj.id} created`);
      break;
    case 'modify':
      if (Object.keys(fields).length === 0) throw new CliError(`${kind} modify needs at least one --set field=value`, 2);
      obj = await sb.call('PATCH', `${base}/${encodeURIComponent(one(positionals, `a ${kind} id`))}`, fields);
      ctx.out(`${kind} ${obj.id} modified (${Object.keys(fields).join(', ')})`);
      break;
    case 'delete':
      obj = await sb.call('DELETE', `${base}/${encodeURIComponent(one(positionals, `a ${kind} id`))}`);
      ctx.out(kind === 'patient' ? `patient ${obj.id} deleted (DrChrono sends no webhook for patient deletes)` : `appointment ${obj.id} deleted (deleted_flag true)`);
      break;
    default:
      throw new CliError(`usage: sandbox ${kind} create|modify|delete ...\n\n${SANDBOX_USAGE}`, 2);
  }
  await sb.call('POST', '/idle');
  const sent = (await sb.list(`/deliveries?objectId=${encodeURIComponent(String(obj.id))}`)).slice(-5);
  for (const d of sent) ctx.out(`  ${describeDelivery(d)}`);
  if (sent.length === 0 && action !== 'delete') ctx.out('  no webhook delivery (no app subscribes to this event; see `sandbox connect-team`)');
  return 0;
}

async function deliveries(sb: SandboxControl, args: string[], ctx: CliContext): Promise<number> {
  const { values } = parsed(() => parseArgs({ args, options: { app: { type: 'string' }, status: { type: 'string' }, json: { type: 'boolean' } } }));
  const q = new URLSearchParams();
  if (values.app) q.set('clientId', values.app);
  if (values.status) q.set('status', values.status);
  const list = await sb.list(`/deliveries?${q.toString()}`);
  if (values.json) ctx.out(JSON.stringify(list, null, 2));
  else if (list.length === 0) ctx.out('no deliveries');
  else for (const d of list) ctx.out(describeDelivery(d));
  return 0;
}

async function app(sb: SandboxControl, args: string[], ctx: CliContext): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== 'configure') throw new CliError(`usage: sandbox app configure <clientId> ...\n\n${SANDBOX_USAGE}`, 2);
  const { values, positionals } = parsed(() =>
    parseArgs({
      args: rest,
      allowPositionals: true,
      options: {
        'client-secret': { type: 'string' },
        'redirect-uri': { type: 'string', multiple: true },
        rotate: { type: 'string' },
        'invalid-client': { type: 'string' },
        'latency-ms': { type: 'string' },
        budget: { type: 'string' },
      },
    }),
  );
  const clientId = one(positionals, 'a client id');
  const body: Record<string, unknown> = { clientId };
  if (values['client-secret']) body.clientSecret = values['client-secret'];
  if (values['redirect-uri']) body.redirectUris = values['redirect-uri'];
  if (values.rotate) body.rotateRefreshTokens = flag(values.rotate, '--rotate');
  if (values['invalid-client']) body.invalidClient = flag(values['invalid-client'], '--invalid-client');
  if (values['latency-ms']) body.latencyMs = int(values['latency-ms'], '--latency-ms');
  if (values.budget) body.hourlyBudget = int(values.budget, '--budget');
  const a = (await sb.call('POST', '/apps', body)) as unknown as SandboxAppView;
  ctx.out(`app ${a.clientId}: budget ${a.hourlyBudget}/h, rotation ${onOff(a.rotateRefreshTokens)}, invalid_client ${onOff(a.invalidClient)}, latency ${a.latencyMs} ms`);
  return 0;
}

async function webhook(sb: SandboxControl, args: string[], ctx: CliContext): Promise<number> {
  const [sub, ...rest] = args;
  const { values, positionals } = parsed(() =>
    parseArgs({
      args: rest,
      allowPositionals: true,
      options: {
        url: { type: 'string' },
        secret: { type: 'string' },
        events: { type: 'string' },
        duplicate: { type: 'string' },
        'delay-ms': { type: 'string' },
        hold: { type: 'string' },
        order: { type: 'string' },
      },
    }),
  );
  const clientId = positionals[0] ?? DEFAULT_APP;
  const path = `/apps/${encodeURIComponent(clientId)}/webhook`;
  switch (sub) {
    case 'configure': {
      const body: Record<string, unknown> = {};
      if (values.url) body.callbackUrl = values.url;
      if (values.secret) body.secretToken = values.secret;
      body.events = values.events ? values.events.split(',').map((e) => e.trim()) : [...SYNCED_EVENTS];
      const w = await sb.call('PATCH', path, body);
      ctx.out(`webhook of ${clientId} → ${w.callbackUrl ?? '(none)'} for ${(w.events as string[]).join(', ')}`);
      return 0;
    }
    case 'on':
    case 'off':
      await sb.call('PATCH', path, { active: sub === 'on' });
      ctx.out(`webhook delivery for ${clientId} is ${sub}`);
      return 0;
    case 'quirks': {
      const body: Record<string, unknown> = {};
      if (values.duplicate) body.duplicateNext = int(values.duplicate, '--duplicate');
      if (values['delay-ms']) body.delayMs = int(values['delay-ms'], '--delay-ms');
      if (values.hold) body.holding = flag(values.hold, '--hold');
      const q = await sb.call('POST', `${path}/quirks`, body);
      ctx.out(`quirks of ${clientId}: duplicate next ${q.duplicateNext}, delay ${q.delayMs} ms, holding ${onOff(q.holding as boolean)}`);
      return 0;
    }
    case 'release': {
      const released = await sb.list(`${path}/release`, 'POST', { order: values.order ?? 'reverse' });
      ctx.out(`released ${released.length} held deliveries`);
      for (const d of released) ctx.out(`  ${describeDelivery(d)}`);
      return 0;
    }
    case 'verify': {
      const v = await sb.call('POST', `${path}/verify`);
      ctx.out(`verification ${v.ok ? 'passed' : `failed (${v.error ?? `HTTP ${v.status}`})`}`);
      return v.ok ? 0 : 1;
    }
    default:
      throw new CliError(`usage: sandbox webhook configure|on|off|quirks|release|verify ...\n\n${SANDBOX_USAGE}`, 2);
  }
}

// ---------------------------------------------------------------- helpers

interface SandboxAppView {
  clientId: string;
  hourlyBudget: number;
  rotateRefreshTokens: boolean;
  invalidClient: boolean;
  latencyMs: number;
  webhook: { callbackUrl: string | null; active: boolean; verified: boolean; events: string[] };
}

type Obj = Record<string, unknown>;

/** Thin client of the sandbox control API (`/_sandbox/...`). */
export class SandboxControl {
  constructor(readonly url: string) {}

  async request(method: string, path: string, body?: unknown): Promise<unknown> {
    let res: Response;
    try {
      res = await fetch(`${this.url}/_sandbox${path}`, {
        method,
        headers: { 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(30_000),
      });
    } catch {
      throw new CliError(`the DrChrono sandbox at ${this.url} is not answering; is \`npm start\` running?`);
    }
    const text = await res.text();
    const json: unknown = text ? JSON.parse(text) : {};
    if (!res.ok) {
      const detail = json && typeof json === 'object' ? ((json as Obj).detail ?? (json as Obj).issues ?? json) : text;
      throw new CliError(`sandbox ${method} ${path}: HTTP ${res.status} ${JSON.stringify(detail)}`);
    }
    return json;
  }

  async call(method: string, path: string, body?: unknown): Promise<Obj> {
    return (await this.request(method, path, body)) as Obj;
  }

  async list(path: string, method = 'GET', body?: unknown): Promise<Obj[]> {
    return (await this.request(method, path, body)) as Obj[];
  }
}

export function sandboxUrl(ctx: CliContext): string {
  if (ctx.target !== 'local') throw new CliError('the DrChrono sandbox exists only on the local platform (--target local)', 2);
  const url = ctx.resources.sandboxUrl;
  if (!url) throw new CliError('the local platform runs without the DrChrono sandbox; restart it with `npm start`');
  return url.replace(/\/+$/, '');
}

export function describeDelivery(d: Obj): string {
  const attempts = (d.attempts as Array<{ status?: number; error?: string; ok: boolean }>) ?? [];
  const last = attempts[attempts.length - 1];
  const outcome = last ? (last.status !== undefined ? `HTTP ${last.status}` : (last.error ?? '')) : 'not sent';
  return `delivery ${d.id} ${d.event} ${d.objectType} ${d.objectId || '-'} → ${d.clientId}: ${d.status} (${attempts.length} attempt${attempts.length === 1 ? '' : 's'}, last ${outcome})`;
}

/** `--set a=1 --set b=x` → {a: 1, b: 'x'}: JSON values when they parse, strings otherwise. */
export function setFields(pairs: string[]): Obj {
  const out: Obj = {};
  for (const p of pairs) {
    const i = p.indexOf('=');
    if (i <= 0) throw new CliError(`--set expects field=value, got "${p}"`, 2);
    const raw = p.slice(i + 1);
    let v: unknown = raw;
    try {
      v = JSON.parse(raw);
    } catch {
      v = raw;
    }
    out[p.slice(0, i)] = v;
  }
  return out;
}

function parsed<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    throw new CliError(`${err instanceof Error ? err.message : String(err)}\n\n${SANDBOX_USAGE}`, 2);
  }
}

function one(positionals: string[], what: string): string {
  const v = positionals[0];
  if (v === undefined) throw new CliError(`${what} is required\n\n${SANDBOX_USAGE}`, 2);
  return v;
}

function int(v: string, name: string): number {
  if (!/^\d+$/.test(v)) throw new CliError(`${name} must be a whole number, got "${v}"`, 2);
  return Number(v);
}

function flag(v: string, name: string): boolean {
  if (v !== 'on' && v !== 'off') throw new CliError(`${name} must be on or off, got "${v}"`, 2);
  return v === 'on';
}

function onOff(b: boolean): string {
  return b ? 'on' : 'off';
}
