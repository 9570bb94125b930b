import { carryOverSections, fixedMonthlyTable, markdown, writesByTableTable, type BenchResults, type SectionRun } from '../../../bench/report';
import type { E2eSection } from '../../../bench/sections/e2e-latency';
import type { WebhookCpuSection } from '../../../bench/sections/webhook-cpu';

const now: SectionRun = { generatedAt: '2026-11-21T18:00:00.000Z', commit: 'new', mode: 'full' };
const earlier: SectionRun = { generatedAt: '2026-11-21T17:06:31.051Z', commit: 'old', mode: 'full' };
const s = (median: number) => ({ median, min: median, max: median, runs: 1 });
const cpu = { handlerCpuUsPerEvent: s(1500), floorCpuUsPerEvent: s(15), ratioToFloor: s(100), floorWithSendCpuUsPerEvent: s(900), ratioToFloorWithSend: s(1.6), handlerEventsPerSecond: s(600) } as WebhookCpuSection;
const e2e = { seconds: 60, eventsPerSecond: 10, p50Ms: s(700), p95Ms: s(1100), p99Ms: s(1300), webhookResponseP99Ms: s(120) } as E2eSection;

describe('carryOverSections', () => {
  it('keeps a section this run skipped, stamped with the run it was measured in', () => {
    const results: BenchResults = { webhookCpu: cpu };

    const runs = carryOverSections(results, ['webhookCpu'], now, { ...earlier, results: { webhookCpu: { ...cpu, handlerCpuUsPerEvent: s(1700) }, e2e } });

    expect(results).toEqual({ webhookCpu: cpu, e2e });
    expect(runs).toEqual({ webhookCpu: now, e2e: earlier });
  });

  it('does not show old figures for a section this run attempted and failed', () => {
    const results: BenchResults = {};

    const runs = carryOverSections(results, ['e2e'], now, { ...earlier, results: { e2e } });

    expect(results).toEqual({});
    expect(runs).toEqual({});
  });

  it('keeps the original stamp of a section carried over twice', () => {
    const first: SectionRun = { generatedAt: '2026-11-20T09:00:00.000Z', commit: 'older', mode: 'full' };
    const results: BenchResults = {};

    const runs = carryOverSections(results, [], now, { ...earlier, results: { e2e }, sectionRuns: { e2e: first } });

    expect(runs.e2e).toEqual(first);
  });
});

describe('markdown', () => {
  it('names the run of each section when they come from different runs', () => {
    expect(markdown({ webhookCpu: cpu, e2e }, { webhookCpu: now, e2e: earlier })).toContain(`e2e ${earlier.generatedAt} (full, old)`);
  });

  it('adds no run note when every section comes from one run', () => {
    expect(markdown({ webhookCpu: cpu }, { webhookCpu: now })).not.toContain('different runs');
  });
});

describe('the whole bill tables', () => {
  it('shows the fixed monthly costs apart, with a total and each price page', () => {
    const md = fixedMonthlyTable({
      lines: [
        { item: 'CloudWatch alarms (standard resolution)', quantity: 12, usd: 1.2, source: 'https://aws.amazon.com/cloudwatch/pricing/' },
        { item: 'CloudWatch dashboards', quantity: 1, usd: 3, source: 'https://aws.amazon.com/cloudwatch/pricing/' },
      ],
      usd: 4.2,
      customMetrics: [],
      inventory: { alarms: 12, dashboards: 1, kmsKeys: 1, secrets: 1, queueKeyPrincipals: [], tableKeyPrincipals: [], queueDataKeyReuseSeconds: 300 },
    });
    expect(md).toContain('| CloudWatch alarms (standard resolution) | 12 | $1.20 | [price](https://aws.amazon.com/cloudwatch/pricing/) |');
    expect(md).toContain('**$4.20**');
  });

  it('shows the integration log and the team counters apart from the record writes', () => {
    const md = writesByTableTable('event', [
      { table: 'integration-log', writeUnitsPerEvent: s(0.385), usdPerMillion: s(0.24) },
      { table: 'records', writeUnitsPerEvent: s(1.167), usdPerMillion: s(0.73) },
      { table: 'teams', writeUnitsPerEvent: s(0.408), usdPerMillion: s(0.255) },
    ]);
    expect(md.split('\n')).toHaveLength(5);
    expect(md).toContain('| integration-log (one entry per delivery, grouped) | 0.385 |');
    expect(md).toContain('$0.2550');
  });
});

describe('the webhook CPU rows', () => {
  it('take the handler apart against floor + send (each run\'s own ratio): our enqueue, then receiveWebhook without the handler', () => {
    const md = markdown({ webhookCpu: { ...cpu, floorWithEnqueueCpuUsPerEvent: s(990), receiveCpuUsPerEvent: s(1350), enqueueRatioToFloorWithSend: s(1.1), receiveRatioToFloorWithSend: s(1.5) } });
    expect(md).toContain('| … of it: floor + our enqueue (ingest message checks, re-encoded body, attributes) | 990 µs | 990 – 990 µs | 900 µs | ×1.10 |');
    expect(md).toContain('| … of it: receiveWebhook without the handler (every check, then the enqueue) | 1,350 µs | 1,350 – 1,350 µs | 900 µs | ×1.50 |');
  });

  it('leave the breakdown out for results measured before it existed', () => {
    expect(markdown({ webhookCpu: cpu })).not.toContain('… of it');
  });
});
