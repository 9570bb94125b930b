import { settleBatch } from '../../../local/poller/batch-result';

const ids = ['m1', 'm2', 'm3'];

describe('settleBatch: Lambda partial batch response contract', () => {
  it.each([
    ['undefined', undefined],
    ['null', null],
    ['an object without batchItemFailures', { other: 1 }],
    ['an empty batchItemFailures list', { batchItemFailures: [] }],
    ['a null batchItemFailures', { batchItemFailures: null }],
  ])('treats %s as complete success', (_label, response) => {
    expect(settleBatch(ids, { ok: true, response })).toEqual({ succeeded: ids, failed: [] });
  });

  it('deletes everything except the reported failures', () => {
    const result = settleBatch(ids, { ok: true, response: { batchItemFailures: [{ itemIdentifier: 'm2' }] } });
    expect(result).toEqual({ succeeded: ['m1', 'm3'], failed: ['m2'] });
  });

  it('counts a failure reported twice once', () => {
    const response = { batchItemFailures: [{ itemIdentifier: 'm1' }, { itemIdentifier: 'm1' }] };
    expect(settleBatch(ids, { ok: true, response })).toEqual({ succeeded: ['m2', 'm3'], failed: ['m1'] });
  });

  it('fails the whole batch when the function threw', () => {
    const result = settleBatch(ids, { ok: false, error: new Error('boom') });
    expect(result.succeeded).toEqual([]);
    expect(result.failed).toEqual(ids);
    expect(result.wholeBatchFailure).toBe('function error');
  });

  it.each([
    ['an empty itemIdentifier', { batchItemFailures: [{ itemIdentifier: '' }] }],
    ['a null itemIdentifier', { batchItemFailures: [{ itemIdentifier: null }] }],
    ['a wrongly named key', { batchItemFailures: [{ id: 'm1' }] }],
    ['an id that is not in the batch', { batchItemFailures: [{ itemIdentifier: 'other' }] }],
    ['a non-list batchItemFailures', { batchItemFailures: 'm1' }],
    ['a non-object response', 'ok'],
    ['an array response', [{ itemIdentifier: 'm1' }]],
  ])('fails the whole batch for %s', (_label, response) => {
    const result = settleBatch(ids, { ok: true, response });
    expect(result.succeeded).toEqual([]);
    expect(result.failed).toEqual(ids);
    expect(result.wholeBatchFailure).toBeDefined();
  });

  it('fails the whole batch when one valid failure sits next to an invalid entry', () => {
    const response = { batchItemFailures: [{ itemIdentifier: 'm1' }, { itemIdentifier: '' }] };
    expect(settleBatch(ids, { ok: true, response }).failed).toEqual(ids);
  });
});
