import { median, percentile } from './stats';
import { prng, type Entity, type MixPlan, type Mutation } from './workload';

/**
 * The scale section's traffic and its fairness figures, as pure functions.
 *
 * Distribution: `busyTeams` teams (the busy clinics) receive `busyShare` of all deliveries, evenly among them; the
 * other teams (the quiet ones) share the rest evenly (round robin, so each gets the same count, ±1). The posting
 * order is a seeded shuffle, so a busy team's deliveries are spread over the whole run. Every delivery creates a
 * new object (one record per delivery, so its `syncedAt` is that delivery's landing time): a team's first
 * delivery is a patient, then appointments and patients alternate (an appointment points at the team's patient).
 */
export interface SkewOptions {
  teams: number;
  busyTeams: number;
  /** Share of all deliveries that go to the busy teams, in [0, 1]. */
  busyShare: number;
  events: number;
  seed: number;
}

export function planSkewedMix(o: SkewOptions): MixPlan {
  if (!(o.busyTeams >= 0 && o.busyTeams < o.teams)) throw new RangeError('busyTeams must be in [0, teams)');
  if (!(o.busyShare >= 0 && o.busyShare <= 1)) throw new RangeError('busyShare must be in [0, 1]');
  const rnd = prng(o.seed);
  const busyEvents = o.busyTeams === 0 ? 0 : Math.round(o.events * o.busyShare);
  const quietTeams = o.teams - o.busyTeams;
  const owners: number[] = [];
  for (let i = 0; i < busyEvents; i++) owners.push(i % o.busyTeams);
  for (let i = 0; i < o.events - busyEvents; i++) owners.push(o.busyTeams + (i % quietTeams));
  // Fisher-Yates with the seeded PRNG.
  for (let i = owners.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [owners[i], owners[j]] = [owners[j]!, owners[i]!];
  }
  const seen = new Map<number, number>();
  const mutations: Mutation[] = owners.map((team, object) => {
    const k = seen.get(team) ?? 0;
    seen.set(team, k + 1);
    const entity: Entity = k % 2 === 0 ? 'patient' : 'appointment';
    return { team, entity, object, kind: 'create' };
  });
  return { mutations, posts: mutations.map((_, i) => i), duplicates: 0, outOfOrder: 0 };
}

/** Below this landing-rate ÷ sending-rate share, a run measured an overload (a growing backlog), not a sustained load. */
export const KEPT_UP_SHARE = 0.9;

export interface TeamLatency {
  team: number;
  busy: boolean;
  samples: number;
  /** Nearest-rank p99 of the team's landing times: with fewer than 100 samples, the team's slowest delivery. */
  p99Ms: number;
}

export interface GroupLatency {
  teams: number;
  samples: number;
  /** Median over the group's teams of each team's p99. */
  medianTeamP99Ms: number;
  /** p50 and p99 of all the group's samples pooled. */
  pooledP50Ms: number;
  pooledP99Ms: number;
}

export interface Fairness {
  /** Teams with at least one landed delivery. */
  teams: number;
  medianTeamP99Ms: number;
  worstTeamP99Ms: number;
  worstTeamBusy: boolean;
  /** worst ÷ median team p99; the target is at most 2. */
  worstToMedianRatio: number;
  teamsOver2xMedian: number;
  busy: GroupLatency | null;
  quiet: GroupLatency | null;
  overallP50Ms: number;
  overallP99Ms: number;
}

function group(teams: readonly TeamLatency[], samples: ReadonlyMap<number, readonly number[]>): GroupLatency | null {
  if (teams.length === 0) return null;
  const pooled = teams.flatMap((t) => samples.get(t.team) ?? []);
  return {
    teams: teams.length,
    samples: pooled.length,
    medianTeamP99Ms: median(teams.map((t) => t.p99Ms)),
    pooledP50Ms: percentile(pooled, 50),
    pooledP99Ms: percentile(pooled, 99),
  };
}

/** Per-team p99 landing times and how far the worst team is from the median team. Teams with no sample are left out. */
export function teamFairness(samples: ReadonlyMap<number, readonly number[]>, isBusy: (team: number) => boolean): { fairness: Fairness; teams: TeamLatency[] } {
  const teams: TeamLatency[] = [...samples]
    .filter(([, s]) => s.length > 0)
    .map(([team, s]) => ({ team, busy: isBusy(team), samples: s.length, p99Ms: percentile(s, 99) }))
    .sort((a, b) => a.team - b.team);
  if (teams.length === 0) throw new RangeError('no team has a landed delivery');
  const medianTeamP99Ms = median(teams.map((t) => t.p99Ms));
  const worst = teams.reduce((w, t) => (t.p99Ms > w.p99Ms ? t : w));
  const all = teams.flatMap((t) => samples.get(t.team)!);
  return {
    teams,
    fairness: {
      teams: teams.length,
      medianTeamP99Ms,
      worstTeamP99Ms: worst.p99Ms,
      worstTeamBusy: worst.busy,
      worstToMedianRatio: medianTeamP99Ms > 0 ? worst.p99Ms / medianTeamP99Ms : Number.POSITIVE_INFINITY,
      teamsOver2xMedian: teams.filter((t) => t.p99Ms > 2 * medianTeamP99Ms).length,
      busy: group(teams.filter((t) => t.busy), samples),
      quiet: group(teams.filter((t) => !t.busy), samples),
      overallP50Ms: percentile(all, 50),
      overallP99Ms: percentile(all, 99),
    },
  };
}

/** Median and max of the teams' shares of their hourly DrChrono budget. */
export function budgetShares(calls: readonly number[], budgetPerHour: number): { median: number; max: number } {
  if (calls.length === 0) throw new RangeError('no teams');
  return { median: median(calls) / budgetPerHour, max: Math.max(...calls) / budgetPerHour };
}

/**
 * What a perfectly fair pipeline would score on the same landing times: every sample is dealt out again at random
 * among the teams (each team keeps its sample count), the worst ÷ median team p99 recomputed, `rounds` times with a
 * seeded PRNG. Teams with one or two deliveries have a "p99" that is one draw from the pooled distribution, so
 * with ~1,000 of them the worst team is about the pool's p99.9 and the median team about its p50: the ratio then
 * measures the distribution's tail and the sample counts, not how teams are treated. A measured ratio close to
 * this baseline means no team was treated worse than chance; well above it means some were.
 */
export interface FairBaseline {
  seed: number;
  rounds: number;
  /** Median over the rounds of the worst ÷ median team p99, and of the teams above 2x the median. */
  medianRatio: number;
  /** 95th percentile of the rounds' ratios: a measured ratio above it is unlikely under fair treatment. */
  p95Ratio: number;
  medianTeamsOver2x: number;
}

export function fairBaseline(samples: ReadonlyMap<number, readonly number[]>, seed: number, rounds = 200): FairBaseline {
  if (!(Number.isInteger(rounds) && rounds > 0)) throw new RangeError('rounds must be a positive integer');
  const counts = [...samples.values()].map((s) => s.length).filter((n) => n > 0);
  const pool = [...samples.values()].flat();
  if (pool.length === 0) throw new RangeError('no team has a landed delivery');
  const rnd = prng(seed);
  const ratios: number[] = [];
  const over: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const deck = [...pool];
    for (let i = deck.length - 1; i > 0; i--) {
      const j = Math.floor(rnd() * (i + 1));
      [deck[i], deck[j]] = [deck[j]!, deck[i]!];
    }
    let at = 0;
    const p99s = counts.map((n) => {
      const p = percentile(deck.slice(at, at + n), 99);
      at += n;
      return p;
    });
    const med = median(p99s);
    ratios.push(med > 0 ? Math.max(...p99s) / med : Number.POSITIVE_INFINITY);
    over.push(p99s.filter((p) => p > 2 * med).length);
  }
  return { seed, rounds, medianRatio: median(ratios), p95Ratio: percentile(ratios, 95), medianTeamsOver2x: median(over) };
}
