import type { CliStartSection } from './sections/cli-start';
import { FLOOR_ACCESS_LOG_BYTES, type CostLine } from './cost-model';
import { CLOUDWATCH_EVENT_OVERHEAD_BYTES } from './log-counter';
import type { CostSection, FixedMonthly, TableWrites } from './sections/cost';
import type { ColdStartFunction, ColdStartSection } from './sections/cold-start';
import type { E2eSection } from './sections/e2e-latency';
import type { RefreshSweepSection } from './sections/refresh-sweep';
import type { ScaleSection } from './sections/scale';
import type { WebhookCpuSection } from './sections/webhook-cpu';
import type { WriteBackSection } from './sections/write-back';
import { KEPT_UP_SHARE } from './scale-mix';
import type { Sizing } from './sizing';
import type { Summary } from './stats';

/** Renders the benchmark results as Markdown tables (printed, stored in latest.json, pasted into the docs). */
export interface BenchResults {
  cost?: CostSection;
  webhookCpu?: WebhookCpuSection;
  coldStart?: ColdStartSection;
  e2e?: E2eSection;
  refreshSweep?: RefreshSweepSection;
  writeBack?: WriteBackSection;
  cliStart?: CliStartSection;
  scale?: ScaleSection;
}

/** The floor's log bytes per event: one minimal access-log line (Lambda writes no line at WARN). */
const FLOOR_LOG_BYTES_PER_EVENT = FLOOR_ACCESS_LOG_BYTES + CLOUDWATCH_EVENT_OVERHEAD_BYTES;
const fmt = (v: number, digits: number): string => v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const mmm = (s: Summary, digits: number, unit = ''): [string, string] => [`${fmt(s.median, digits)}${unit}`, `${fmt(s.min, digits)} – ${fmt(s.max, digits)}${unit}`];
const kb = (bytes: number): string => `${fmt(bytes / 1024, 0)} KB`;

function table(head: string[], rows: string[][]): string {
  return [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

export function summaryTable(r: BenchResults): string {
  const rows: string[][] = [];
  if (r.cost) {
    const c = r.cost;
    rows.push(['Cost per 1M webhook events', `$${fmt(c.usdPerMillion.median, 2)}`, `$${fmt(c.usdPerMillion.min, 2)} – $${fmt(c.usdPerMillion.max, 2)}`, `$${fmt(c.floorUsdPerMillion, 2)}`, `×${fmt(c.ratioToFloor.median, 2)}`]);
    rows.push(['DynamoDB WRU per event', ...mmm(c.dynamoDbWriteUnitsPerEvent, 2), '1.00', `×${fmt(c.dynamoDbWriteUnitsPerEvent.median, 2)}`]);
    rows.push(['SQS billed requests per event', ...mmm(c.sqsRequestsPerEvent, 2), '1.20', `×${fmt(c.sqsRequestsPerEvent.median / 1.2, 2)}`]);
    rows.push(['Secrets Manager calls per event', ...mmm(c.secretsManagerCallsPerEvent, 4), '0', '–']);
    rows.push(['Events per sync invocation', ...mmm(c.eventsPerSyncInvocation, 1), '10', `×${fmt(10 / Math.max(c.eventsPerSyncInvocation.median, 1e-9), 2)} invokes`]);
    rows.push(['DrChrono calls per event', ...mmm(c.drchronoCallsPerEvent, 3), '0', '–']);
    if (c.eventsPerTeamHourWithinBudget !== null) {
      rows.push(['Webhook events per team-hour within the 500-call DrChrono budget', fmt(c.eventsPerTeamHourWithinBudget, 0), '–', '–', '–']);
    }
    for (const w of c.writesByTable ?? []) {
      if (w.table === 'records') continue;
      rows.push([`DynamoDB WRU per event, ${w.table === 'teams' ? 'team counters' : w.table} ($${fmt(w.usdPerMillion.median, 2)} per 1M)`, ...mmm(w.writeUnitsPerEvent, 3), '0', '–']);
    }
    if (c.logBytesPerEvent) {
      const perEvent = Object.values(c.logBytesPerEvent).reduce((n, b) => n + b.median, 0);
      rows.push(['CloudWatch Logs bytes ingested per event (all sources)', fmt(perEvent, 0), '–', fmt(FLOOR_LOG_BYTES_PER_EVENT, 0), `×${fmt(perEvent / FLOOR_LOG_BYTES_PER_EVENT, 2)}`]);
    }
    if (c.fixedMonthly) rows.push(['Fixed monthly cost of the stack (metrics, alarms, dashboard, X-Ray reservoir, KMS)', `$${fmt(c.fixedMonthly.usd, 2)}`, '–', '–', '–']);
    rows.push(['Largest share of a team’s hourly budget used by one run', ...mmm({ ...c.maxTeamBudgetShare, median: c.maxTeamBudgetShare.median * 100, min: c.maxTeamBudgetShare.min * 100, max: c.maxTeamBudgetShare.max * 100 }, 1, ' %'), '–', '–']);
  }
  if (r.webhookCpu) {
    const w = r.webhookCpu;
    rows.push(['Webhook handler CPU per event', ...mmm(w.handlerCpuUsPerEvent, 0, ' µs'), `${fmt(w.floorCpuUsPerEvent.median, 1)} µs`, `×${fmt(w.ratioToFloor.median, 1)}`]);
    rows.push(['Webhook handler CPU vs floor + one SDK SendMessage', ...mmm(w.handlerCpuUsPerEvent, 0, ' µs'), `${fmt(w.floorWithSendCpuUsPerEvent.median, 0)} µs`, `×${fmt(w.ratioToFloorWithSend.median, 2)}`]);
    // Ratios are medians of each run's own ratio, as for the handler: the rungs share each run's chunks.
    if (w.floorWithEnqueueCpuUsPerEvent && w.receiveCpuUsPerEvent && w.enqueueRatioToFloorWithSend && w.receiveRatioToFloorWithSend) {
      rows.push(['… of it: floor + our enqueue (ingest message checks, re-encoded body, attributes)', ...mmm(w.floorWithEnqueueCpuUsPerEvent, 0, ' µs'), `${fmt(w.floorWithSendCpuUsPerEvent.median, 0)} µs`, `×${fmt(w.enqueueRatioToFloorWithSend.median, 2)}`]);
      rows.push(['… of it: receiveWebhook without the handler (every check, then the enqueue)', ...mmm(w.receiveCpuUsPerEvent, 0, ' µs'), `${fmt(w.floorWithSendCpuUsPerEvent.median, 0)} µs`, `×${fmt(w.receiveRatioToFloorWithSend.median, 2)}`]);
    }
    rows.push(['Webhook events/s, one core, in process', ...mmm(w.handlerEventsPerSecond, 0), '–', '–']);
  }
  if (r.coldStart) {
    for (const f of r.coldStart.functions) {
      rows.push([`Bundle \`${f.fn}\``, kb(f.bundle.bytes), `(${kb(f.bundle.deflatedBytes)} deflated)`, kb(f.floor.bytes), `×${fmt(f.sizeRatio, 2)}`]);
      rows.push([`Module init \`${f.fn}\` (median of ${r.coldStart.samples})`, ...mmm(f.bundle.initMs, 0, ' ms'), `${fmt(f.floor.initMs.median, 0)} ms`, `×${fmt(f.initRatio, 2)}`]);
      for (const d of f.deferred ?? []) rows.push([`Deferred past init \`${f.fn}\`: ${d.label}`, ...mmm(d.ms, 0, ' ms'), '–', '–']);
    }
  }
  if (r.cliStart) {
    const c = r.cliStart.cases[0];
    if (c) rows.push([`Operator CLI start, ${c.name} (median of ${r.cliStart.samples})`, ...mmm(c.wallMs, 0, ' ms'), `${fmt(r.cliStart.floorMs.median, 0)} ms (\`node -e 0\`)`, `×${fmt(c.ratioToFloor, 2)}`]);
  }
  if (r.e2e) {
    const e = r.e2e;
    const label = `${e.eventsPerSecond}/s for ${e.seconds} s`;
    rows.push([`End-to-end p50, ${label}`, ...mmm(e.p50Ms, 0, ' ms'), '–', '–']);
    rows.push([`End-to-end p95, ${label}`, ...mmm(e.p95Ms, 0, ' ms'), '–', '–']);
    rows.push([`End-to-end p99, ${label}`, ...mmm(e.p99Ms, 0, ' ms'), '–', '–']);
    rows.push([`Webhook response p99, ${label}`, ...mmm(e.webhookResponseP99Ms, 0, ' ms'), '–', '–']);
  }
  if (r.refreshSweep) {
    for (const s of r.refreshSweep.sizes) {
      const ideal = Math.max(s.concurrencyBoundMs, s.pacingBoundMs);
      rows.push([
        `Token refresh sweep, ${fmt(s.teams, 0)} teams (${s.runs.length} run${s.runs.length > 1 ? 's' : ''})`,
        `${fmt(s.wallMs.median / 1000, 1)} s`,
        `${fmt(s.wallMs.min / 1000, 1)} – ${fmt(s.wallMs.max / 1000, 1)} s`,
        `${fmt(ideal / 1000, 1)} s (concurrency ${fmt(s.concurrencyBoundMs / 1000, 1)} s, pacing ${fmt(s.pacingBoundMs / 1000, 1)} s)`,
        `×${fmt(s.ratioToIdeal.median, 2)}`,
      ]);
    }
  }
  if (r.writeBack) {
    const w = r.writeBack;
    rows.push(['Cost per 1M outbound changes (write-back, echoes included)', `$${fmt(w.usdPerMillion.median, 2)}`, `$${fmt(w.usdPerMillion.min, 2)} – $${fmt(w.usdPerMillion.max, 2)}`, `$${fmt(w.floorUsdPerMillion, 2)}`, `×${fmt(w.ratioToFloor.median, 2)}`]);
    rows.push(['DrChrono calls per outbound change', ...mmm(w.drchronoCallsPerChange, 2), '1', `×${fmt(w.drchronoCallsPerChange.median, 2)}`]);
    rows.push(['DynamoDB WRU per outbound change', ...mmm(w.dynamoDbWriteUnitsPerChange, 2), '1.00', `×${fmt(w.dynamoDbWriteUnitsPerChange.median, 2)}`]);
    rows.push(['SQS billed requests per outbound change', ...mmm(w.sqsRequestsPerChange, 2), '1.40', `×${fmt(w.sqsRequestsPerChange.median / 1.4, 2)}`]);
    for (const t of w.writesByTable ?? []) {
      if (t.table === 'records') continue;
      rows.push([`DynamoDB WRU per outbound change, ${t.table} ($${fmt(t.usdPerMillion.median, 2)} per 1M)`, ...mmm(t.writeUnitsPerEvent, 3), '0', '–']);
    }
    if (w.changesPerTeamHourWithinBudget !== null) rows.push(['Outbound changes per team-hour within the write-back budget share', fmt(w.changesPerTeamHourWithinBudget, 0), '–', '–', '–']);
  }
  return table(['Figure', 'Median', 'Min – max', 'Floor / bound', 'Ratio'], rows);
}

export function writeBackTable(w: WriteBackSection): string {
  const lines = linesTable('Line (per 1M outbound changes, median run)', w.linesPerMillion, w.floorLinesPerMillion, w.usdPerMillion.median, w.floorUsdPerMillion, sourcesOf(w.runs, w.floorLinesPerMillion));
  const ops = Object.entries(w.requestsPerChange).map(([op, s]) => [`\`${op}\``, fmt(s.median, 3), `${fmt(s.min, 3)} – ${fmt(s.max, 3)}`]);
  const parts = [lines, table(['AWS request per outbound change', 'Median', 'Min – max'], ops)];
  // Results from before the whole bill (carried over from an older latest.json) lack these.
  if (w.writesByTable) parts.push(writesByTableTable('change', w.writesByTable));
  if (w.logBytesPerChange) parts.push(logBytesTable('change', w.logBytesPerChange));
  return parts.join('\n\n');
}

/**
 * Bundles against issue #14's targets, and what each bundle carries: its largest packages and what it has beyond
 * the SDK-clients-only floor, in KB and as a share of the floor's size.
 */
export function coldStartTable(c: ColdStartSection): string {
  const share = (bytes: number, floor: number): string => `${fmt(bytes / 1024, 0)} KB (${fmt((bytes / floor) * 100, 0)} %)`;
  const against = (ratio: number, target: number | undefined): string =>
    target === undefined ? `×${fmt(ratio, 2)}` : `×${fmt(ratio, 2)} / ≤ ${fmt(target, 1)} ${ratio <= target ? 'met' : '**over**'}`;
  const targets = c.functions.map((f) => [
    `\`${f.fn}\``,
    kb(f.bundle.bytes),
    kb(f.floor.bytes),
    against(f.sizeRatio, f.target?.size),
    `${fmt(f.bundle.initMs.median, 0)} ms / ${fmt(f.floor.initMs.median, 0)} ms`,
    against(f.initRatio, f.target?.init),
  ]);
  const analysis = c.functions.map((f) => [
    `\`${f.fn}\``,
    f.topPackages.map((p) => `${p.pkg} ${share(p.bytes, f.floor.bytes)}`).join(', '),
    // Under half a KB over the floor is the same package, differently tree-shaken: not worth a line.
    (f.overFloor ?? []).filter((p) => p.bytes >= 512).map((p) => `${p.pkg} ${share(p.bytes, f.floor.bytes)}`).join(', ') || '–',
  ]);
  // The cost init no longer pays, paid by the first container use that needs it: init + load against the floor.
  const deferred = c.functions.flatMap((f) =>
    (f.deferred ?? []).map((d) => [
      `\`${f.fn}\``,
      d.label,
      `${fmt(d.ms.median, 0)} ms (${fmt(d.ms.min, 0)} – ${fmt(d.ms.max, 0)})`,
      `×${fmt((f.bundle.initMs.median + d.ms.median) / f.floor.initMs.median, 2)}`,
    ]),
  );
  // Each part alone on top of the floor: what the init target leaves for the rest.
  const parts = c.functions.flatMap((f) =>
    (f.initParts ?? []).map((p) => [
      `\`${f.fn}\``,
      `${p.label}: ${p.modules.length} module${p.modules.length === 1 ? '' : 's'}`,
      // Older results have no per-module bytes.
      p.bytesInPart === undefined || p.bytesInFunction === undefined ? `+${kb(p.bytesOverFloor)}` : `+${kb(p.bytesOverFloor)}; the modules ${kb(p.bytesInPart)} here, ${kb(p.bytesInFunction)} in \`${f.fn}\``,
      `${fmt(p.initMs.median, 0)} ms / ${fmt(p.floorInitMs.median, 0)} ms`,
      f.target ? `×${fmt(p.initRatio, 2)} (target ×${fmt(f.target.init, 1)} for the whole bundle)` : `×${fmt(p.initRatio, 2)}`,
    ]),
  );
  return [
    table(['Function', 'Bundle', 'Floor', 'Size ratio / target', 'Module init (median) / floor', 'Init ratio / target'], targets),
    ...floorSpreadLines(c),
    table(['Bundle', 'Largest packages (KB, share of the floor)', 'Beyond the floor, by package (KB, share of the floor)'], analysis),
    ...(deferred.length > 0
      ? [table(['Function', 'Deferred past module init, loaded on first use', 'Load (median, min – max)', 'Init + load vs floor init'], deferred)]
      : []),
    ...(parts.length > 0
      ? [table(['Function', 'Part of the bundle, added alone to the floor', 'Size', 'Module init (median) / floor', 'Init ratio'], parts)]
      : []),
  ].join('\n\n');
}

/**
 * Functions whose floor is the very same bundle (the same SDK clients) measure it again and again: how far its
 * medians spread in one run says how far any init ratio of that run can be trusted.
 */
function floorSpreadLines(c: ColdStartSection): string[] {
  const byBytes = new Map<number, ColdStartFunction[]>();
  for (const f of c.functions) byBytes.set(f.floor.bytes, [...(byBytes.get(f.floor.bytes) ?? []), f]);
  return [...byBytes]
    .filter(([, fns]) => fns.length > 1)
    .map(([bytes, fns]) => {
      const medians = fns.map((f) => f.floor.initMs.median);
      const lo = Math.min(...medians);
      const hi = Math.max(...medians);
      return `The same floor bundle (${kb(bytes)}) was timed for ${fns.length} functions (${fns.map((f) => `\`${f.fn}\``).join(', ')}): its init medians ranged ${fmt(lo, 0)}–${fmt(hi, 0)} ms in this run (×${fmt(hi / lo, 2)}), which bounds how far one init ratio here can be trusted.`;
    });
}

/** Every CLI start case beside `node -e 0`, and what the shim's staleness check and a rebuild cost. */
export function cliStartTable(c: CliStartSection): string {
  const rows = [
    ['`node -e 0` (floor)', ...mmm(c.floorMs, 0, ' ms'), '×1.00'],
    ...c.cases.map((k) => [k.name, ...mmm(k.wallMs, 0, ' ms'), `×${fmt(k.ratioToFloor, 2)}`]),
    [`Staleness check, ${c.inputs} inputs stat'ed, once in a fresh process: wall`, ...mmm(c.checkWallMs, 2, ' ms'), '–'],
    ['Staleness check: CPU (user + system)', ...mmm(c.checkCpuMs, 2, ' ms'), '–'],
    ['Rebuild after an edit (once, in-process esbuild)', `${fmt(c.rebuildMs, 0)} ms`, '–', '–'],
  ];
  return table([`Operator CLI start (wall, median of ${c.samples}, Node ${c.nodeVersion})`, 'Median', 'Min – max', 'Ratio to node -e 0'], rows);
}

const quantity = (l: { quantity: number; unit?: string }): string => (l.unit === 'GB' ? `${fmt(l.quantity, 3)} GB` : fmt(l.quantity, 0));
const priceLink = (source: string | undefined): string => (source ? `[price](${source})` : '');

/** Lines per 1M with the floor beside them and each line's price page. */
function linesTable(head: string, lines: { item: string; quantity: { median: number }; usd: { median: number } }[], floorLines: CostLine[], total: number, floorTotal: number, sources: Map<string, string | undefined>): string {
  const floor = new Map(floorLines.map((l) => [l.item, l.usd]));
  const unit = new Map(floorLines.map((l) => [l.item, l.unit]));
  const rows = lines.map((l) => [
    l.item,
    quantity({ quantity: l.quantity.median, unit: unit.get(l.item) ?? (l.item.startsWith('CloudWatch Logs') ? 'GB' : undefined) }),
    `$${fmt(l.usd.median, 4)}`,
    `$${fmt(floor.get(l.item) ?? 0, 4)}`,
    priceLink(sources.get(l.item)),
  ]);
  rows.push(['**Total**', '', `**$${fmt(total, 2)}**`, `**$${fmt(floorTotal, 2)}**`, '']);
  return table([head, 'Quantity', 'Measured', 'Floor', 'Source'], rows);
}

const sourcesOf = (runs: readonly { lines: CostLine[] }[], floorLines: CostLine[]): Map<string, string | undefined> =>
  new Map([...floorLines, ...runs.flatMap((r) => r.lines)].map((l) => [l.item, l.source]));

export function costTable(c: CostSection): string {
  return linesTable('Line (per 1M events, median run)', c.linesPerMillion, c.floorLinesPerMillion, c.usdPerMillion.median, c.floorUsdPerMillion, sourcesOf(c.runs, c.floorLinesPerMillion));
}

/** Monthly costs that do not grow with events (shown apart from the per-event tables). */
export function fixedMonthlyTable(f: FixedMonthly): string {
  const rows = f.lines.map((l) => [l.item, fmt(l.quantity, 0), `$${fmt(l.usd, 2)}`, priceLink(l.source)]);
  rows.push(['**Total per month**', '', `**$${fmt(f.usd, 2)}**`, '']);
  return table(['Fixed monthly (whatever the traffic; upper bounds where marked "at most"/"up to")', 'Quantity', 'Per month', 'Source'], rows);
}

/** DynamoDB writes by table: the record writes apart from the integration log and the team items' counters. */
export function writesByTableTable(per: string, writes: TableWrites[]): string {
  const label: Record<string, string> = {
    records: 'records (the synced records)',
    'integration-log': 'integration-log (one entry per delivery, grouped)',
    teams: 'teams (team counters; for write-back also change items and budget counters)',
  };
  const rows = writes.map((w) => [label[w.table] ?? w.table, fmt(w.writeUnitsPerEvent.median, 3), `${fmt(w.writeUnitsPerEvent.min, 3)} – ${fmt(w.writeUnitsPerEvent.max, 3)}`, `$${fmt(w.usdPerMillion.median, 4)}`]);
  return table([`DynamoDB writes by table`, `WRU per ${per} (median)`, 'Min – max', `$ per 1M ${per}s`], rows);
}

/** CloudWatch Logs bytes ingested per event by source, 26 bytes per log event included. */
export function logBytesTable(per: string, bytes: Record<string, { median: number; min: number; max: number }>): string {
  const rows = Object.entries(bytes).map(([source, b]) => [source, fmt(b.median, 0), `${fmt(b.min, 0)} – ${fmt(b.max, 0)}`]);
  return table([`CloudWatch Logs ingested bytes per ${per}`, 'Median', 'Min – max'], rows);
}

export function requestsTable(c: CostSection): string {
  const rows = Object.entries(c.requestsPerEvent).map(([op, s]) => [
    `\`${op}\``,
    fmt(s.median, 3),
    `${fmt(s.min, 3)} – ${fmt(s.max, 3)}`,
    fmt(c.writeUnitsPerEvent[op]?.median ?? 0, 3),
    fmt(c.readUnitsPerEvent[op]?.median ?? 0, 3),
  ]);
  return table(['AWS request (service.operation[table])', 'Requests per event (median)', 'Min – max', 'WRU per event', 'RRU per event'], rows);
}

/** When each section's figures were measured; sections a `--only` run skipped keep an earlier run's. */
export interface SectionRun {
  generatedAt: string;
  commit: string;
  mode: 'full' | 'quick';
}

/** What carryOverSections reads from a previous bench/results/latest.json. */
export interface PreviousResults extends Partial<SectionRun> {
  results?: BenchResults;
  sectionRuns?: Partial<Record<keyof BenchResults, SectionRun>>;
}

/**
 * Fills the sections this run did not attempt from the previous results (mutating `results`) and returns when
 * each section was measured: this run, or the run that section's figures came from. A section this run
 * attempted and failed stays empty rather than showing old figures.
 */
export function carryOverSections(
  results: BenchResults,
  attempted: readonly (keyof BenchResults)[],
  thisRun: SectionRun,
  previous?: PreviousResults,
): Partial<Record<keyof BenchResults, SectionRun>> {
  const runs: Partial<Record<keyof BenchResults, SectionRun>> = {};
  for (const key of Object.keys(results) as (keyof BenchResults)[]) runs[key] = thisRun;
  const previousRun: SectionRun = { generatedAt: previous?.generatedAt ?? 'unknown', commit: previous?.commit ?? 'unknown', mode: previous?.mode ?? 'full' };
  for (const [key, value] of Object.entries(previous?.results ?? {}) as [keyof BenchResults, never][]) {
    if (results[key] !== undefined || attempted.includes(key)) continue;
    results[key] = value;
    runs[key] = previous?.sectionRuns?.[key] ?? previousRun;
  }
  return runs;
}

export function markdown(r: BenchResults, sectionRuns: Partial<Record<keyof BenchResults, SectionRun>> = {}): string {
  const parts = [summaryTable(r)];
  const runs = Object.entries(sectionRuns).map(([section, run]) => `${section} ${run.generatedAt} (${run.mode}, ${run.commit})`);
  if (new Set(Object.values(sectionRuns).map((run) => run.generatedAt)).size > 1) parts.push(`Sections measured in different runs: ${runs.join('; ')}.`);
  if (r.cost) {
    parts.push(costTable(r.cost), requestsTable(r.cost));
    // Results from before the whole bill (carried over from an older latest.json) lack these.
    if (r.cost.writesByTable) parts.push(writesByTableTable('event', r.cost.writesByTable));
    if (r.cost.logBytesPerEvent) parts.push(logBytesTable('event', r.cost.logBytesPerEvent));
  }
  if (r.coldStart) parts.push(coldStartTable(r.coldStart));
  if (r.writeBack) parts.push(writeBackTable(r.writeBack));
  if (r.cliStart) parts.push(cliStartTable(r.cliStart));
  const fixed = r.cost?.fixedMonthly ?? r.writeBack?.fixedMonthly;
  if (fixed) parts.push(fixedMonthlyTable(fixed));
  if (r.scale) parts.push(scaleTable(r.scale));
  return parts.join('\n\n');
}

/** Issue 14 §3: per-team fairness, DrChrono budget shares and DLQs under the many-team skewed mix. */
export function scaleTable(s: ScaleSection): string {
  const f = s.fairness;
  const ms = (v: number): string => `${fmt(v, 0)} ms`;
  const byPath = (calls: Record<string, number>): string =>
    Object.entries(calls)
      .sort((a, b) => b[1] - a[1])
      .map(([path, n]) => `${path} ${n}`)
      .join(', ') || 'none';
  const pct = (v: number): string => `${fmt(v * 100, 2)} %`;
  const o = s.options;
  const rows: string[][] = [
    ['Load', `${fmt(s.events, 0)} deliveries to ${fmt(o.teams, 0)} teams at ${fmt(s.actualRate, 1)}/s (${o.seconds} s); ${s.distribution}`],
    ['Landed', `${fmt(s.landed, 0)} of ${fmt(s.events, 0)} (statuses ${Object.entries(s.statuses).map(([k, v]) => `${k}: ${v}`).join(', ')})`],
    ['Kept up (landing rate ÷ sending rate, first send to last landing)', `${fmt(s.keptUpShare, 2)}${s.keptUpShare < KEPT_UP_SHARE ? ' — the pipeline fell behind the rate: an overload, not a sustained load' : ''}`],
    ['Median team’s p99 landing time', ms(f.medianTeamP99Ms)],
    ['Worst team’s p99 landing time', `${ms(f.worstTeamP99Ms)} (${f.worstTeamBusy ? 'a busy' : 'a quiet'} team)`],
    ['Worst ÷ median team p99 (target ≤ 2)', `×${fmt(f.worstToMedianRatio, 2)}; ${f.teamsOver2xMedian} of ${f.teams} teams above ×2`],
    [
      'Same landing times dealt to the teams at random (a fair pipeline’s score)',
      `×${fmt(s.fairBaseline.medianRatio, 2)} (p95 of ${s.fairBaseline.rounds} deals ×${fmt(s.fairBaseline.p95Ratio, 2)}), ${fmt(s.fairBaseline.medianTeamsOver2x, 0)} teams above ×2; measured ${
        f.worstToMedianRatio > s.fairBaseline.p95Ratio ? 'above: some teams fared worse than chance' : 'within: no team fared worse than chance'
      }`,
    ],
  ];
  if (f.busy) rows.push([`Busy teams (${f.busy.teams}, ${fmt(f.busy.samples, 0)} deliveries)`, `p50 ${ms(f.busy.pooledP50Ms)}, p99 ${ms(f.busy.pooledP99Ms)} pooled; median team p99 ${ms(f.busy.medianTeamP99Ms)}`]);
  if (f.quiet) rows.push([`Quiet teams (${f.quiet.teams}, ${fmt(f.quiet.samples, 0)} deliveries)`, `p50 ${ms(f.quiet.pooledP50Ms)}, p99 ${ms(f.quiet.pooledP99Ms)} pooled; median team p99 ${ms(f.quiet.medianTeamP99Ms)}`]);
  const ent = (e: { samples: number; p50Ms: number; p99Ms: number }): string => (e.samples === 0 ? 'none' : `${fmt(e.samples, 0)}: p50 ${ms(e.p50Ms)}, p99 ${ms(e.p99Ms)}`);
  rows.push(['Patients / appointments, pooled (busy teams)', `${ent(s.byEntity.busy.patient)} / ${ent(s.byEntity.busy.appointment)}`]);
  rows.push(['Patients / appointments, pooled (quiet teams)', `${ent(s.byEntity.quiet.patient)} / ${ent(s.byEntity.quiet.appointment)}`]);
  rows.push(
    ['DrChrono budget share per team (run)', `median ${pct(s.budget.medianShare)}, max ${pct(s.budget.maxShare)} of ${s.budget.perTeamHour} calls/hour (max ${fmt(s.budget.maxCalls, 0)} calls; median busy team ${fmt(s.budget.busyMedianCalls, 0)}, quiet team ${fmt(s.budget.quietMedianCalls, 0)})`],
    ['DrChrono calls per event', `${fmt(s.drchronoCallsPerEvent, 3)} (quiet teams: ${byPath(s.drchronoCallsByPath.quiet)}; busy teams: ${byPath(s.drchronoCallsByPath.busy)})`],
    ['Dead-lettered during the run', `ingest ${s.dlq.ingest}, backfill ${s.dlq.backfill}, write-back ${s.dlq.writeBack}; sync messages failed ${s.syncFailedMessages}`],
    ['Webhook / sync invocation p95', `${ms(s.webhookMs.p95)} / ${ms(s.syncBatchMs.p95)} (means ${fmt(s.webhookMs.mean, 1)} / ${fmt(s.syncBatchMs.mean, 1)} ms); ${fmt(s.eventsPerSyncInvocation, 1)} events per sync invocation`],
    ['Per event under this mix', `${fmt(s.dynamoDbWriteUnitsPerEvent, 2)} WRU, ${fmt(s.dynamoDbReadUnitsPerEvent, 2)} RRU, ${fmt(s.secretsManagerCallsPerEvent, 3)} Secrets Manager calls`],
  );
  return table(['Scale (many teams, skewed mix)', 'Figure'], rows);
}

/** One sizing table per measured source: events per second each limit allows, per stage, and which binds. */
export function sizingTable(sizings: readonly Sizing[]): string {
  const sources = [...new Set(sizings.map((z) => z.source))];
  const eps = (v: number): string => (Number.isFinite(v) ? fmt(v, 0) : 'unbounded');
  return sources
    .map((source) => {
      const stages = sizings.filter((z) => z.source === source);
      const arithmetic = (i: number): string => {
        const each = stages.map((z) => z.bounds[i]!.arithmetic);
        return new Set(each).size === 1 ? each[0]! : stages.map((z, k) => `${z.stage}: ${each[k]!}`).join('; ');
      };
      const rows = stages[0]!.bounds.map((b, i) => [b.limit, ...stages.map((z) => `${eps(z.bounds[i]!.eventsPerSecond)}${z.binding === z.bounds[i]!.limit ? ' **(binds)**' : ''}`), arithmetic(i)]);
      rows.push(['**Sustained events/s**', ...stages.map((z) => `**${eps(z.sustainedEventsPerSecond)}**`), '']);
      rows.push(['Events per team-hour within the DrChrono budget', ...stages.map((z) => eps(z.eventsPerTeamHourWithinBudget)), '']);
      rows.push(['Sync would bind above this full-batch duration', ...stages.map((z) => (z.syncBindsAboveBatchMs === null ? 'binds now' : `${fmt(z.syncBindsAboveBatchMs, 0)} ms`)), '']);
      return table([`Sizing from the ${source}`, ...stages.map((z) => `${z.stage} events/s`), 'Arithmetic'], rows);
    })
    .join('\n\n');
}
