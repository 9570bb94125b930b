import fc from 'fast-check';
import { compareVersions, normalizeUpdatedAt, recordVersion, versionKey } from '../../../shared/store/record-version';

/** Seeded: FC_SEED reproduces a run; fast-check prints the seed and the shrunk counterexample on failure. */
const seed = Number(process.env.FC_SEED) || Date.now() % 2 ** 31;

/** A practice wall-clock time to the nanosecond: whole-second epoch (2000-2100) plus nanoseconds. */
const wallClockArb = fc.record({
  seconds: fc.integer({ min: 946_684_800, max: 4_102_444_799 }),
  // Few distinct values, so equal and adjacent times come up often.
  nanos: fc.oneof(fc.constant(0), fc.constantFrom(1, 500_000_000, 999_999_999), fc.integer({ min: 0, max: 999_999_999 })),
});
type WallClock = { seconds: number; nanos: number };

/** The ways DrChrono may write one wall-clock time: no offset, Z or any offset, 0-9 fraction digits. */
const formArb = fc.record({
  offset: fc.constantFrom('', 'Z', 'z', '-05:00', '+05:30', '-0800', '+01', '+00:00'),
  digits: fc.integer({ min: 0, max: 9 }),
});

function render(t: WallClock, form: { offset: string; digits: number }): string | undefined {
  const base = new Date(t.seconds * 1000).toISOString().slice(0, 19);
  const frac = String(t.nanos).padStart(9, '0');
  // Fewer digits can only write the time if the dropped digits are zeros.
  if (form.digits < 9 && !/^0*$/.test(frac.slice(form.digits))) return undefined;
  return `${base}${form.digits > 0 ? `.${frac.slice(0, form.digits)}` : ''}${form.offset}`;
}

const stampArb = fc
  .tuple(wallClockArb, formArb, formArb)
  .map(([t, f]) => ({ t, text: render(t, f) ?? render(t, { offset: f.offset, digits: 9 })! }));

const order = (a: WallClock, b: WallClock) => Math.sign(a.seconds - b.seconds || a.nanos - b.nanos);
const version = (text: string) => recordVersion(text, '2026-11-21T16:00:00.000Z');

describe('order guard over timestamps in mixed forms (offset-less, Z, ±offsets, fractional seconds)', () => {
  it('orders any two timestamps by the wall clock they state, whatever their forms', () => {
    fc.assert(
      fc.property(stampArb, stampArb, (a, b) => {
        expect(normalizeUpdatedAt(a.text)).not.toBeNull();
        expect(compareVersions(version(a.text), version(b.text))).toBe(order(a.t, b.t));
        // The stored key (what the DynamoDB condition compares) agrees with compareVersions.
        const ka = versionKey(version(a.text));
        const kb = versionKey(version(b.text));
        expect(Math.sign(ka < kb ? -1 : ka > kb ? 1 : 0)).toBe(order(a.t, b.t));
      }),
      { seed, numRuns: 1000 },
    );
  });

  it('is a total order: antisymmetric and transitive across forms', () => {
    fc.assert(
      fc.property(stampArb, stampArb, stampArb, (a, b, c) => {
        const [va, vb, vc] = [a, b, c].map((s) => version(s.text));
        expect(compareVersions(va!, vb!) + compareVersions(vb!, va!)).toBe(0);
        if (compareVersions(va!, vb!) >= 0 && compareVersions(vb!, vc!) >= 0) expect(compareVersions(va!, vc!)).toBeGreaterThanOrEqual(0);
      }),
      { seed, numRuns: 1000 },
    );
  });
});
