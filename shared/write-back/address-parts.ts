import { composeAddress } from '../mapping/map-patient';

/**
 * Splitting "Address" back into DrChrono's `address`, `city`, `state`, `zip_code` (docs/write-back.md,
 * "Mapping back"). The forward mapping joins the non-blank parts as `street, city, ST 12345`, so the split
 * reads from the end:
 *   1. the last ", "-separated piece is the state and/or ZIP when it is exactly `ST 12345`, `ST` or `12345`
 *      (`12345-6789` too; ST one of DrChrono's two-letter codes);
 *   2. of what is left, the last piece is the city when something precedes it (`street, city`), or when a
 *      state/ZIP was found (`city, ST 12345`);
 *   3. the rest is the street (`address`); a street may itself contain ", ".
 * A candidate split is kept only if composing it gives the input back; otherwise the next simpler one is
 * tried, ending with the whole string as the street. So every string the forward mapping can produce comes
 * back unchanged (property-tested), and no address is refused: text the rule cannot read (a foreign postcode,
 * a lower-case state) lands in `address` or `city`, where DrChrono keeps it verbatim.
 */
export interface AddressSplit {
  address: string;
  city: string;
  state: string;
  zip_code: string;
}

/** DrChrono's two-letter state codes (its Office schema's `state` enum: states, DC, territories, military). */
export const DRCHRONO_STATE_CODES: ReadonlySet<string> = new Set([
  'AL', 'AK', 'AS', 'AZ', 'AR', 'AA', 'AE', 'AP', 'CA', 'CO', 'CT', 'DE', 'DC', 'FL', 'GA', 'GU', 'HI', 'ID', 'IL', 'IN',
  'IA', 'KS', 'KY', 'LA', 'ME', 'MD', 'MA', 'MI', 'MN', 'MS', 'MO', 'MT', 'NE', 'NV', 'NH', 'NJ', 'NM', 'NY', 'NC', 'ND',
  'MP', 'OH', 'OK', 'OR', 'PA', 'PR', 'RI', 'SC', 'SD', 'TN', 'TX', 'UT', 'VT', 'VI', 'VA', 'WA', 'WV', 'WI', 'WY',
]);

const SEPARATOR = ', ';
const ZIP = /^\d{5}(-\d{4})?$/;

const EMPTY: AddressSplit = { address: '', city: '', state: '', zip_code: '' };

/** `ST 12345`, `ST` or `12345` → its parts; anything else undefined. */
function stateZip(piece: string): { state: string; zip_code: string } | undefined {
  if (ZIP.test(piece)) return { state: '', zip_code: piece };
  if (DRCHRONO_STATE_CODES.has(piece)) return { state: piece, zip_code: '' };
  const space = piece.indexOf(' ');
  if (space === -1) return undefined;
  const state = piece.slice(0, space);
  const zip = piece.slice(space + 1);
  return DRCHRONO_STATE_CODES.has(state) && ZIP.test(zip) ? { state, zip_code: zip } : undefined;
}

/** Split at the last separator: [before, last]; no separator → [undefined, whole]. */
function lastPiece(s: string): [string | undefined, string] {
  const i = s.lastIndexOf(SEPARATOR);
  return i === -1 ? [undefined, s] : [s.slice(0, i), s.slice(i + SEPARATOR.length)];
}

/** Street and city from what precedes the state/ZIP (or the whole text when there is none). */
function streetCity(rest: string, cityAlone: boolean): Array<Pick<AddressSplit, 'address' | 'city'>> {
  const [before, last] = lastPiece(rest);
  const candidates: Array<Pick<AddressSplit, 'address' | 'city'>> = [];
  if (before !== undefined) candidates.push({ address: before, city: last });
  if (cityAlone) candidates.push({ address: '', city: rest });
  candidates.push({ address: rest, city: '' });
  return candidates;
}

/** "Address" → DrChrono's four parts. Blank text clears all four. */
export function splitAddress(text: string): AddressSplit {
  const t = text.trim();
  if (t === '') return { ...EMPTY };
  const candidates: AddressSplit[] = [];
  const [before, last] = lastPiece(t);
  const sz = stateZip(last);
  if (sz !== undefined) {
    if (before === undefined) candidates.push({ ...EMPTY, ...sz });
    else for (const sc of streetCity(before, true)) candidates.push({ ...sc, ...sz });
  }
  for (const sc of streetCity(t, false)) candidates.push({ ...sc, state: '', zip_code: '' });
  // The last candidate (all of it as the street) always composes back to t, which is trimmed.
  return candidates.find((c) => composeAddress(c) === t) ?? { ...EMPTY, address: t };
}
