import fc from 'fast-check';
import {
  compareVersions,
  contentHash,
  decideWrite,
  normalizeUpdatedAt,
  recordVersion,
  versionKey,
  type IncomingVersionState,
  type RecordVersion,
  type StoredVersionState,
} from '../../../shared/store/record-version';

const OBSERVED = '2024-01-16T12:00:00.000Z';
const v = (updatedAt: string | null, observedAt = OBSERVED): RecordVersion => ({
  updatedAt: updatedAt === null ? null : normalizeUpdatedAt(updatedAt),
  observedAt,
});
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

  it.each([[undefined], [null], [''], ['yesterday'], ['2024-01-15']])('has no version for %p', (raw) => {
    expect(normalizeUpdatedAt(raw)).toBeNull();
  });
});

describe('recordVersion', () => {
  it('normalises the observation time to ISO UTC', () => {
    expect(recordVersion(undefined, '2024-01-16T13:00:00+01:00').observedAt).toBe(OBSERVED);
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

  it('ignores the observation time when both carry updated_at', () => {
    expect(compareVersions(v('2024-01-15T10:30:00', '2024-05-01T00:00:00.000Z'), v('2024-01-15T10:30:00'))).toBe(0);
  });

  it('orders versions without updated_at by observation time', () => {
    expect(compareVersions(v(null, '2024-01-01T00:00:00.000Z'), v(null, '2024-01-02T00:00:00.000Z'))).toBe(-1);
  });

  it('ranks any updated_at version above any observation-only version', () => {
    expect(compareVersions(v(null, '2099-01-01T00:00:00.000Z'), v('2000-01-01T00:00:00'))).toBe(-1);
  });

  it('agrees with the string order of versionKey, which the DynamoDB condition uses', () => {
    const arb = fc.record({
      updatedAt: fc.option(fc.date({ noInvalidDate: true }).map((d) => d.toISOString().slice(0, 19)), { nil: null }),
      observedAt: fc.date({ noInvalidDate: true, min: new Date(0), max: new Date('2999-01-01') }).map((d) => d.toISOString()),
    });
    fc.assert(
      fc.property(arb, arb, (a, b) => {
        const va = recordVersion(a.updatedAt, a.observedAt);
        const vb = recordVersion(b.updatedAt, b.observedAt);
        const ka = versionKey(va);
        const kb = versionKey(vb);
        expect(compareVersions(va, vb)).toBe(ka < kb ? -1 : ka > kb ? 1 : 0);
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

  it('writes nothing for a duplicate delivery', () => {
    expect(decideWrite(stored(newer, 'h1'), incoming(newer, 'h1'))).toEqual({ write: false, outcome: 'unchanged' });
  });

  it('keeps the stored state on a version tie with different content', () => {
    expect(decideWrite(stored(newer, 'h1'), incoming(newer, 'h2'))).toEqual({ write: false, outcome: 'stale-skipped' });
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
