import {
  appointmentChunks,
  applyStep,
  decideStep,
  emptyTally,
  newJob,
  pauseJob,
  percentOf,
  type BackfillJob,
  type StepOutcome,
} from '../../../shared/backfill/backfill-job';

const TEAM = '6f1c2b1e-0d55-4b43-9d2a-1f0b7a1c0e11';
const NOW = new Date('2026-11-21T12:00:00Z');

function page(processed: number, extra: Partial<Extract<StepOutcome, { kind: 'page' }>> = {}): StepOutcome {
  return { kind: 'page', processed, outcomes: { ...emptyTally(), created: processed }, ...extra };
}

function job(over: Partial<BackfillJob> = {}): BackfillJob {
  return { ...newJob({ teamId: TEAM, jobId: 'j1', reason: 'connect', now: NOW }), ...over };
}

describe('appointmentChunks', () => {
  it('covers the window day by day without gaps or overlaps', () => {
    const chunks = appointmentChunks(NOW, 365, 180, 90);
    expect(chunks[0]!.start).toBe('2025-11-21');
    expect(chunks.at(-1)!.end).toBe('2027-05-20');
    for (let i = 1; i < chunks.length; i++) {
      const prevEnd = new Date(`${chunks[i - 1]!.end}T00:00:00Z`).getTime();
      expect(new Date(`${chunks[i]!.start}T00:00:00Z`).getTime() - prevEnd).toBe(86_400_000);
    }
    expect(chunks).toHaveLength(Math.ceil(546 / 90));
  });
});

describe('newJob', () => {
  it('starts at step 0 in the doctors phase with nothing enqueued yet', () => {
    const j = job();
    expect(j).toMatchObject({ step: 0, enqueuedStep: -1, status: 'running', cursor: { phase: 'doctors', page: 1, chunk: 0 }, percent: 0 });
    expect(j.chunks.length).toBeGreaterThan(1);
  });

  it('with since uses a single since-list for appointments instead of date chunks', () => {
    const j = newJob({ teamId: TEAM, jobId: 'j', reason: 'operator', since: '2026-01-01', now: NOW });
    expect(j.chunks).toEqual([]);
    expect(j.since).toBe('2026-01-01');
  });
});

describe('applyStep', () => {
  it('walks doctors → profiles → patients pages → appointment chunks → done', () => {
    let j = job({ chunks: [{ start: '2026-01-01', end: '2026-03-31' }, { start: '2026-04-01', end: '2026-06-29' }] });
    const phases: string[] = [];
    const outcomes: StepOutcome[] = [page(3), page(4), page(1000, { total: 1500, pages: 2 }), page(500, { total: 1500, pages: 2 }), page(20, { total: 20, pages: 1 }), page(5, { total: 5, pages: 1 })];
    for (const o of outcomes) {
      phases.push(`${j.cursor.phase}:${j.cursor.chunk}:${j.cursor.page}`);
      j = applyStep(j, o, NOW);
    }
    expect(phases).toEqual(['doctors:0:1', 'profiles:0:1', 'patients:0:1', 'patients:0:2', 'appointments:0:1', 'appointments:1:1']);
    expect(j).toMatchObject({ status: 'completed', step: 6, doctors: 3, profiles: 4, patients: 1500, appointments: 25, patientsTotal: 1500, appointmentsSeenTotal: 25, created: 1532, percent: 100 });
    expect(j.finishedAt).toBe(NOW.toISOString());
  });

  it('finishes after patients when there is no appointment chunk', () => {
    const j = applyStep(job({ cursor: { phase: 'patients', page: 1, chunk: 0 }, chunks: [] }), page(2, { total: 2, pages: 1 }), NOW);
    expect(j.status).toBe('completed');
  });

  it('with since goes through one appointments list, then finishes', () => {
    const since = job({ cursor: { phase: 'patients', page: 1, chunk: 0 }, chunks: [], since: '2026-01-01' });
    const afterPatients = applyStep(since, page(2, { total: 2, pages: 1 }), NOW);
    expect(afterPatients.cursor.phase).toBe('appointments');
    expect(applyStep(afterPatients, page(2, { total: 2, pages: 1 }), NOW).status).toBe('completed');
  });

  it('moves to the next phase after an empty bulk list (0 pages)', () => {
    const j = applyStep(job({ cursor: { phase: 'patients', page: 1, chunk: 0 } }), page(0, { total: 0, pages: 0 }), NOW);
    expect(j.cursor).toEqual({ phase: 'appointments', page: 1, chunk: 0 });
  });

  it('parks a bulk page still being generated without counting anything', () => {
    const before = job({ cursor: { phase: 'patients', page: 2, chunk: 0, pages: 3 }, patients: 1000 });
    const j = applyStep(before, { kind: 'waiting', uuid: 'u-1', uuidCreatedAt: NOW.toISOString() }, NOW);
    expect(j.step).toBe(before.step + 1);
    expect(j.cursor).toEqual({ phase: 'patients', page: 2, chunk: 0, pages: 3, uuid: 'u-1', uuidCreatedAt: NOW.toISOString() });
    expect(j.patients).toBe(1000);
  });

  it('clears a pause once the step ran', () => {
    const paused = pauseJob(job(), new Date('2026-11-21T13:00:00Z'), 'team API budget exhausted', NOW);
    const j = applyStep(paused, page(1), NOW);
    expect(j.status).toBe('running');
    expect(j.pausedUntil).toBeUndefined();
    expect(j.pauseReason).toBeUndefined();
  });

  it('adds outcomes to the running totals', () => {
    const j = applyStep(job({ created: 5, updated: 1 }), { kind: 'page', processed: 4, outcomes: { created: 1, updated: 1, unchanged: 1, failed: 1 } }, NOW);
    expect(j).toMatchObject({ created: 6, updated: 2, unchanged: 1, failed: 1, doctors: 4 });
  });
});

describe('percentOf', () => {
  it('uses the real patient count inside the patients phase', () => {
    expect(percentOf(job({ cursor: { phase: 'patients', page: 2, chunk: 0 }, patients: 500, patientsTotal: 1000 }))).toBe(10 + 22);
  });

  it('counts appointment chunks and pages', () => {
    const chunks = [0, 1, 2, 3].map(() => ({ start: '2026-01-01', end: '2026-01-02' }));
    expect(percentOf(job({ chunks, cursor: { phase: 'appointments', page: 2, chunk: 2, pages: 2 } }))).toBe(Math.floor(55 + (45 * 2.5) / 4));
  });

  it('never reports 100 before the job completed', () => {
    expect(percentOf(job({ cursor: { phase: 'appointments', page: 9, chunk: 0, pages: 10 }, chunks: [], since: 'x' }))).toBeLessThan(100);
  });
});

describe('decideStep', () => {
  it('runs the step the job is at, paused or not', () => {
    expect(decideStep(job({ step: 4 }), 'j1', 4)).toEqual({ action: 'run' });
    expect(decideStep(job({ step: 4, status: 'paused' }), 'j1', 4)).toEqual({ action: 'run' });
  });

  it('drops work items of another job, a finished job, or a step already done and enqueued', () => {
    expect(decideStep(job(), 'other', 0).action).toBe('drop');
    expect(decideStep(undefined, 'j1', 0).action).toBe('drop');
    expect(decideStep(job({ status: 'completed' }), 'j1', 0).action).toBe('drop');
    expect(decideStep(job({ step: 5, enqueuedStep: 5 }), 'j1', 4).action).toBe('drop');
  });

  it('re-enqueues the current step when the previous run committed but never enqueued it', () => {
    expect(decideStep(job({ step: 5, enqueuedStep: 4 }), 'j1', 4)).toEqual({ action: 'enqueue-current' });
  });
});
