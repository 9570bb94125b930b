import { carryOverSections, markdown, type BenchResults, type SectionRun } from '../../../bench/report';
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
