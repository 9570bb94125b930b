import fc from 'fast-check';
import { encodeSqsMessageBody, isSqsText } from '../../../shared/ingest/sqs-message-body';

/** Seeded: FC_SEED reproduces a run; fast-check prints the seed and the shrunk counterexample on failure. */
const seed = Number(process.env.FC_SEED) || Date.now() % 2 ** 31;

/** One string unit: any code point, the two non-characters SQS refuses, lone surrogates, astral characters. */
const anyUnit = fc.oneof(
  fc.constantFrom('\uFFFE', '\uFFFF', '\uD800', '\uDBFF', '\uDC00', '\uDFFF', '\u{1F600}', '\u0000', '\u2028'),
  fc.integer({ min: 0, max: 0xffff }).map((u) => String.fromCharCode(u)),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
);

describe('encodeSqsMessageBody', () => {
  it('escapes U+FFFE and U+FFFF so the body is SQS text that parses back to the same value', () => {
    const value = { first_name: 'A\uFFFEB\uFFFF', nested: [{ x: '\uFFFF' }] };
    const body = encodeSqsMessageBody(value);
    expect(isSqsText(body)).toBe(true);
    expect(body).toContain('\\ufffe');
    expect(JSON.parse(body)).toEqual(value);
  });

  it('keeps lone surrogates escaped and characters above U+FFFF as they are', () => {
    const value = { a: 'x\uD800y', b: '\uDFFF', c: 'smile \u{1F600}' };
    const body = encodeSqsMessageBody(value);
    expect(isSqsText(body)).toBe(true);
    expect(body).toContain('\u{1F600}');
    expect(JSON.parse(body)).toEqual(value);
  });

  it('turns any JSON value with any string content into SQS-accepted text that JSON.parse maps back to it', () => {
    fc.assert(
      fc.property(fc.jsonValue({ stringUnit: anyUnit, maxDepth: 4 }), (value) => {
        const body = encodeSqsMessageBody(value);
        expect(isSqsText(body)).toBe(true);
        expect(JSON.parse(body)).toEqual(JSON.parse(JSON.stringify(value)));
      }),
      { seed, numRuns: 500 },
    );
  });
});

describe('isSqsText', () => {
  it.each([
    ['tab, newline, carriage return', '\t\n\r', true],
    ['the last BMP character SQS accepts', '\uFFFD', true],
    ['an emoji (a surrogate pair)', '\u{1F600}', true],
    ['U+FFFE', '\uFFFE', false],
    ['U+FFFF', '\uFFFF', false],
    ['a lone high surrogate', '\uD800', false],
    ['a lone low surrogate', '\uDC00', false],
    ['a control character', '\u0001', false],
  ])('%s → %s', (_what, text, ok) => {
    expect(isSqsText(text)).toBe(ok);
  });
});
