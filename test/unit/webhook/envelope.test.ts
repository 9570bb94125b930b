import { jsonNestingExceeds, MAX_JSON_NESTING, MAX_OBJECT_ID_CHARS, parseWebhookEnvelope } from '../../../shared/webhook/envelope';

const parse = (value: unknown) => parseWebhookEnvelope(Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)));

describe('parseWebhookEnvelope', () => {
  it('keeps the whole object, unknown keys included', () => {
    const r = parse({ receiver: { id: 7 }, object: { id: 42, chart_id: 'ABCD0001', extra: { a: 1 } }, practice_group_id: 9 });
    expect(r).toEqual({
      ok: true,
      envelope: { receiver: { id: 7 }, object: { id: 42, chart_id: 'ABCD0001', extra: { a: 1 } }, practice_group_id: 9 },
    });
  });

  it('accepts a string object id', () => {
    expect(parse({ receiver: {}, object: { id: 'abc' } }).ok).toBe(true);
  });

  it('rejects a body that is not JSON', () => {
    expect(parse('{"receiver":')).toEqual({ ok: false, error: 'body is not valid JSON' });
  });

  it('rejects a JSON array', () => {
    expect(parse([1, 2]).ok).toBe(false);
  });

  it('rejects a missing receiver', () => {
    expect(parse({ object: { id: 1 } })).toEqual({ ok: false, error: 'invalid webhook envelope: receiver' });
  });

  it('rejects a null receiver', () => {
    expect(parse({ receiver: null, object: { id: 1 } }).ok).toBe(false);
  });

  it('rejects a missing object', () => {
    expect(parse({ receiver: {} })).toEqual({ ok: false, error: 'invalid webhook envelope: object' });
  });

  it('rejects an object without an id', () => {
    expect(parse({ receiver: {}, object: { first_name: 'Zed' } })).toEqual({ ok: false, error: 'invalid webhook envelope: object.id' });
  });

  it('rejects an object id of the wrong type', () => {
    expect(parse({ receiver: {}, object: { id: true } }).ok).toBe(false);
  });

  it('does not echo body values in its error', () => {
    const r = parse({ receiver: {}, object: { id: { first_name: 'Zelda-Unique-Name' } } });
    expect(r.ok).toBe(false);
    expect(JSON.stringify(r)).not.toContain('Zelda-Unique-Name');
  });

  it('rejects a string object id longer than a record sort key should be', () => {
    expect(parse({ receiver: {}, object: { id: '1'.repeat(2000) } })).toEqual({ ok: false, error: 'invalid webhook envelope: object.id' });
  });

  it('accepts string ids with a slash or whitespace: the client sends each as one escaped path segment', () => {
    expect(parse({ receiver: {}, object: { id: '12/../34' } }).ok).toBe(true);
    expect(parse({ receiver: {}, object: { id: ' 12' } }).ok).toBe(true);
  });

  it('rejects a negative, fractional or unsafe numeric object id', () => {
    for (const id of [-1, 1.5, 2 ** 60]) expect(parse({ receiver: {}, object: { id } }).ok).toBe(false);
  });

  it('rejects null, number and string bodies', () => {
    for (const body of ['null', '42', '"text"']) expect(parse(body).ok).toBe(false);
  });

  it('drops a __proto__ key instead of turning it into a prototype', () => {
    const r = parse('{"receiver":{},"object":{"id":1,"__proto__":{"polluted":true}},"__proto__":{"polluted":true}}');
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(Object.getPrototypeOf(r.envelope.object)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(JSON.stringify(r.envelope)).not.toContain('polluted');
  });

  it('rejects a body that is not UTF-8 text', () => {
    expect(parseWebhookEnvelope(Buffer.from([0xff, 0xfe, 0x7b, 0x00]))).toEqual({ ok: false, error: 'body is not valid JSON' });
  });
});

describe('parseWebhookEnvelope: nesting', () => {
  const nested = (depth: number) => `{"receiver":{},"object":{"id":1,"x":${'['.repeat(depth - 2)}${']'.repeat(depth - 2)}}}`;

  it('refuses a body nested 5,000 levels deep (10 KB) without recursing into it', () => {
    expect(parse(nested(5000))).toEqual({ ok: false, error: `body nests deeper than ${MAX_JSON_NESTING} levels` });
  });

  it('accepts a body nested exactly the limit', () => {
    expect(parse(nested(MAX_JSON_NESTING)).ok).toBe(true);
  });

  it('refuses a body nested one level more than the limit', () => {
    expect(parse(nested(MAX_JSON_NESTING + 1)).ok).toBe(false);
  });
});

describe('jsonNestingExceeds', () => {
  it('does not count brackets inside strings, escaped quotes included', () => {
    expect(jsonNestingExceeds(JSON.stringify({ a: '[[[[{{{{"\\"[[[[' }), 1)).toBe(false);
    expect(jsonNestingExceeds(JSON.stringify({ a: ['x"]'] }), 1)).toBe(true);
  });

  it('counts objects and arrays alike', () => {
    expect(jsonNestingExceeds('[{"a":[{}]}]', 4)).toBe(false);
    expect(jsonNestingExceeds('[{"a":[{}]}]', 3)).toBe(true);
  });
});

describe('parseWebhookEnvelope: object ids (DrChrono: "usually numeric but not always")', () => {
  it.each([
    ['spaces, a slash and non-ASCII', 'Appt 7/B é'],
    ['a hash, percent and query characters', 'x#1%2?y=z'],
    ['another script and an emoji', '予約-١٢ \u{1F600}'],
    ['U+FFFE (escaped when queued)', 'a\uFFFEb'],
    [`${MAX_OBJECT_ID_CHARS} characters above U+FFFF`, '\u{1F600}'.repeat(MAX_OBJECT_ID_CHARS)],
  ])('accepts an id with %s', (_what, id) => {
    expect(parse({ receiver: {}, object: { id } })).toMatchObject({ ok: true, envelope: { object: { id } } });
  });

  it.each([
    ['empty', ''],
    ['too long', 'x'.repeat(MAX_OBJECT_ID_CHARS + 1)],
    ['a control character', 'a\u0007b'],
    ['a newline', 'a\nb'],
    ['a C1 control character', 'a\u0085b'],
    ['an unpaired surrogate', 'a\uD800b'],
    ['a dot segment', '..'],
  ])('refuses an id that is %s, naming the field only', (_what, id) => {
    expect(parse({ receiver: {}, object: { id } })).toEqual({ ok: false, error: 'invalid webhook envelope: object.id' });
  });
});
