import fc from 'fast-check';
import type { FieldValue, MappedRecord } from '../../../shared/mapping';
import { contentHash, decideWrite, versionKey } from '../../../shared/store/record-version';
import { deliveryHistoryArb } from '../mapping/record-deliveries';

/** The records table as the order guard sees it: the write semantics of records.ts, in memory. */
interface ModelItem {
  version: string;
  deleted: boolean;
  contentHash: string;
  fields: Record<string, FieldValue>;
}

function applyAll(records: MappedRecord[]): { store: Map<string, ModelItem>; writes: number[] } {
  const store = new Map<string, ModelItem>();
  const writes: number[] = [];
  records.forEach((record, index) => {
    const id = `${record.entity}#${record.drchronoId}`;
    const existing = store.get(id);
    const hash = contentHash(record.fields);
    const decision = decideWrite(existing, { version: record.version, deleted: record.deleted === true, contentHash: hash });
    if (!decision.write) return;
    writes.push(index);
    // Deletes replace the item with a tombstone; upserts update only the written fields.
    const fields = record.deleted ? { ...record.fields } : { ...existing?.fields, ...record.fields };
    store.set(id, { version: versionKey(record.version), deleted: record.deleted === true, contentHash: hash, fields });
  });
  return { store, writes };
}

const stateOf = (store: Map<string, ModelItem>) => new Map([...store].map(([id, item]) => [id, { deleted: item.deleted, fields: item.fields }]));

describe('order-safe writes (decideWrite over an in-memory store)', () => {
  it('ends in the in-order state for any permutation and duplication of the deliveries', () => {
    fc.assert(
      fc.property(deliveryHistoryArb, ({ deliveries, shuffled }) => {
        expect(stateOf(applyAll(shuffled).store)).toEqual(stateOf(applyAll(deliveries).store));
      }),
      { numRuns: 300 },
    );
  });

  it('never writes a delivery a second time', () => {
    fc.assert(
      fc.property(deliveryHistoryArb, ({ shuffled }) => {
        const { writes } = applyAll(shuffled);
        const written = writes.map((i) => shuffled[i]);
        expect(new Set(written).size).toBe(written.length);
      }),
      { numRuns: 300 },
    );
  });
});
