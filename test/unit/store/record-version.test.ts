import fc from 'fast-check';
import {
  compareVersions,
  contentHash,
  decideWrite,
  normalizeUpdatedAt,
  parseVersionKey,
  recordVersion,
  supersededKeys,
  versionKey,
  type IncomingVersionState,
  type RecordVersion,
  type StoredVersionState,
  type VersionAuthority,
} from '../../../shared/store/record-version';
import { patientTombstone } from '../../../shared/store/records';

const OBSERVED = '2024-01-16T12:00:00.000Z';
const v = (updatedAt: string | null, observedAt = OBSERVED, authority: VersionAuthority = 'delivered'): RecordVersion => ({
  updatedAt: updatedAt === null ? null : normalizeUpdatedAt(updatedAt),
  observedAt,
  authority,
});
const fetched = (updatedAt: string, sentAt: string) => v(updatedAt, sentAt, 'fetched');
const stored = (version: RecordVersion, hash = 'h1', deleted = false): StoredVersionState => ({ version: versionKey(version), contentHash: hash, deleted });
const incoming = (version: RecordVersion, hash = 'h1', deleted = false): IncomingVersionState => ({ version, contentHash: hash, deleted });

describe('normalizeUpdatedAt', () => {
  it('pads DrChrono timestamps to one fixed width', () => {
    expect(normalizeUpdatedAt('2024-01-15T10:30:00')).toBe('2024-01-15T10:30:00.000000000');
    expect(normalizeUpdatedAt('2024-01-15T10:30:00.5')).toBe('2024-01-15T10:30:00.500000000');
    expect(normalizeUpdatedAt('2024-01-15 10:30')).toBe('2024-01-15T10:30:00.000000000');
  });

  it('orders fractional and whole seconds correctly as strings', () => {
    expect(compareVersions(v('2024-01-15T10:30:00.5'), v('2024-01-15T10:30:01'))).toBe(-1);
  });

  it.each([
    ['2024-01-15T10:30:00Z', '2024-01-15T10:30:00.000000000'],
    ['2024-01-15T10:30:00-05:00', '2024-01-15T10:30:00.000000000'],
    ['2024-01-15T10:30:00.25+0530', '2024-01-15T10:30:00.250000000'],
    ['2024-01-15T10:30:00.1234567891234-08', '2024-01-15T10:30:00.123456789'],
  ])('keeps the wall clock a timestamp with an offset states, dropping the offset: %s', (raw, canonical) => {
    expect(normalizeUpdatedAt(raw)).toBe(canonical);
  });

  it('orders a timestamp with an offset among offset-less ones by the wall clock it states', () => {
    expect(compareVersions(v('2024-01-15T10:30:01-05:00'), v('2024-01-15T10:30:00.999'))).toBe(1);
    expect(compareVersions(v('2024-01-15T10:30:00Z'), v('2024-01-15T10:30:00.001'))).toBe(-1);
  });

  it.each([[undefined], [null], [''], ['yesterday'], ['2024-01-15']])('has no version for %p', (raw) => {
    expect(normalizeUpdatedAt(raw)).toBeNull();
  });
});

describe('recordVersion', () => {
  it('normalises the observation time to ISO UTC', () => {
    expect(recordVersion(undefined, '2024-01-16T13:00:00+01:00').observedAt).toBe(OBSERVED);
  });

  it('marks a state as delivered unless it was fetched', () => {
    expect(recordVersion('2024-01-15T10:30:00', OBSERVED).authority).toBe('delivered');
    expect(recordVersion('2024-01-15T10:30:00', OBSERVED, 'fetched').authority).toBe('fetched');
  });

  it('rejects an observation time that is not a time', () => {
    expect(() => recordVersion(undefined, 'soon')).toThrow(RangeError);
  });
});

describe('compareVersions', () => {
  it('orders by updated_at', () => {
    expect(compareVersions(v('2024-01-15T10:30:00'), v('2024-01-15T10:31:00'))).toBe(-1);
    expect(compareVersions(v('2024-01-15T10:31:00'), v('2024-01-15T10:30:00'))).toBe(1);
  });

  it('lets a newer updated_at win whatever the authorities and times', () => {
    expect(compareVersions(v('2024-01-15T10:30:01', '2024-01-01T00:00:00.000Z'), fetched('2024-01-15T10:30:00', '2024-05-01T00:00:00.000Z'))).toBe(1);
  });

  it('ranks a fetch of the same second above a state delivered before the fetch was sent', () => {
    const delivered = v('2024-01-15T10:30:00', '2024-01-16T12:00:00.000Z');
    const fetch = fetched('2024-01-15T10:30:00', '2024-01-16T12:00:00.001Z');
    expect(compareVersions(fetch, delivered)).toBe(1);
    expect(compareVersions(delivered, fetch)).toBe(-1);
  });

  it('cannot order a fetch and a same-second state delivered after it was sent', () => {
    const fetch = fetched('2024-01-15T10:30:00', '2024-01-16T12:00:00.000Z');
    expect(compareVersions(fetch, v('2024-01-15T10:30:00', '2024-01-16T12:00:00.000Z'))).toBe(0);
    expect(compareVersions(v('2024-01-15T10:30:00', '2024-01-16T12:00:05.000Z'), fetch)).toBe(0);
  });

  it('lets the later of two fetches of the same second win', () => {
    expect(compareVersions(fetched('2024-01-15T10:30:00', '2024-01-16T12:00:01.000Z'), fetched('2024-01-15T10:30:00', OBSERVED))).toBe(1);
  });

  it('cannot order two delivered states of the same second, whenever they were received', () => {
    expect(compareVersions(v('2024-01-15T10:30:00', '2024-05-01T00:00:00.000Z'), v('2024-01-15T10:30:00'))).toBe(0);
  });

  it('orders versions without updated_at by observation time', () => {
    expect(compareVersions(v(null, '2024-01-01T00:00:00.000Z'), v(null, '2024-01-02T00:00:00.000Z'))).toBe(-1);
  });

  it('ranks any updated_at version above any observation-only version', () => {
    expect(compareVersions(v(null, '2099-01-01T00:00:00.000Z', 'fetched'), v('2000-01-01T00:00:00'))).toBe(-1);
  });

  const versionArb = fc.record({
    // A few seconds and instants, so equal updated_at and close times are common.
    updatedAt: fc.option(fc.constantFrom('2024-01-15T10:30:00', '2024-01-15T10:30:01', '2024-01-15T10:30:01.5'), { nil: null }),
    observedAt: fc.integer({ min: 0, max: 4 }).map((ms) => new Date(Date.UTC(2024, 0, 16, 12, 0, 0, ms)).toISOString()),
    authority: fc.constantFrom<VersionAuthority>('delivered', 'fetched'),
  }).map((a) => recordVersion(a.updatedAt, a.observedAt, a.authority));

  it('is antisymmetric and transitive (a strict partial order)', () => {
    fc.assert(
      fc.property(versionArb, versionArb, versionArb, (a, b, c) => {
        expect(compareVersions(a, b)).toBe(-compareVersions(b, a) || 0);
        if (compareVersions(a, b) > 0 && compareVersions(b, c) > 0) expect(compareVersions(a, c)).toBe(1);
      }),
    );
  });

  it('agrees with the string ranges the DynamoDB condition uses', () => {
    // The condition in records.ts: stored < below OR (fetchedAfter < stored < fetchedBefore).
    const conditionHolds = (incoming: RecordVersion, storedKey: string) => {
      const r = supersededKeys(incoming);
      const inFetchedRange = r.fetchedAfter !== undefined && r.fetchedBefore !== undefined && storedKey > r.fetchedAfter && storedKey < r.fetchedBefore;
      return storedKey < r.below || inFetchedRange;
    };
    fc.assert(
      fc.property(versionArb, versionArb, (incoming, stored) => {
        expect(conditionHolds(incoming, versionKey(stored))).toBe(compareVersions(incoming, stored) === 1);
      }),
      { numRuns: 500 },
    );
  });

  it('reads back every version key it writes', () => {
    fc.assert(
      fc.property(versionArb, (a) => {
        const parsed = parseVersionKey(versionKey(a));
        expect(parsed && compareVersions(parsed, a)).toBe(0);
        expect(parsed && versionKey(parsed)).toBe(versionKey(a));
      }),
    );
  });
});

describe('contentHash', () => {
  it('does not depend on field order', () => {
    expect(contentHash({ a: 1, b: 'x' })).toBe(contentHash({ b: 'x', a: 1 }));
  });

  it('tells a cleared field from a changed one', () => {
    expect(contentHash({ a: null })).not.toBe(contentHash({ a: '' }));
  });
});

describe('decideWrite', () => {
  const older = v('2024-01-15T10:00:00');
  const newer = v('2024-01-15T11:00:00');

  it('creates a record that does not exist', () => {
    expect(decideWrite(undefined, incoming(newer))).toEqual({ write: true, outcome: 'created' });
  });

  it('updates a record with a newer version and different content', () => {
    expect(decideWrite(stored(older, 'h1'), incoming(newer, 'h2'))).toEqual({ write: true, outcome: 'updated' });
  });

  it('advances the version of a record whose newer state has the same content, reporting unchanged', () => {
    expect(decideWrite(stored(older, 'h1'), incoming(newer, 'h1'))).toEqual({ write: true, outcome: 'unchanged' });
  });

  it('writes nothing for a duplicate delivery, even one received later', () => {
    expect(decideWrite(stored(newer, 'h1'), incoming(v('2024-01-15T11:00:00', '2024-01-17T00:00:00.000Z'), 'h1'))).toEqual({ write: false, outcome: 'unchanged' });
  });

  it('reports a tie for a different state delivered with the same updated_at', () => {
    expect(decideWrite(stored(newer, 'h1'), incoming(v('2024-01-15T11:00:00', '2024-01-17T00:00:00.000Z'), 'h2'))).toEqual({ write: false, outcome: 'tie' });
  });

  it('writes a fetched state over a same-second state delivered before the fetch', () => {
    expect(decideWrite(stored(newer, 'h1'), incoming(fetched('2024-01-15T11:00:00', '2024-01-16T12:00:01.000Z'), 'h2'))).toEqual({ write: true, outcome: 'updated' });
  });

  it('skips a same-second state delivered before the stored fetch was sent', () => {
    const storedFetch = stored(fetched('2024-01-15T11:00:00', '2024-01-16T12:00:01.000Z'), 'h1');
    expect(decideWrite(storedFetch, incoming(v('2024-01-15T11:00:00', OBSERVED), 'h2'))).toEqual({ write: false, outcome: 'stale-skipped' });
  });

  it('reports a tie for a same-second state delivered after the stored fetch was sent', () => {
    const storedFetch = stored(fetched('2024-01-15T11:00:00', OBSERVED), 'h1');
    expect(decideWrite(storedFetch, incoming(v('2024-01-15T11:00:00', '2024-01-16T12:00:02.000Z'), 'h2'))).toEqual({ write: false, outcome: 'tie' });
  });

  it('skips an older state arriving after a newer one', () => {
    expect(decideWrite(stored(newer, 'h2'), incoming(older, 'h1'))).toEqual({ write: false, outcome: 'stale-skipped' });
  });

  it('applies a delete to a live record whatever its version', () => {
    expect(decideWrite(stored(newer), incoming(v(null), 'h0', true))).toEqual({ write: true, outcome: 'deleted' });
  });

  it('stores a delete for a record it never saw, as a tombstone', () => {
    expect(decideWrite(undefined, incoming(older, 'h0', true))).toEqual({ write: true, outcome: 'deleted' });
  });

  it('does not resurrect a deleted record with a later modify', () => {
    expect(decideWrite(stored(older, 'h0', true), incoming(v('2030-01-01T00:00:00'), 'h9'))).toEqual({ write: false, outcome: 'stale-skipped' });
  });

  it('reports a repeated delete as unchanged', () => {
    expect(decideWrite(stored(older, 'h0', true), incoming(older, 'h0', true))).toEqual({ write: false, outcome: 'unchanged' });
  });
});

describe('patient tombstone version', () => {
  it('sorts ABOVE every live version, so "patient versions only grow" holds through a deletion (patient-references.ts)', () => {
    const live = versionKey(recordVersion('2026-11-21T10:30:00', '2026-11-21T15:00:00.000Z', 'fetched'));
    const timestampless = versionKey(recordVersion(null, '2026-11-21T15:00:00.000Z'));
    const tomb = versionKey(patientTombstone('104857601', '2026-11-21T16:00:00.000Z').version);
    // setAppointmentPatient applies only when `patientVersion < :pv`: a fan-out carrying the tombstone's version
    // must compare above the live stamp the appointments hold, even one observed after the deletion.
    expect(tomb > live).toBe(true);
    expect(tomb > timestampless).toBe(true);
    expect(tomb > versionKey(recordVersion('9999-12-31T23:59:59.999', '2099-01-01T00:00:00.000Z', 'fetched'))).toBe(true);
  });

  it('round-trips and is ordered above every live version by compareVersions too', () => {
    const tomb = patientTombstone('104857601', '2026-11-21T16:00:00.000Z').version;
    expect(parseVersionKey(versionKey(tomb))).toEqual(tomb);
    const live = recordVersion('2030-01-01T00:00:00', '2030-01-01T00:00:00.000Z', 'fetched');
    expect(compareVersions(tomb, live)).toBe(1);
    expect(compareVersions(live, tomb)).toBe(-1);
  });
});
