import { parseArgs } from 'node:util';
import * as z from 'zod/mini';
import { LOCAL_CREDENTIALS, signRequest, type SigV4CredentialSource } from '../../shared/http/sigv4';
import { ChangeIdSchema } from '../../shared/write-back/change';
import { ChangeItemSchema, type ChangeItem } from '../../shared/write-back/change-store';
import { parseTeamId } from '../../shared/teams/team-id';
import { CliError, type CliContext } from '../context';
import { terminalText } from '../terminal-text';

/**
 * `records set|create|delete|change`: changes to DrChrono through the write API (docs/write-back.md). The CLI is
 * an ordinary API client: it signs each request with SigV4 (the local key pair on the local target, the default
 * credential chain on AWS), then waits for the change's outcome by polling `GET /teams/{teamId}/changes/{id}`.
 */
export const RECORDS_WRITE_USAGE = `Usage:
  drchrono-sync records set <teamId> patient <chartId> --set "Field=value" [--set ...] [--set-json JSON]
                            [--base-version V] [--update-only]
      upsert the patient with this Chart ID (created when DrChrono has none); --update-only: update only
  drchrono-sync records set <teamId> appointment <claimId> --set "Field=value" [...] [--base-version V]
  drchrono-sync records create <teamId> appointment --set "Field=value" [...]
  drchrono-sync records delete <teamId> appointment <claimId> [--base-version V]
  drchrono-sync records change <teamId> <changeId>
      the outcome of a change (waits while it is pending)
  Every one takes [--no-wait] [--timeout S] [--json]:
      waits for the outcome (default 120 s) and exits 0 only when it is applied; --no-wait prints the change id.
  Field names are the records' ("Email", "Cell Phone", "Appt Status", ...). --set splits at the first "=";
  values are sent as text ("" clears a field); --set-json '{"Duration": 30}' sends JSON values.
  --base-version: the record version the change is based on (\`records <teamId> patient <chartId>\` shows it);
  a change made in DrChrono since then makes it a conflict. Without it the last writer wins.`;

export const WRITE_SUBCOMMANDS = ['set', 'create', 'delete', 'change'] as const;
export type WriteSubcommand = (typeof WRITE_SUBCOMMANDS)[number];

export const DEFAULT_TIMEOUT_SECONDS = 120;
const MAX_TIMEOUT_SECONDS = 3600;
const FIRST_POLL_MS = 250;
const MAX_POLL_MS = 2_000;
/** One HTTP request; the wait as a whole is bounded by --timeout. */
const REQUEST_TIMEOUT_MS = 30_000;

/** What the write API answers (interfaces: "Write API"). Unknown keys are kept out of the output, not refused. */
const AcceptedSchema = z.looseObject({ changeId: z.string(), status: z.optional(z.string()) });
const ErrorBodySchema = z.looseObject({
  message: z.optional(z.string()),
  hint: z.optional(z.string()),
  problems: z.optional(z.array(z.looseObject({ field: z.string(), problem: z.string() }))),
});

export interface WriteRequest {
  method: 'PUT' | 'PATCH' | 'POST' | 'DELETE';
  /** Path under the API base URL, segments already encoded. */
  path: string;
  body?: Record<string, unknown>;
  baseVersion?: string;
}

export interface ParsedWrite {
  teamId: string;
  request?: WriteRequest;
  /** `records change`: the change to wait for. */
  changeId?: string;
  wait: boolean;
  timeoutMs: number;
  json: boolean;
}

/** Test hooks; the CLI uses the defaults. */
export interface WriteDeps {
  fetch?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
  credentials?: SigV4CredentialSource;
}

const usage = (message: string): CliError => new CliError(`${message}\n\n${RECORDS_WRITE_USAGE}`, 2);

/** `Name=value` → [name, value], split at the first '=' (values may hold '='). The name is trimmed, the value kept as is. */
export function splitAssignment(raw: string): [string, string] {
  const eq = raw.indexOf('=');
  if (eq < 0) throw usage(`--set needs Field=value, got "${terminalText(raw)}"`);
  const name = raw.slice(0, eq).trim();
  if (!name) throw usage(`--set needs a field name before "=", got "${terminalText(raw)}"`);
  return [name, raw.slice(eq + 1)];
}

/** The request body from --set (text values) and --set-json (JSON values); a field given twice is a usage error. */
export function fieldsFrom(sets: readonly string[], setJson: string | undefined): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  const put = (name: string, value: unknown): void => {
    if (Object.hasOwn(fields, name)) throw usage(`field "${terminalText(name)}" is given twice`);
    fields[name] = value;
  };
  for (const raw of sets) put(...splitAssignment(raw));
  if (setJson !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(setJson);
    } catch {
      throw usage('--set-json must be a JSON object, e.g. \'{"Duration": 30}\'');
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw usage('--set-json must be a JSON object, e.g. \'{"Duration": 30}\'');
    for (const [name, value] of Object.entries(parsed)) put(name, value);
  }
  return fields;
}

/** The If-Match value: the version quoted (an already quoted one is kept). */
export function ifMatch(version: string): string {
  return /^".*"$/.test(version) ? version : `"${version}"`;
}

function timeoutOf(raw: string | undefined): number {
  if (raw === undefined) return DEFAULT_TIMEOUT_SECONDS * 1000;
  const s = /^\d+(\.\d+)?$/.test(raw) ? Number(raw) : NaN;
  if (!(s > 0 && s <= MAX_TIMEOUT_SECONDS)) throw usage(`--timeout must be a number of seconds above 0 and at most ${MAX_TIMEOUT_SECONDS}, got "${terminalText(raw)}"`);
  return Math.round(s * 1000);
}

const enc = encodeURIComponent;

export function parseWriteArgs(sub: WriteSubcommand, argv: string[]): ParsedWrite {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        set: { type: 'string', multiple: true },
        'set-json': { type: 'string' },
        'base-version': { type: 'string' },
        'update-only': { type: 'boolean' },
        'no-wait': { type: 'boolean' },
        timeout: { type: 'string' },
        json: { type: 'boolean' },
      },
      allowPositionals: true,
    });
  } catch (err) {
    throw usage(err instanceof Error ? err.message : String(err));
  }
  const { values, positionals } = parsed;
  const [rawTeam, second, third, extra] = positionals;
  if (rawTeam === undefined) throw usage('a team id is required');
  const teamId = parseTeamId(rawTeam);
  if (!teamId) throw usage(`team id must be a UUID, got "${terminalText(rawTeam)}"`);
  const common = { teamId, wait: !(values['no-wait'] ?? false), timeoutMs: timeoutOf(values.timeout), json: values.json ?? false };
  const sets = values.set ?? [];
  const hasFields = sets.length > 0 || values['set-json'] !== undefined;
  const baseVersion = values['base-version'];
  if (baseVersion !== undefined && !baseVersion.trim()) throw usage('--base-version needs a version');

  if (sub === 'change') {
    if (second === undefined || third !== undefined) throw usage('records change takes a team id and a change id');
    if (hasFields || baseVersion !== undefined || values['update-only']) throw usage('records change takes no --set, --set-json, --base-version or --update-only');
    if (!ChangeIdSchema.safeParse(second).success) throw usage(`change id must be a UUID, got "${terminalText(second)}"`);
    return { ...common, changeId: second.toLowerCase() };
  }

  if (second !== 'patient' && second !== 'appointment') throw usage(`kind must be patient or appointment, got "${terminalText(second ?? '')}"`);
  const kind = second;
  if (values['update-only'] && !(sub === 'set' && kind === 'patient')) throw usage('--update-only is for `records set <teamId> patient` (an appointment is always updated by its Claim ID)');

  if (sub === 'create') {
    if (kind !== 'appointment') throw usage('records create makes appointments; a patient is created by `records set <teamId> patient <chartId>` (upsert by Chart ID)');
    if (third !== undefined) throw usage('records create takes no key: DrChrono assigns the Claim ID');
    if (baseVersion !== undefined) throw usage('--base-version is for changes to an existing record');
    if (!hasFields) throw usage('records create needs the fields: --set "Field=value" ...');
    return { ...common, request: { method: 'POST', path: `/teams/${teamId}/appointments`, body: fieldsFrom(sets, values['set-json']) } };
  }

  const key = third;
  if (key === undefined || extra !== undefined) throw usage(`records ${sub} takes one ${kind === 'patient' ? 'Chart ID' : 'Claim ID'}`);
  if (!key) throw usage(`the ${kind === 'patient' ? 'Chart ID' : 'Claim ID'} is empty`);
  const base = baseVersion !== undefined ? { baseVersion } : {};

  if (sub === 'delete') {
    if (kind !== 'appointment') throw usage('records delete deletes appointments (DrChrono has no patient delete; set "Status=Inactive" instead)');
    if (hasFields) throw usage('records delete takes no --set or --set-json');
    return { ...common, request: { method: 'DELETE', path: `/teams/${teamId}/appointments/${enc(key)}`, ...base } };
  }

  if (!hasFields) throw usage('records set needs at least one --set "Field=value" (or --set-json)');
  const body = fieldsFrom(sets, values['set-json']);
  if (kind === 'patient') {
    return { ...common, request: { method: values['update-only'] ? 'PATCH' : 'PUT', path: `/teams/${teamId}/patients/${enc(key)}`, body, ...base } };
  }
  return { ...common, request: { method: 'PATCH', path: `/teams/${teamId}/appointments/${enc(key)}`, body, ...base } };
}

interface ApiAnswer {
  status: number;
  body: unknown;
}

class WriteApi {
  private readonly fetch: typeof fetch;
  constructor(
    private readonly baseUrl: string,
    private readonly region: string,
    private readonly credentials: SigV4CredentialSource,
    deps: WriteDeps,
  ) {
    this.fetch = deps.fetch ?? fetch;
  }

  async send(method: string, path: string, opts: { body?: Record<string, unknown>; baseVersion?: string } = {}): Promise<ApiAnswer> {
    const url = `${this.baseUrl.replace(/\/+$/, '')}${path}`;
    const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    const own: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) own['content-type'] = 'application/json';
    if (opts.baseVersion !== undefined) own['if-match'] = ifMatch(opts.baseVersion);
    const headers = await signRequest({ method, url, headers: own, body }, { credentials: this.credentials, region: this.region });
    // fetch sets Host itself (the same value the signature covers); passing it is refused by undici.
    delete headers.host;
    let res: Response;
    try {
      res = await this.fetch(url, { method, headers, body, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    } catch (err) {
      throw new CliError(`cannot reach the write API at ${this.baseUrl} (${err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err)})`);
    }
    const text = await res.text();
    let parsed: unknown = undefined;
    if (text) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = undefined;
      }
    }
    return { status: res.status, body: parsed };
  }
}

async function credentialsFor(ctx: CliContext, deps: WriteDeps): Promise<SigV4CredentialSource> {
  if (deps.credentials) return deps.credentials;
  // The local API accepts only the emulators' key pair; AWS takes whatever the operator's environment provides.
  if (ctx.target === 'local') return LOCAL_CREDENTIALS;
  const { defaultProvider } = await import('@aws-sdk/credential-provider-node');
  return defaultProvider();
}

export async function runWrite(sub: WriteSubcommand, argv: string[], ctx: CliContext, deps: WriteDeps = {}): Promise<number> {
  if (argv.includes('--help')) {
    ctx.out(RECORDS_WRITE_USAGE);
    return 0;
  }
  const parsed = parseWriteArgs(sub, argv);
  const baseUrl = ctx.resources.apiBaseUrl;
  if (!baseUrl) throw new CliError('the target has no API address (stack output ApiBaseUrl, or API_BASE_URL): cannot call the write API');
  const region = ctx.resources.region;
  if (!region) throw new CliError('the API region is unknown: pass --region (or set AWS_REGION)', 2);
  const api = new WriteApi(baseUrl, region, await credentialsFor(ctx, deps), deps);

  let changeId = parsed.changeId;
  if (parsed.request) {
    const { method, path, body, baseVersion } = parsed.request;
    const answer = await api.send(method, path, { body, baseVersion });
    if (answer.status !== 202) return refused(ctx, parsed, answer);
    const accepted = AcceptedSchema.safeParse(answer.body);
    if (!accepted.success) throw new CliError('the write API accepted the change (202) without a change id');
    changeId = accepted.data.changeId;
    if (!parsed.wait) {
      // The id alone on stdout, so a script can keep it: CHANGE=$(drchrono-sync records set ... --no-wait)
      ctx.out(parsed.json ? JSON.stringify({ changeId, status: 'pending' }) : changeId);
      ctx.err(`Change accepted (pending). Its outcome: drchrono-sync records change ${parsed.teamId} ${changeId}`);
      return 0;
    }
  }
  return waitAndReport(ctx, api, parsed, changeId!, deps);
}

/** A non-202 answer: every problem of a 400, the hint of a 403, the message otherwise. Always exit 1. */
function refused(ctx: CliContext, parsed: ParsedWrite, answer: ApiAnswer): number {
  if (parsed.json && answer.body !== undefined) ctx.out(JSON.stringify(answer.body, null, 2));
  const body = ErrorBodySchema.safeParse(answer.body ?? {});
  const err = body.success ? body.data : {};
  const message = err.message ? terminalText(err.message) : undefined;
  switch (answer.status) {
    case 400:
      ctx.err(`error: ${message ?? 'invalid change'} (nothing was sent to DrChrono)`);
      for (const p of err.problems ?? []) ctx.err(`  ${terminalText(p.field)}: ${terminalText(p.problem)}`);
      break;
    case 403:
      if (err.hint) {
        ctx.err(`error: ${message ?? 'write-back is not allowed for this team'}`);
        ctx.err(`  ${terminalText(err.hint)}`);
      } else {
        // API Gateway's IAM authorizer (and the local API) answer a bad or missing signature with a bare "Forbidden".
        ctx.err(`error: the write API refused the request's signature or credentials (403 ${message ?? 'Forbidden'})`);
        ctx.err(
          ctx.target === 'local'
            ? '  The local API accepts requests signed with the key pair local/local for the platform\'s region.'
            : '  The caller needs execute-api:Invoke on this API\'s /teams/* routes (docs/write-back.md, "Authorisation"); check AWS_PROFILE and --region.',
        );
      }
      break;
    case 404:
      ctx.err(`error: ${message ?? 'not found'}`);
      break;
    default:
      ctx.err(`error: the write API answered ${answer.status}${message ? `: ${message}` : ''}`);
  }
  return 1;
}

async function waitAndReport(ctx: CliContext, api: WriteApi, parsed: ParsedWrite, changeId: string, deps: WriteDeps): Promise<number> {
  const now = deps.now ?? Date.now;
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const deadline = now() + parsed.timeoutMs;
  const path = `/teams/${parsed.teamId}/changes/${enc(changeId)}`;
  let delay = FIRST_POLL_MS;
  let last: ChangeItem | undefined;
  let lastProblem: string | undefined;
  for (;;) {
    let answer: ApiAnswer | undefined;
    try {
      answer = await api.send('GET', path);
    } catch (err) {
      // A dropped connection while waiting is not the change's outcome: keep asking until the deadline.
      lastProblem = err instanceof Error ? err.message : String(err);
    }
    if (answer) {
      if (answer.status === 200) {
        const item = ChangeItemSchema.safeParse(answer.body);
        if (!item.success) throw new CliError(`the write API's answer for change ${changeId} is not a change`);
        last = item.data;
        lastProblem = undefined;
        if (last.status !== 'pending') break;
      } else if (answer.status >= 500 || answer.status === 429) {
        lastProblem = `the write API answered ${answer.status}`;
      } else if (!parsed.request || answer.status !== 404) {
        // A 404 right after a 202 would be a lagging read; for `records change` it means no such change.
        return refused(ctx, parsed, answer);
      }
    }
    if (!parsed.wait || now() + delay > deadline) break;
    await sleep(delay);
    delay = Math.min(delay * 2, MAX_POLL_MS);
  }

  if (parsed.json && last) ctx.out(JSON.stringify(last, null, 2));
  if (!last) {
    ctx.err(`error: change ${changeId}: no answer from the write API within ${parsed.timeoutMs / 1000} s${lastProblem ? ` (${terminalText(lastProblem)})` : ''}`);
    return 1;
  }
  if (!parsed.json) for (const line of formatChange(last)) ctx.out(line);
  if (last.status === 'pending') {
    const waited = parsed.wait ? `still pending after ${parsed.timeoutMs / 1000} s` : 'still pending';
    ctx.err(`Change ${changeId} is ${waited}; it keeps going. Its outcome: drchrono-sync records change ${parsed.teamId} ${changeId}`);
    return parsed.request || parsed.wait ? 1 : 0;
  }
  if (last.status === 'conflict' && last.key) {
    ctx.err(`DrChrono's copy changed since the base version: read it again (drchrono-sync records ${parsed.teamId} ${last.entity} ${terminalText(last.key)}) and retry with its version.`);
  }
  return last.status === 'applied' ? 0 : 1;
}

/** The change as the operator reads it: outcome, key, ids, version, reason, DrChrono's field messages. */
export function formatChange(c: ChangeItem): string[] {
  const keyName = c.entity === 'patient' ? 'Chart ID' : 'Claim ID';
  const rows: [string, string | undefined][] = [
    [keyName, c.key ?? undefined],
    ['DrChrono ID', c.drchronoId ?? undefined],
    ['Operation', `${c.op} ${c.entity}`],
    ['Fields', c.fieldsWritten.length ? c.fieldsWritten.join(', ') : undefined],
    ['Base version', c.baseVersion ?? undefined],
    [c.status === 'conflict' ? 'Current version' : 'Version', c.currentVersion],
    ['Reason', c.reason],
    ['Requested', c.requestedAt],
    ['Completed', c.completedAt],
  ];
  const lines = [`Change ${c.changeId}: ${c.status}`];
  for (const [name, value] of rows) if (value !== undefined && value !== '') lines.push(`  ${`${name}:`.padEnd(17)}${value}`);
  const errors = Object.entries(c.fieldErrors ?? {});
  if (errors.length) {
    lines.push('  Field errors (DrChrono):');
    for (const [field, messages] of errors) lines.push(`    ${field}: ${messages.join(' ')}`);
  }
  return lines.map(terminalText);
}
