import { budgetShares, fairBaseline, planSkewedMix, teamFairness } from '../../../bench/scale-mix';

describe('planSkewedMix', () => {
  const plan = planSkewedMix({ teams: 100, busyTeams: 5, busyShare: 0.5, events: 1000, seed: 7 });
  const perTeam = new Map<number, number>();
  for (const m of plan.mutations) perTeam.set(m.team, (perTeam.get(m.team) ?? 0) + 1);

  it('gives the busy teams their share, evenly, and spreads the rest evenly over the quiet teams', () => {
    expect(plan.mutations).toHaveLength(1000);
    for (let t = 0; t < 5; t++) expect(perTeam.get(t)).toBe(100);
    const quiet = [...perTeam].filter(([t]) => t >= 5).map(([, c]) => c);
    expect(quiet).toHaveLength(95);
    expect(Math.max(...quiet) - Math.min(...quiet)).toBeLessThanOrEqual(1);
    expect(quiet.reduce((s, c) => s + c, 0)).toBe(500);
  });

  it('creates only, posted in plan order, with each team starting with a patient and then alternating', () => {
    expect(plan.posts).toEqual(plan.mutations.map((_, i) => i));
    expect(plan.mutations.every((m) => m.kind === 'create')).toBe(true);
    const seen = new Map<number, number>();
    for (const m of plan.mutations) {
      const k = seen.get(m.team) ?? 0;
      expect(m.entity).toBe(k % 2 === 0 ? 'patient' : 'appointment');
      seen.set(m.team, k + 1);
    }
  });

  it('shuffles the busy teams through the whole run, the same way for the same seed', () => {
    const firstHalfBusy = plan.mutations.slice(0, 500).filter((m) => m.team < 5).length;
    expect(firstHalfBusy).toBeGreaterThan(200);
    expect(firstHalfBusy).toBeLessThan(300);
    expect(planSkewedMix({ teams: 100, busyTeams: 5, busyShare: 0.5, events: 1000, seed: 7 })).toEqual(plan);
  });

  it('refuses a split that leaves no quiet team or a share outside [0, 1]', () => {
    expect(() => planSkewedMix({ teams: 5, busyTeams: 5, busyShare: 0.5, events: 10, seed: 1 })).toThrow(RangeError);
    expect(() => planSkewedMix({ teams: 10, busyTeams: 2, busyShare: 1.5, events: 10, seed: 1 })).toThrow(RangeError);
  });
});

describe('teamFairness', () => {
  it("takes each team's nearest-rank p99 (its slowest delivery below 100 samples) and compares the worst with the median team", () => {
    const busy = Array.from({ length: 200 }, (_, i) => 100 + i); // p99 = 297
    const samples = new Map<number, number[]>([
      [0, busy],
      [1, [300]],
      [2, [200, 400]],
      [3, [350]],
      [4, [900]],
      [5, []],
    ]);
    const { fairness, teams } = teamFairness(samples, (t) => t === 0);
    expect(teams.map((t) => [t.team, t.p99Ms])).toEqual([
      [0, 297],
      [1, 300],
      [2, 400],
      [3, 350],
      [4, 900],
    ]);
    expect(fairness.teams).toBe(5);
    expect(fairness.medianTeamP99Ms).toBe(350);
    expect(fairness.worstTeamP99Ms).toBe(900);
    expect(fairness.worstTeamBusy).toBe(false);
    expect(fairness.worstToMedianRatio).toBeCloseTo(900 / 350, 9);
    expect(fairness.teamsOver2xMedian).toBe(1);
    expect(fairness.busy).toEqual({ teams: 1, samples: 200, medianTeamP99Ms: 297, pooledP50Ms: 199, pooledP99Ms: 297 });
    expect(fairness.quiet).toMatchObject({ teams: 4, samples: 5, medianTeamP99Ms: 375, pooledP50Ms: 350, pooledP99Ms: 900 });
  });

  it('refuses to compute fairness with no landed delivery', () => {
    expect(() => teamFairness(new Map([[0, []]]), () => false)).toThrow(RangeError);
  });
});

describe('budgetShares', () => {
  it("gives the median and the largest team's calls as shares of the hourly budget", () => {
    expect(budgetShares([0, 5, 10, 50], 500)).toEqual({ median: 0.015, max: 0.1 });
  });
});

describe('fairBaseline', () => {
  it('scores exactly the measured ratio when every team has one delivery: dealing single samples changes nothing', () => {
    const samples = new Map(Array.from({ length: 101 }, (_, t) => [t, [100 + t * t]] as [number, number[]]));
    const measured = teamFairness(samples, () => false).fairness;
    const base = fairBaseline(samples, 3, 50);
    expect(measured.worstToMedianRatio).toBeGreaterThan(2);
    expect(base.medianRatio).toBeCloseTo(measured.worstToMedianRatio, 9);
    expect(base.p95Ratio).toBeCloseTo(measured.worstToMedianRatio, 9);
    expect(base.medianTeamsOver2x).toBe(measured.teamsOver2xMedian);
  });

  it('scores well below the measured ratio when one team with many deliveries is slower than the rest', () => {
    const samples = new Map(Array.from({ length: 20 }, (_, t) => [t, new Array<number>(200).fill(t === 7 ? 300 : 100)] as [number, number[]]));
    const measured = teamFairness(samples, () => false).fairness;
    const base = fairBaseline(samples, 3, 50);
    expect(measured.worstToMedianRatio).toBe(3);
    expect(base.p95Ratio).toBeLessThan(1.5);
    expect(base.medianTeamsOver2x).toBe(0);
  });

  it('is the same for the same seed and says which seed and how many rounds', () => {
    const samples = new Map([[0, [1, 5, 9, 30]], [1, [2]], [2, [40, 3]], [3, [7]]]);
    expect(fairBaseline(samples, 11, 40)).toEqual(fairBaseline(samples, 11, 40));
    expect(fairBaseline(samples, 11, 40)).toMatchObject({ seed: 11, rounds: 40 });
  });

  it('refuses no samples and a non-positive round count', () => {
    expect(() => fairBaseline(new Map([[0, []]]), 1)).toThrow(RangeError);
    expect(() => fairBaseline(new Map([[0, [1]]]), 1, 0)).toThrow(RangeError);
  });
});
