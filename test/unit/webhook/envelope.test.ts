import { parseWebhookEnvelope } from '../../../shared/webhook/envelope';

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

  it('rejects a string object id with a slash or whitespace, which would change the DrChrono URL it is fetched from', () => {
    expect(parse({ receiver: {}, object: { id: '12/../34' } }).ok).toBe(false);
    expect(parse({ receiver: {}, object: { id: ' 12' } }).ok).toBe(false);
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
