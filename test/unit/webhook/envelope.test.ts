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
});
