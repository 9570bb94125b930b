import fc from 'fast-check';
import { composeAddress } from '../../../shared/mapping/map-patient';
import { DRCHRONO_STATE_CODES, splitAddress } from '../../../shared/write-back/address-parts';

/** Seeded: FC_SEED reproduces a run; fast-check prints the seed and the shrunk counterexample on failure. */
const seed = Number(process.env.FC_SEED) || Date.now() % 2 ** 31;

const STATES = [...DRCHRONO_STATE_CODES];

/** Text made of the characters the split rule reacts to, so separators, blanks and look-alikes come up often. */
const tricky = fc.string({ unit: fc.constantFrom(',', ' ', ', ', 'a', 'Z', '1', '9', '-', '\t', 'CA', '94107', 'ca'), maxLength: 8 });
const zip = fc.oneof(fc.stringMatching(/^\d{5}$/), fc.stringMatching(/^\d{5}-\d{4}$/));
/** One DrChrono address part as DrChrono may hold it: empty, null, absent, words, codes, or tricky text. */
const part = (extra: fc.Arbitrary<string>) =>
  fc.oneof(fc.constant(''), fc.constant(null), fc.constant(undefined), extra, tricky, fc.string({ maxLength: 12 }));

const partsArb = fc.record({
  address: part(fc.constantFrom('123 Main Street', 'Apt 4, 12 Oak Ave', 'PO Box 7')),
  city: part(fc.constantFrom('San Francisco', 'Springfield', 'CA', '94107')),
  state: part(fc.constantFrom(...STATES)),
  zip_code: part(zip),
});

/** Words without separators that the split cannot mistake for a state or ZIP. */
const plainWords = fc.stringMatching(/^[A-Za-z][a-z]{2,8}( [A-Za-z][a-z0-9]{1,8}){0,2}$/);

describe('splitAddress', () => {
  it('gives back, composed again, every string composeAddress can produce', () => {
    fc.assert(
      fc.property(partsArb, (parts) => {
        const text = composeAddress(parts);
        fc.pre(typeof text === 'string');
        expect(composeAddress(splitAddress(text as string))).toBe(text);
      }),
      { seed, numRuns: 3000 },
    );
  });

  it('recovers the exact parts of a street, a city and any state/ZIP', () => {
    fc.assert(
      fc.property(plainWords, plainWords, fc.constantFrom('', ...STATES), fc.oneof(fc.constant(''), zip), (street, city, state, zipCode) => {
        const parts = { address: street, city, state, zip_code: zipCode };
        expect(splitAddress(composeAddress(parts) as string)).toEqual(parts);
      }),
      { seed, numRuns: 1000 },
    );
  });

  it('reads "City, ST 12345" without a street as city, state and ZIP', () => {
    expect(splitAddress('San Francisco, CA 94107')).toEqual({ address: '', city: 'San Francisco', state: 'CA', zip_code: '94107' });
  });

  it('reads a lone state, ZIP or "ST 12345" as those', () => {
    expect(splitAddress('CA')).toEqual({ address: '', city: '', state: 'CA', zip_code: '' });
    expect(splitAddress('94107-1234')).toEqual({ address: '', city: '', state: '', zip_code: '94107-1234' });
    expect(splitAddress('NY 10001')).toEqual({ address: '', city: '', state: 'NY', zip_code: '10001' });
  });

  it('reads "street, city" without state or ZIP as street and city', () => {
    expect(splitAddress('Apt 4, 12 Oak Ave, Springfield')).toEqual({ address: 'Apt 4, 12 Oak Ave', city: 'Springfield', state: '', zip_code: '' });
  });

  it('keeps text it cannot read (a foreign postcode, a lower-case state) in street and city, refusing nothing', () => {
    expect(splitAddress('10 Downing Street, London, SW1A 2AA')).toEqual({ address: '10 Downing Street, London', city: 'SW1A 2AA', state: '', zip_code: '' });
    expect(splitAddress('1 Main St, Springfield, il')).toEqual({ address: '1 Main St, Springfield', city: 'il', state: '', zip_code: '' });
    expect(splitAddress('Somewhere')).toEqual({ address: 'Somewhere', city: '', state: '', zip_code: '' });
  });

  it('does not take a non-DrChrono two-letter code for a state', () => {
    expect(splitAddress('1 Rue X, Paris, FR')).toEqual({ address: '1 Rue X, Paris', city: 'FR', state: '', zip_code: '' });
  });

  it('clears all four parts for blank text', () => {
    expect(splitAddress('  ')).toEqual({ address: '', city: '', state: '', zip_code: '' });
  });
});
