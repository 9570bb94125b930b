import { randomBytes, randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeleteMessageBatchCommand, GetQueueAttributesCommand, PurgeQueueCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DynamoDBDocumentClient, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { PlatformInfo } from '../../local/platform-info';
import { getBackfillJob } from '../../shared/backfill/job-store';
import { ENTITIES } from '../../shared/mapping/field-names';
import { decodeIntegrationLogItem, type IntegrationLogEntry } from '../../shared/store/integration-log';
import { listRecords, type StoredRecord } from '../../shared/store/records';
import { PATIENT_FLAG_EVENTS } from '../../shared/ingest/ingest-message';
import { LOCAL_CREDENTIALS, signRequest } from '../../shared/http/sigv4';
import { mintConnectLink } from '../../shared/oauth/connect-link-key';
import { getChange } from '../../shared/write-back/change-store';
import { registerTeam } from '../../shared/teams/register-team';
import { getTeamItem, listTeamItems } from '../../shared/teams/team-store';
import { compare, project, type Divergence, type Json, type SandboxData, type StoredView } from './model';
import { isFault, type Op } from './operations';

/**
 * Runs one generated history against the real local platform and checks convergence:
 *
 *   fresh practice (sandbox reset) + fresh team (real OAuth connect, connect backfill)
 *   → ops and faults
 *   → faults stop → settle: advance the platform clock through the schedules (token refresh, webhook retries,
 *     SQS visibility/delay, one reconcile period, reconcile) until nothing is pending
 *   → check: records == projection(sandbox state); queues drained; every DLQ message and every accepted
 *     delivery has an integration log entry.
 *
 * The clock is the platform's process clock (POST /_local/clock): handlers, fauxqs and the sandbox all read
 * it, so a 7-hour webhook retry or a message deferred to the next hour costs no real time.
 */
export const SYNCED_EVENTS = ['PATIENT_CREATE', 'PATIENT_MODIFY', 'APPOINTMENT_CREATE', 'APPOINTMENT_MODIFY', 'APPOINTMENT_DELETE', ...PATIENT_FLAG_EVENTS];
/** Doctors are refreshed by reconcile once a day (shared/reconcile/reconcile-team.ts DOCTOR_REFRESH_HOURS). */
const DOCTOR_REFRESH_HOURS = 24;
/** The reconcile schedule (lib/: hourly). */
const RECONCILE_PERIOD_HOURS = 1;
const MAX_SETTLE_ROUNDS = 80;
/** A fresh practice and team at least this often (a fresh one costs ~10 s: the connect backfill). */
export const FRESH_EVERY = 50;

export interface SequenceResult {
  ops: number;
  faults: Record<string, number>;
  /** The app's write requests by method and answer (`PATCH 202`, `POST 400`, ...) and its changes' outcomes (`outcome applied`). */
  appRequests: Record<string, number>;
  appChanges: number;
  divergences: Divergence[];
  ms: number;
  teamId: string;
  /** Clock time the settle had to move through, seconds. */
  settledSeconds: number;
}

interface Clients {
  ddb: DynamoDBDocumentClient;
  sqs: SQSClient;
  secrets: SecretsManagerClient;
}

const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };

async function http<T = unknown>(method: string, url: string, body?: unknown, expect?: number[]): Promise<{ status: number; body: T }> {
  const res = await fetch(url, {
    method,
    ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
  });
  const text = await res.text();
  if (expect && !expect.includes(res.status)) throw new Error(`${method} ${new URL(url).pathname} answered ${res.status}`);
  let parsed: unknown = text;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    /* text */
  }
  return { status: res.status, body: parsed as T };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class ConvergenceHarness {
  private readonly c: Clients;
  /** Harness-side fault state for the current sequence. */
  private dropLeft = 0;
  private holdLeft = 0;
  private reauth = false;
  private deletedPatients: number[] = [];
  private team: { teamId: string; clientId: string; clientSecret: string; webhookSecret: string } | undefined;
  private faultCounts: Record<string, number> = {};
  private sequencesOnTeam = 0;
  private needsFresh = false;
  private doctorEdited = false;
  private profileRenamed = false;
  /** The deletion check runs once a day per team (shared/reconcile/deletion-check.ts). */
  private patientDeleted = false;
  /**
   * A flag change moves no updated_at (the sandbox's reading), so one whose webhook was dropped is brought in by
   * the daily check's verbose re-read, not by reconcile's window.
   */
  private flagChanged = false;
  /** This sequence's first sandbox delivery id and the clock time its log entries start from. */
  private firstDelivery = 0;
  private logFrom = '';
  /** App-side changes the write API accepted (202) in this sequence, and what became of the app's requests. */
  private appChanges: { changeId: string; op: string }[] = [];
  private appCounts: Record<string, number> = {};
  /** App requests the write API answered 503 while faults were on: the app sends them again once things recover. */
  private retryLater: { op: string; method: string; path: string; body: unknown; ifMatch: string | undefined }[] = [];

  constructor(readonly info: PlatformInfo) {
    const region = info.region;
    this.c = {
      ddb: DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: info.endpoints.dynamodb, region, credentials }), {
        marshallOptions: { removeUndefinedValues: true },
      }),
      sqs: new SQSClient({ endpoint: info.endpoints.sqs, region, credentials, useQueueUrlAsEndpoint: false }),
      secrets: new SecretsManagerClient({ endpoint: info.endpoints.secretsManager, region, credentials }),
    };
  }

  private debugT0 = Date.now();
  private debug(line: string): void {
    if (process.env.CONVERGENCE_DEBUG) console.log(`[convergence]   +${Date.now() - this.debugT0} ms ${line}`);
  }

  close(): void {
    this.c.ddb.destroy();
    this.c.sqs.destroy();
    this.c.secrets.destroy();
  }

  private sandbox(path: string): string {
    if (!this.info.sandboxUrl) throw new Error('the local platform runs without the DrChrono sandbox');
    return `${this.info.sandboxUrl}/_sandbox${path}`;
  }

  private local(path: string): string {
    return `${this.info.apiBaseUrl}/_local${path}`;
  }

  async advanceClock(seconds: number): Promise<void> {
    await http('POST', this.local('/clock'), { advanceSeconds: seconds }, [200]);
  }

  async runScheduled(fn: 'token-refresh' | 'reconcile'): Promise<void> {
    // A run that throws (e.g. a throttled scan) is retried by the next tick, as EventBridge would.
    await http('POST', this.local(`/run/${fn}`), undefined);
  }

  // ------------------------------------------------------------------ setup

  /** Disables every connected team, so schedules fan out to this sequence's team only. */
  async retireOtherTeams(): Promise<void> {
    const teams = await listTeamItems(this.c.ddb, this.info.resources.teamsTable);
    for (const t of teams) if (t.status !== 'disabled') await this.disableTeam(t.teamId);
  }

  private async disableTeam(teamId: string): Promise<void> {
    await this.c.ddb.send(
      new UpdateCommand({
        TableName: this.info.resources.teamsTable,
        Key: { pk: teamId, sk: 'TEAM' },
        UpdateExpression: 'SET #s = :d REMOVE tokenExpiresAt, refreshPartition',
        ExpressionAttributeNames: { '#s': 'status' },
        ExpressionAttributeValues: { ':d': 'disabled' },
      }),
    );
  }

  /**
   * A fresh practice (sandbox reset) and a fresh team connected through the real OAuth flow, with its connect
   * backfill completed. Costs about 10 s of real time (the backfill's bulk-list polls), so sequences share it:
   * see runSequence.
   */
  async fresh(): Promise<void> {
    if (this.team) await this.disableTeam(this.team!.teamId);
    this.reauth = false;
    this.deletedPatients = [];
    this.sequencesOnTeam = 0;
    await http('DELETE', this.local('/faults'), undefined, [200]);
    await http('DELETE', this.sandbox('/faults'), undefined, [200]);
    await http('POST', this.sandbox('/reset'), { seed: true }, [200]);
    // Leftovers of earlier teams (other suites sharing the platform, or the previous practice) are not this
    // test's to account for: their teams are retired and their messages purged.
    await this.retireOtherTeams();
    for (const fn of ['sync', 'backfill', 'write-back']) await http('POST', this.local(`/pollers/${fn}/resume`), undefined, [200]);
    const q = this.info.queueUrls;
    for (const url of [q.ingest, q.backfill, q.writeBack, q.ingestDlq, q.backfillDlq, q.writeBackDlq]) await this.c.sqs.send(new PurgeQueueCommand({ QueueUrl: url }));
    await this.waitFor(async () => (await this.workState()).inFlight === 0, 'pollers to finish leftover batches');

    const clientId = `cv-${randomBytes(6).toString('hex')}`;
    const clientSecret = randomBytes(16).toString('hex');
    await http('POST', this.sandbox('/apps'), { clientId, clientSecret, redirectUris: [this.info.oauthRedirectUri] }, [201]);
    const teamId = randomUUID();
    const { webhookSecret } = await registerTeam(
      // Write-back on: the connect link asks for the write scopes, so the app-side ops can write (docs/write-back.md).
      { teamId, clientId, clientSecret, writeBack: true },
      { ddb: this.c.ddb, secrets: this.c.secrets, teamsTable: this.info.resources.teamsTable, teamSecretPrefix: this.info.resources.teamSecretPrefix },
    );
    this.team = { teamId, clientId, clientSecret, webhookSecret };
    await http('PUT', this.sandbox(`/apps/${clientId}/webhook`), {
      callbackUrl: `${this.info.apiBaseUrl}/drchronowebhook/${teamId}`,
      secretToken: webhookSecret,
      events: SYNCED_EVENTS,
      active: true,
      verboseObjects: true,
    }, [200]);
    const verified = await http<{ ok: boolean }>('POST', this.sandbox(`/apps/${clientId}/webhook/verify`), undefined, [200]);
    if (!verified.body.ok) throw new Error('webhook verification failed');
    await this.connect();
    await this.waitForBackfill();
  }

  /**
   * Until the team's backfill (connect or reconnect) has completed: drain, and while it is still running or
   * paused with nothing on the queues (waiting for its pause, or stalled after its work item died), move the
   * clock an hour and run the reconcile tick, which is the backfill's watchdog.
   */
  private async waitForBackfill(): Promise<void> {
    for (let hour = 0; ; hour++) {
      await this.drainQueues();
      const job = await getBackfillJob(this.c.ddb, this.info.resources.teamsTable, this.team!.teamId);
      if (!job || job.status === 'completed') return;
      if (hour >= 6) throw new Error(`backfill still ${job.status} after ${hour} hours`);
      await this.advanceClock(3600 + 60);
      await this.runScheduled('token-refresh');
      await this.runScheduled('reconcile');
    }
  }

  /** Per sequence: faults and quirks off, DLQs empty, and note where this sequence's deliveries and log begin. */
  private async begin(): Promise<void> {
    this.dropLeft = 0;
    this.holdLeft = 0;
    this.faultCounts = {};
    this.appChanges = [];
    this.appCounts = {};
    this.retryLater = [];
    for (const q of [this.info.queueUrls.ingestDlq, this.info.queueUrls.backfillDlq, this.info.queueUrls.writeBackDlq]) await this.c.sqs.send(new PurgeQueueCommand({ QueueUrl: q }));
    const deliveries = await this.deliveries();
    this.firstDelivery = deliveries.reduce((n, d) => Math.max(n, Number(d.id)), 0) + 1;
    this.logFrom = new Date(Date.parse((await http<{ now: string }>('GET', this.local('/clock'), undefined, [200])).body.now) - 1000).toISOString();
  }

  private async deliveries(): Promise<{ id: string; event: string; status: string; attempts: { ok: boolean }[] }[]> {
    return (await http<{ id: string; event: string; status: string; attempts: { ok: boolean }[] }[]>('GET', this.sandbox(`/deliveries?clientId=${this.team!.clientId}`), undefined, [200])).body;
  }

  /** The real OAuth flow: authorize → the sandbox user approves → callback (with the state cookie). */
  private async connect(tolerated: number[] = []): Promise<boolean> {
    // A signed connect link, as `team connect-link` prints it (shared/oauth/connect-link.ts), dated by the platform's
    // clock: the harness moves it days ahead, and the oauth function checks the link's expiry against it.
    const platformNow = new Date((await http<{ now: string }>('GET', this.local('/clock'), undefined, [200])).body.now);
    const link = await mintConnectLink(this.c.secrets, this.info.resources.connectLinkKeySecret, this.info.apiBaseUrl, this.team!.teamId, { now: platformNow });
    const auth = await fetch(link.url, { redirect: 'manual' });
    await auth.text();
    const location = auth.headers.get('location');
    if (auth.status !== 302 || !location) throw new Error(`authorize answered ${auth.status}`);
    const cookie = auth.headers.get('set-cookie')?.split(';')[0];
    const approved = await http<{ location: string }>('POST', this.sandbox('/oauth/approve'), { url: location, decision: 'approve' }, [200]);
    const cb = await fetch(approved.body.location, { redirect: 'manual', headers: cookie ? { cookie } : {} });
    await cb.text();
    if (cb.status === 200) return true;
    if (tolerated.includes(cb.status)) return false;
    throw new Error(`callback answered ${cb.status}`);
  }

  private async waitFor(probe: () => Promise<boolean>, what: string, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await probe())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await sleep(50);
    }
  }

  // ------------------------------------------------------------------ operations

  private async data(): Promise<SandboxData> {
    return (await http<SandboxData>('GET', this.sandbox('/data'), undefined, [200])).body;
  }

  private count(kind: string): void {
    this.faultCounts[kind] = (this.faultCounts[kind] ?? 0) + 1;
  }

  /** Around a data change: the harness-side webhook faults (drop, hold for reordering). */
  private async change(fn: () => Promise<unknown>): Promise<void> {
    const hooks = this.sandbox(`/apps/${this.team!.clientId}/webhook`);
    const dropping = this.dropLeft > 0;
    if (dropping) await http('PATCH', hooks, { active: false }, [200]);
    try {
      await fn();
    } finally {
      if (dropping) {
        this.dropLeft--;
        await http('PATCH', hooks, { active: true }, [200]);
      }
    }
    if (this.holdLeft > 0 && --this.holdLeft === 0) await http('POST', `${hooks}/release`, { order: 'reverse' }, [200]);
  }

  async apply(op: Op): Promise<void> {
    if (isFault(op)) this.count(op.k);
    // Only ops that pick an existing object need the practice's current state.
    const needsData = !isFault(op) && op.k !== 'patientCreate' && op.k !== 'breakCreate';
    const d = needsData ? await this.data() : { doctors: [], profiles: [], flagTypes: [], patients: [], appointments: [] };
    const live = d.patients;
    const appts = d.appointments.filter((a) => a.appt_is_break !== true && a.deleted_flag !== true);
    const pick = <T>(list: T[], i: number): T | undefined => (list.length === 0 ? undefined : list[i % list.length]);
    const hooks = this.sandbox(`/apps/${this.team!.clientId}`);
    const ok = [200, 201, 204];
    switch (op.k) {
      case 'patientCreate':
        return this.change(() => http('POST', this.sandbox('/patients'), op.f, ok));
      case 'patientModify': {
        const p = pick(live, op.p);
        if (p) await this.change(() => http('PATCH', this.sandbox(`/patients/${String(p.id)}`), op.f, ok));
        return;
      }
      case 'chartIdChange': {
        const p = pick(live, op.p);
        if (p) await this.change(() => http('PATCH', this.sandbox(`/patients/${String(p.id)}`), { chart_id: op.chart }, ok));
        return;
      }
      case 'patientDelete': {
        const p = pick(live, op.p);
        if (!p) return;
        this.deletedPatients.push(p.id as number);
        this.patientDeleted = true;
        return this.change(() => http('DELETE', this.sandbox(`/patients/${String(p.id)}`), undefined, ok));
      }
      case 'flagSet': {
        const p = pick(live, op.p);
        if (!p) return;
        const attached = op.flags.map((f, i) => ({ id: 99000 + i, flag_type: f.type, flag_text: f.text, archived: false, created_at: '2026-01-01T00:00:00', updated_at: '2026-01-01T00:00:00' }));
        const types = d.flagTypes.filter((t) => op.flags.some((f) => f.type === t.id));
        return this.change(() => http('PATCH', this.sandbox(`/patients/${String(p.id)}`), { patient_flags_attached: attached, patient_flags: types }, ok));
      }
      case 'flagEdit': {
        this.flagChanged = true;
        // The sandbox's flag endpoints fire PATIENT_FLAG_CREATE / _CMODIFY, as DrChrono does.
        const p = pick(live, op.p);
        if (!p) return;
        const flags = ((p.patient_flags_attached as Json[] | undefined) ?? []).filter((f) => f.archived !== true);
        const flag = pick(flags, op.f);
        const base = this.sandbox(`/patients/${String(p.id)}/flags`);
        if (op.action === 'attach' || !flag) return this.change(() => http('POST', base, { flag_type: op.type, flag_text: op.text }, ok));
        if (op.action === 'change') return this.change(() => http('PATCH', `${base}/${String(flag.id)}`, { flag_type: op.type, flag_text: op.text }, ok));
        return this.change(() => http('DELETE', `${base}/${String(flag.id)}`, undefined, ok));
      }
      case 'apptCreate': {
        const p = pick(live, op.p);
        if (p) await this.change(() => http('POST', this.sandbox('/appointments'), { ...op.f, patient: p.id }, ok));
        return;
      }
      case 'apptModify': {
        const a = pick(appts, op.a);
        if (a) await this.change(() => http('PATCH', this.sandbox(`/appointments/${String(a.id)}`), op.f, ok));
        return;
      }
      case 'apptMove': {
        const a = pick(appts, op.a);
        const p = pick(live, op.p);
        if (a && p) await this.change(() => http('PATCH', this.sandbox(`/appointments/${String(a.id)}`), { patient: p.id }, ok));
        return;
      }
      case 'apptDelete': {
        const a = pick(appts, op.a);
        if (a) await this.change(() => http('DELETE', this.sandbox(`/appointments/${String(a.id)}`), undefined, ok));
        return;
      }
      case 'breakCreate':
        return this.change(() => http('POST', this.sandbox('/appointments'), { patient: null, appt_is_break: true, profile: null, reason: 'Break', duration: op.minutes }, ok));
      case 'doctorEdit': {
        const doc = pick(d.doctors, op.d);
        if (doc) await http('PATCH', this.sandbox(`/doctors/${String(doc.id)}`), op.f, [200]);
        this.doctorEdited = true;
        return;
      }
      case 'profileRename': {
        const pr = pick(d.profiles, op.pr);
        if (pr) await http('PATCH', this.sandbox(`/appointment_profiles/${String(pr.id)}`), { name: op.name }, [200]);
        // No webhook either: reconcile's daily name refresh relabels the appointments (renamed-names.ts).
        this.profileRenamed = true;
        return;
      }
      case 'appPatientUpdate': {
        const p = pick(live.filter((x) => typeof x.chart_id === 'string' && x.chart_id !== ''), op.p);
        if (p) await this.appWrite(op.k, 'PATCH', `/patients/${encodeURIComponent(String(p.chart_id))}`, op.f, op.withBase);
        return;
      }
      case 'appPatientCreate':
        // PUT upserts by Chart ID: a new one creates the patient (Primary Provider and Sex are what DrChrono requires).
        return this.appWrite(op.k, 'PUT', `/patients/APP-${op.n}`, { ...op.f, 'Primary Provider': String(op.doctor), Sex: op.sex }, false);
      case 'appApptCreate': {
        const p = pick(live.filter((x) => typeof x.chart_id === 'string' && x.chart_id !== ''), op.p);
        if (!p) return;
        // An overlap takes the slot of one of the provider's appointments: DrChrono answers 409, the change is rejected.
        const taken = op.overlap ? appts.find((a) => a.doctor === op.doctor) : undefined;
        const when = taken ? String(taken.scheduled_time).slice(0, 16) : op.f['Date of Service'] ?? '2026-12-15T09:30';
        const body = { ...op.f, Patient: String(p.chart_id), Provider: String(op.doctor), 'Date of Service': when, Duration: op.f.Duration ?? 30 };
        return this.appWrite(op.k, 'POST', '/appointments', body, false);
      }
      case 'appApptUpdate': {
        const a = pick(appts, op.a);
        if (a) await this.appWrite(op.k, 'PATCH', `/appointments/${encodeURIComponent(String(a.id))}`, op.f, op.withBase);
        return;
      }
      case 'appApptDelete': {
        const a = pick(appts, op.a);
        if (a) await this.appWrite(op.k, 'DELETE', `/appointments/${encodeURIComponent(String(a.id))}`, undefined, false);
        return;
      }
      case 'writeQueueFailure':
        await this.awsFault('sqs', ['SendMessage'], this.queueName(this.info.queueUrls.writeBack), '500', op.count);
        return;
      case 'webhookDrop':
        this.dropLeft += op.n;
        return;
      case 'webhookReorder':
        if (this.holdLeft === 0) await http('POST', `${hooks}/webhook/quirks`, { holding: true }, [200]);
        this.holdLeft = Math.max(this.holdLeft, op.n);
        return;
      case 'webhookDuplicate':
        await http('POST', `${hooks}/webhook/quirks`, { duplicateNext: op.n }, [200]);
        return;
      case 'webhookRedeliverLater': {
        const deliveries = (await http<{ id: string; status: string }[]>('GET', this.sandbox(`/deliveries?clientId=${this.team!.clientId}`), undefined, [200])).body.filter(
          (x) => x.status !== 'held',
        );
        const old = pick(deliveries, op.d);
        if (!old) return;
        await this.advanceClock(op.hours * 3600);
        await http('POST', this.sandbox(`/deliveries/${old.id}/redeliver`), undefined, [200]);
        return;
      }
      case 'apiServerError':
        await http('POST', this.sandbox('/faults'), { path: op.path, kind: op.status, count: op.count }, [201]);
        return;
      case 'apiRateLimited':
        await http('POST', this.sandbox('/faults'), { path: op.path, kind: '429', count: op.count }, [201]);
        return;
      case 'apiTimeout':
        await http('POST', this.sandbox('/faults'), { path: op.path, kind: 'timeout', count: 1 }, [201]);
        return;
      case 'tokenExpire':
        await http('POST', this.sandbox('/tokens/expire'), { clientId: this.team!.clientId }, [200]);
        return;
      case 'ingestSqsFailure':
        await this.awsFault('sqs', ['SendMessage', 'SendMessageBatch'], this.queueName(this.info.queueUrls.ingest), op.kind, op.count);
        return;
      case 'recordsWriteThrottle':
        await this.awsFault('dynamodb', ['PutItem', 'UpdateItem', 'TransactWriteItems', 'BatchWriteItem'], this.info.resources.recordsTable, op.kind, op.count);
        return;
      case 'logWriteThrottle':
        await this.awsFault('dynamodb', ['PutItem', 'BatchWriteItem'], this.info.resources.integrationLogTable, op.kind, op.count);
        return;
      case 'reauthForDays':
        // The practice revokes the app; the next refresh gets invalid_grant → reauthorization_required. The
        // team stays disconnected for `days` (clock), then connects again in settle.
        await http('POST', this.sandbox('/tokens/revoke'), { clientId: this.team!.clientId }, [200]);
        await this.runScheduled('token-refresh');
        await this.advanceClock(op.days * 86_400);
        this.reauth = true;
        return;
      case 'refreshDuringReconnect': {
        await http('POST', this.sandbox('/tokens/expire'), { clientId: this.team!.clientId }, [200]);
        // The admin's reconnect may fail while faults are active (a DrChrono 5xx on /o/token/ → 502 page) or while
        // the refresher holds the token lease (503 "try again"): the clinic would simply retry. It must never
        // leave the team worse off, which the settle and the checks prove.
        const [connected] = await Promise.all([this.connect([502, 503]), this.runScheduled('token-refresh')]);
        if (!connected) this.count('reconnectRefused');
        return;
      }
      case 'budgetExhausted': {
        const rl = (await http<{ calls: number }>('GET', `${hooks}/rate-limit`, undefined, [200])).body;
        await http('PATCH', hooks, { hourlyBudget: rl.calls }, [200]);
        return;
      }
      case 'clockJump':
        await this.advanceClock(op.minutes * 60);
        return;
    }
  }

  /** One signed request to the write API, as an app sends it (shared/http/sigv4.ts, the local key pair). */
  private async appRequest(method: string, path: string, body?: unknown, ifMatch?: string): Promise<{ status: number; body: Json; etag: string | null }> {
    const url = `${this.info.apiBaseUrl}/teams/${this.team!.teamId}${path}`;
    const text = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string> = { ...(text === undefined ? {} : { 'content-type': 'application/json' }), ...(ifMatch ? { 'if-match': ifMatch } : {}) };
    // Signed at the platform's clock: the harness moves it days ahead, and the local API checks x-amz-date against it
    // (within 15 minutes, as API Gateway does), as an app's clock agrees with AWS's.
    const now = new Date((await http<{ now: string }>('GET', this.local('/clock'), undefined, [200])).body.now);
    const signed = await signRequest({ method, url, headers, ...(text === undefined ? {} : { body: text }) }, { credentials: LOCAL_CREDENTIALS, region: this.info.region, now });
    const { host: _host, ...send } = signed;
    const res = await fetch(url, { method, headers: send, ...(text === undefined ? {} : { body: text }) });
    const raw = await res.text();
    let parsed: Json = {};
    try {
      parsed = raw === '' ? {} : (JSON.parse(raw) as Json);
    } catch {
      parsed = {};
    }
    return { status: res.status, body: parsed, etag: res.headers.get('etag') };
  }

  /**
   * An app-side change. With a base version the app first reads the record (its ETag) and sends it as If-Match,
   * so a DrChrono-side change in between ends `conflict`. A 503 (the queue refused the message) is what an app
   * retries; the 400s and 404s it gets for changes the records cannot take (a Chart ID no record has yet, a label a
   * hostile value breaks) are counted, not checked: nothing was accepted.
   */
  private async appWrite(op: string, method: string, path: string, body: unknown, withBase: boolean): Promise<void> {
    let ifMatch: string | undefined;
    if (withBase) {
      const read = await this.appRequest('GET', path);
      if (read.status === 200 && read.etag) ifMatch = read.etag;
    }
    await this.sendAppWrite(op, method, path, body, ifMatch, false);
  }

  /** Sends one app change; a 503 is retried a few times, then (while faults may be on) kept for the settle. */
  private async sendAppWrite(op: string, method: string, path: string, body: unknown, ifMatch: string | undefined, settling: boolean): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      const res = await this.appRequest(method, path, body, ifMatch);
      this.appCounts[`${method} ${res.status}`] = (this.appCounts[`${method} ${res.status}`] ?? 0) + 1;
      if (process.env.CONVERGENCE_DEBUG && res.status >= 400) console.log(`[convergence] app ${method} ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`);
      if (res.status === 202 && typeof res.body.changeId === 'string') {
        this.appChanges.push({ changeId: res.body.changeId, op });
        return true;
      }
      if (res.status === 503 && attempt < 3) continue;
      if (res.status === 503 && !settling) {
        this.retryLater.push({ op, method, path, body, ifMatch });
        return true;
      }
      if (res.status === 503) return false;
      if (res.status >= 500) throw new Error(`write API answered ${res.status} to ${method} (attempt ${attempt})`);
      return true;
    }
  }

  /**
   * The app's refused requests, sent again once faults have stopped: each may take a token refresh or the next
   * hour's budget first (the 503's Retry-After), so the clock moves between rounds, as the app's backoff would.
   */
  private async resendAppWrites(): Promise<void> {
    for (let round = 0; this.retryLater.length > 0; round++) {
      if (round >= 4) throw new Error(`write API still answered 503 to ${this.retryLater.length} app change(s) after faults stopped`);
      const waiting = this.retryLater;
      this.retryLater = [];
      for (const w of waiting) if (!(await this.sendAppWrite(w.op, w.method, w.path, w.body, w.ifMatch, true))) this.retryLater.push(w);
      if (this.retryLater.length === 0) break;
      await this.runScheduled('token-refresh');
      await this.advanceClock(round < 2 ? 60 : 3600);
    }
  }

  private queueName(url: string): string {
    return url.slice(url.lastIndexOf('/') + 1);
  }

  private async awsFault(service: 'sqs' | 'dynamodb', operations: string[], resource: string, kind: string, count: number): Promise<void> {
    await http('POST', this.local('/faults'), { service, operations, resource, kind, count }, [201]);
  }

  // ------------------------------------------------------------------ settle

  private async queueDepth(url: string): Promise<{ visible: number; waiting: number }> {
    const out = await this.c.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: url,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'],
      }),
    );
    const a = out.Attributes ?? {};
    return { visible: Number(a.ApproximateNumberOfMessages ?? 0), waiting: Number(a.ApproximateNumberOfMessagesNotVisible ?? 0) + Number(a.ApproximateNumberOfMessagesDelayed ?? 0) };
  }

  /** Messages on the work queues, and how many of them a poller holds right now (being processed). */
  private async workState(): Promise<{ visible: number; waiting: number; inFlight: number }> {
    const [ingest, backfill, writeBack, pollers] = await Promise.all([
      this.queueDepth(this.info.queueUrls.ingest),
      this.queueDepth(this.info.queueUrls.backfill),
      this.queueDepth(this.info.queueUrls.writeBack),
      http<{ pollers: { fn: string; inFlight?: number }[] }>('GET', this.local('/pollers'), undefined, [200]),
    ]);
    const inFlight = pollers.body.pollers.filter((p) => p.fn === 'sync' || p.fn === 'backfill' || p.fn === 'write-back').reduce((n, p) => n + (p.inFlight ?? 0), 0);
    return { visible: ingest.visible + backfill.visible + writeBack.visible, waiting: ingest.waiting + backfill.waiting + writeBack.waiting, inFlight };
  }

  private async pendingWork(): Promise<number> {
    const w = await this.workState();
    return w.visible + w.waiting;
  }

  /**
   * Until both work queues are empty. Visible messages and messages a poller holds are being worked on: wait
   * (real time, milliseconds). When the only messages left are invisible or delayed and no poller holds one
   * (seen twice, to step over the instant between SQS handing a message out and the poller counting it), they
   * wait for time: visibility timeouts, deferrals to the next hour, backoff. Move the clock 5 minutes, catch
   * the sandbox's webhook retries up and run the token refresh, as the schedules would.
   */
  async drainQueues(maxAdvances = MAX_SETTLE_ROUNDS): Promise<{ advancedSeconds: number }> {
    let advanced = 0;
    let idleSeen = 0;
    let busySince = 0;
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline) {
      await http('POST', this.sandbox('/idle'), undefined, [200]);
      const w = await this.workState();
      if (w.visible + w.waiting + w.inFlight === 0) return { advancedSeconds: advanced };
      if (w.visible > 0 || w.inFlight > 0) {
        idleSeen = 0;
        busySince ||= Date.now();
        // A poller gathering a batch waits out its batching window (1 s for ingest) by the clock: move it on.
        if (Date.now() - busySince > 60) {
          await this.advanceClock(1);
          advanced += 1;
          busySince = Date.now();
        }
        await sleep(10);
        continue;
      }
      busySince = 0;
      if (++idleSeen < 2) {
        await sleep(30);
        continue;
      }
      idleSeen = 0;
      if (advanced >= maxAdvances * 300) break;
      this.debug(`drain: advancing clock (waiting ${w.waiting})`);
      await this.advanceClock(300);
      advanced += 300;
      await http('POST', this.sandbox('/retries/run'), undefined, [200]);
      await this.runScheduled('token-refresh');
    }
    const w = await this.workState();
    throw new Error(`work queues not drained (clock moved ${advanced} s; visible ${w.visible}, waiting ${w.waiting}, in flight ${w.inFlight})`);
  }

  /** Faults stop; then the clock moves through the schedules until nothing is pending. */
  async settle(): Promise<number> {
    const started = await this.clockSeconds();
    this.debugT0 = Date.now();
    const app = this.sandbox(`/apps/${this.team!.clientId}`);
    await http('DELETE', this.sandbox('/faults'), undefined, [200]);
    await http('DELETE', this.local('/faults'), undefined, [200]);
    await http('POST', `${app}/webhook/quirks`, { duplicateNext: 0, holding: false }, [200]);
    await http('POST', `${app}/webhook/release`, { order: 'reverse' }, [200]);
    await http('PATCH', `${app}/webhook`, { active: true }, [200]);
    await http('PATCH', app, { hourlyBudget: 500 }, [200]);
    this.dropLeft = this.holdLeft = 0;
    // A reconnect that failed under faults may have cost the team its tokens (DrChrono kills a user's earlier
    // tokens on a new grant): the refresher then says reauthorization_required, and the clinic reconnects.
    if (!this.reauth) {
      await this.runScheduled('token-refresh');
      if ((await this.teamStatus()) !== 'connected') this.reauth = true;
    }
    if (this.reauth) {
      await this.connect();
      this.reauth = false;
    }
    await this.waitForBackfill();
    await this.resendAppWrites();
    await this.drainQueues();
    this.debug('settle: first drain done');
    // DrChrono's own webhook retries (1 h, 3 h, 7 h after the event) land within 8 hours.
    for (let h = 0; h < 8; h++) {
      const left = (await http<{ pendingRetries: number }>('POST', this.sandbox('/retries/run'), undefined, [200])).body.pendingRetries;
      if (left === 0) break;
      await this.advanceClock(3600);
      await this.runScheduled('token-refresh');
      await this.drainQueues();
    }
    this.debug('settle: retries done');
    // One reconcile period after the faults stopped, then the hourly tick (reconcile, and the deletion check
    // when due). A day after a doctor edit or a patient deletion: doctors have no webhooks and reconcile refreshes
    // them daily; deleted patients send none and the deletion check runs daily.
    const daily = this.doctorEdited || this.patientDeleted || this.flagChanged || this.profileRenamed;
    await this.advanceClock((daily ? DOCTOR_REFRESH_HOURS : RECONCILE_PERIOD_HOURS) * 3600 + 60);
    this.doctorEdited = this.patientDeleted = this.flagChanged = this.profileRenamed = false;
    await this.runScheduled('token-refresh');
    await this.drainQueues();
    this.debug('settle: refresh done');
    await this.runScheduled('reconcile');
    this.debug('settle: reconcile run');
    await this.drainQueues();
    this.debug('settle: reconcile drained');
    return (await this.clockSeconds()) - started;
  }

  private async clockSeconds(): Promise<number> {
    return Date.parse((await http<{ now: string }>('GET', this.local('/clock'), undefined, [200])).body.now) / 1000;
  }

  // ------------------------------------------------------------------ check

  private async storedRecords(): Promise<StoredView[]> {
    const out: StoredView[] = [];
    for (const entity of ENTITIES) {
      let startKey: Record<string, unknown> | undefined;
      do {
        const page = await listRecords(this.c.ddb, this.info.resources.recordsTable, this.team!.teamId, entity, { limit: 200, ...(startKey ? { startKey } : {}) });
        for (const r of page.records as StoredRecord[]) out.push({ entity, id: r.drchronoId, deleted: r.deleted, fields: r.fields });
        startKey = page.nextKey;
      } while (startKey);
    }
    return out;
  }

  private async dlqMessages(url: string): Promise<Json[]> {
    const bodies: Json[] = [];
    for (;;) {
      const out = await this.c.sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, VisibilityTimeout: 600, WaitTimeSeconds: 0 }));
      const msgs = out.Messages ?? [];
      if (msgs.length === 0) return bodies;
      for (const m of msgs) {
        try {
          bodies.push(JSON.parse(m.Body ?? '{}') as Json);
        } catch {
          bodies.push({ unparsable: true });
        }
      }
      await this.c.sqs.send(new DeleteMessageBatchCommand({ QueueUrl: url, Entries: msgs.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })) }));
    }
  }

  /** The team's log entries from groups written at or after `fromIso` (sk starts with the group's ISO time). */
  private async logSince(fromIso: string): Promise<IntegrationLogEntry[]> {
    const out: IntegrationLogEntry[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.c.ddb.send(
        new QueryCommand({
          TableName: this.info.resources.integrationLogTable,
          KeyConditionExpression: 'pk = :pk AND sk >= :from',
          ExpressionAttributeValues: { ':pk': this.team!.teamId, ':from': fromIso },
          ExclusiveStartKey: start,
        }),
      );
      for (const item of page.Items ?? []) out.push(...(decodeIntegrationLogItem(item) ?? []));
      start = page.LastEvaluatedKey;
    } while (start);
    return out;
  }

  async check(): Promise<Divergence[]> {
    const data = await this.data();
    const divergences = compare(project(data, this.deletedPatients), await this.storedRecords());

    const pending = await this.pendingWork();
    if (pending > 0) divergences.push({ kind: 'queue', detail: `${pending} messages still on the work queues` });

    const log = await this.logSince(this.logFrom);
    const logged = new Map<string, IntegrationLogEntry[]>();
    for (const e of log) if (e.deliveryId) logged.set(e.deliveryId, [...(logged.get(e.deliveryId) ?? []), e]);

    // Every message a DLQ holds for this team has a log entry saying why.
    for (const url of [this.info.queueUrls.ingestDlq, this.info.queueUrls.backfillDlq]) {
      for (const m of await this.dlqMessages(url)) {
        if (m.teamId !== this.team!.teamId) continue;
        const id = typeof m.deliveryId === 'string' ? m.deliveryId : undefined;
        if (!id || !(logged.get(id) ?? []).some((e) => e.outcome === 'failed')) {
          divergences.push({ kind: 'dlq', id: id ?? String(m.type ?? 'work item'), detail: `in ${this.queueName(url)} without a failed log entry` });
        }
      }
    }

    // Every app change the write API accepted ended applied, rejected or conflict, with an outbound log entry saying so.
    const outbound = new Map<string, IntegrationLogEntry[]>();
    for (const e of log) if (e.direction === 'outbound' && e.changeId) outbound.set(e.changeId, [...(outbound.get(e.changeId) ?? []), e]);
    for (const c of this.appChanges) {
      const item = await getChange(this.c.ddb, this.info.resources.teamsTable, this.team!.teamId, c.changeId);
      const status = item?.status ?? 'missing';
      this.appCounts[`outcome ${status}`] = (this.appCounts[`outcome ${status}`] ?? 0) + 1;
      if (status !== 'applied' && status !== 'rejected' && status !== 'conflict') {
        divergences.push({ kind: 'change', id: c.changeId, detail: `${c.op}: ${status}${item?.reason ? ` (${item.reason})` : ''}` });
        continue;
      }
      if (!(outbound.get(c.changeId) ?? []).some((e) => e.outcome === status)) divergences.push({ kind: 'change-unlogged', id: c.changeId, detail: `${c.op}: ${status} without its log entry` });
    }
    for (const m of await this.dlqMessages(this.info.queueUrls.writeBackDlq)) {
      if (m.teamId === this.team!.teamId) divergences.push({ kind: 'dlq', id: String(m.changeId ?? 'change'), detail: 'in the write-back DLQ' });
    }

    // Every delivery we accepted (a 2xx attempt) was applied, superseded or dead-lettered: a final log entry.
    for (const d of await this.deliveries()) {
      if (Number(d.id) < this.firstDelivery || !d.attempts.some((a) => a.ok)) continue;
      const entries = logged.get(d.id) ?? [];
      if (!entries.some((e) => e.outcome !== 'deferred')) divergences.push({ kind: 'delivery-unlogged', id: d.id, detail: `${d.event}: ${entries.length} entries, none final` });
    }

    // No echo loop: our writes' webhooks came back as no-ops, so once settled another schedule round changes nothing
    // in DrChrono (no new deliveries) and queues nothing.
    if (this.appChanges.length > 0 && divergences.length === 0) {
      const before = (await this.deliveries()).length;
      await this.advanceClock(RECONCILE_PERIOD_HOURS * 3600 + 60);
      await this.runScheduled('reconcile');
      await this.drainQueues();
      const after = (await this.deliveries()).length;
      if (after !== before) divergences.push({ kind: 'echo', detail: `${after - before} new DrChrono deliveries after the app's changes settled` });
    }
    return divergences;
  }

  /** Leaves no connected team behind (schedules of later tests would fan out to it). */
  /** Leaves the shared platform as other suites expect it: our team disabled, the sandbox's seed practice back. */
  async finish(): Promise<void> {
    if (this.team) await this.disableTeam(this.team.teamId);
    // Renamed profiles, edited doctors and generated patients would otherwise leak into later suites.
    await http('POST', this.sandbox('/reset'), { seed: true }, [200]);
  }

  /**
   * One sequence. It starts from the converged state the previous sequence left (same practice, same team),
   * which keeps a sequence at about a second; a fresh practice and team are made first when there is none,
   * after any divergence (so no sequence inherits one), and every FRESH_EVERY sequences (bounding the practice's
   * growth). Setup errors throw; convergence failures come back as divergences.
   */
  async runSequence(ops: readonly Op[]): Promise<SequenceResult> {
    const t0 = Date.now();
    const phase = (name: string) => {
      if (process.env.CONVERGENCE_DEBUG) console.log(`[convergence] ${name} at ${Date.now() - t0} ms`);
    };
    if (!this.team || this.needsFresh || this.sequencesOnTeam >= FRESH_EVERY) await this.fresh();
    this.sequencesOnTeam++;
    await this.begin();
    phase('started');
    let settledSeconds = 0;
    const divergences: Divergence[] = [];
    try {
      for (const op of ops) await this.apply(op);
      phase('ops applied');
      settledSeconds = await this.settle();
      phase('settled');
    } catch (err) {
      divergences.push({ kind: 'settle', detail: err instanceof Error ? `${err.name}: ${err.message}` : 'unknown error' });
    }
    if (divergences.length === 0) divergences.push(...(await this.check()));
    phase('checked');
    this.needsFresh = divergences.length > 0;
    return { ops: ops.length, faults: { ...this.faultCounts }, appRequests: { ...this.appCounts }, appChanges: this.appChanges.length, divergences, ms: Date.now() - t0, teamId: this.team!.teamId, settledSeconds };
  }

  /** Team status, for diagnostics. */
  async teamStatus(): Promise<string | undefined> {
    return (await getTeamItem(this.c.ddb, this.info.resources.teamsTable, this.team!.teamId, true))?.status;
  }
}
