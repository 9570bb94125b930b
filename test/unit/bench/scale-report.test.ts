import { scaleTable, sizingTable } from '../../../bench/report';
import type { ScaleSection } from '../../../bench/sections/scale';
import { sizeStack, type StackLimits } from '../../../bench/sizing';

const limits = (stage: string, apiRateLimit: number): StackLimits => ({ stage, apiRateLimit, apiBurstLimit: 2 * apiRateLimit, webhookConcurrency: 50, syncConcurrency: 5, batchSize: 10, drchronoBudgetPerTeamHour: 500 });
const measured = { source: 'cost section (test)', webhookMs: 20, syncBatchMs: 100, eventsPerSyncInvocation: 10, writeUnitsPerEventByTable: { records: 1.2 }, secretsManagerCallsPerEvent: 0, drchronoCallsPerEvent: 0.01 };

describe('sizingTable', () => {
  it('shows each stage beside the others, marks the binding limit and the sustained rate', () => {
    const md = sizingTable([sizeStack(limits('prod', 100), measured), sizeStack(limits('dev', 20), measured)]);
    expect(md).toContain('| Sizing from the cost section (test) | prod events/s | dev events/s | Arithmetic |');
    expect(md).toMatch(/\| HTTP API stage rate limit \(burst 200\) \| 100 \*\*\(binds\)\*\* \| 20 \*\*\(binds\)\*\* \|/);
    expect(md).toContain('| **Sustained events/s** | **100** | **20** |');
    expect(md).toContain('| SQS standard queue | unbounded | unbounded |');
  });
});

describe('scaleTable', () => {
  const section = (keptUpShare: number): ScaleSection => ({
    options: { teams: 1000, busyTeams: 10, busyShare: 0.5, seconds: 90, eventsPerSecond: 25, teamState: 'backfilled' },
    distribution: '10 busy teams share 50 %',
    events: 2250,
    statuses: { 202: 2250 },
    landed: 2250,
    notLanded: 0,
    drained: true,
    actualRate: 25,
    fairness: {
      teams: 1000,
      medianTeamP99Ms: 600,
      worstTeamP99Ms: 1500,
      worstTeamBusy: false,
      worstToMedianRatio: 2.5,
      teamsOver2xMedian: 3,
      busy: { teams: 10, samples: 1125, medianTeamP99Ms: 900, pooledP50Ms: 500, pooledP99Ms: 950 },
      quiet: { teams: 990, samples: 1125, medianTeamP99Ms: 600, pooledP50Ms: 520, pooledP99Ms: 1000 },
      overallP50Ms: 510,
      overallP99Ms: 990,
    },
    keptUpShare,
    slowestTeams: [],
    budget: { perTeamHour: 500, medianCalls: 1, maxCalls: 8, medianShare: 0.002, maxShare: 0.016, busyMedianCalls: 6, quietMedianCalls: 1 },
    drchronoCallsPerEvent: 0.5,
    drchronoCallsByPath: { busy: { '/api/doctors': 10 }, quiet: {} },
    dlq: { ingest: 0, backfill: 0, writeBack: 0 },
    syncFailedMessages: 0,
    webhookMs: { median: 5, p95: 20, mean: 8, count: 2250 },
    syncBatchMs: { median: 80, p95: 150, mean: 90, count: 230 },
    syncInvocations: 230,
    eventsPerSyncInvocation: 9.8,
    dynamoDbWriteUnitsPerEvent: 4,
    writeUnitsPerEventByTable: { records: 2 },
    dynamoDbReadUnitsPerEvent: 1.5,
    secretsManagerCallsPerEvent: 1,
    byEntity: {
      busy: { patient: { samples: 560, p50Ms: 400, p99Ms: 900 }, appointment: { samples: 565, p50Ms: 450, p99Ms: 1000 } },
      quiet: { patient: { samples: 990, p50Ms: 380, p99Ms: 880 }, appointment: { samples: 0, p50Ms: 0, p99Ms: 0 } },
    },
    fairBaseline: { seed: 1, rounds: 200, medianRatio: 2.4, p95Ratio: 2.9, medianTeamsOver2x: 2 },
    setupSeconds: { seed: 20, backfillState: 5, materialise: 10 },
  });

  it('states the worst-to-median ratio against its target and how many teams exceed it', () => {
    expect(scaleTable(section(0.98))).toContain('| Worst ÷ median team p99 (target ≤ 2) | ×2.50; 3 of 1000 teams above ×2 |');
  });

  it('breaks the DrChrono calls down by path for busy and quiet teams', () => {
    expect(scaleTable(section(0.98))).toContain('(quiet teams: none; busy teams: /api/doctors 10)');
  });

  it("prints a fair pipeline's score on the same landing times and whether the measured ratio is above it", () => {
    expect(scaleTable(section(0.98))).toContain('| ×2.40 (p95 of 200 deals ×2.90), 2 teams above ×2; measured within: no team fared worse than chance |');
    const unfair = section(0.98);
    unfair.fairBaseline = { ...unfair.fairBaseline, p95Ratio: 2.2 };
    expect(scaleTable(unfair)).toContain('measured above: some teams fared worse than chance');
  });

  it('breaks the landing times down by entity for busy and quiet teams, saying when a group had none', () => {
    const md = scaleTable(section(0.98));
    expect(md).toContain('| Patients / appointments, pooled (busy teams) | 560: p50 400 ms, p99 900 ms / 565: p50 450 ms, p99 1,000 ms |');
    expect(md).toContain('| Patients / appointments, pooled (quiet teams) | 990: p50 380 ms, p99 880 ms / none |');
  });

  it('says when the pipeline fell behind the rate, and not when it kept up', () => {
    expect(scaleTable(section(0.4))).toContain('an overload, not a sustained load');
    expect(scaleTable(section(0.98))).not.toContain('overload');
  });
});

