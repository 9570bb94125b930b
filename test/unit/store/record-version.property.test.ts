import fc from 'fast-check';
import type { FieldValue, MappedRecord } from '../../../shared/mapping';
import { contentHash, decideWrite, versionKey, type WriteOutcome } from '../../../shared/store/record-version';
import { deliveryHistoryArb, objectId, processDeliveries, type StoredState } from '../mapping/record-deliveries';

/** The records table as the order guard sees it: the write semantics of records.ts, in memory. */
interface ModelItem {
  version: string;
  deleted: boolean;
  contentHash: string;
  fields: Record<string, FieldValue>;
}

class ModelStore {
  readonly items = new Map<string, ModelItem>();
  /** Every record object that caused a write, in order. */
  readonly writes: MappedRecord[] = [];

  write(record: MappedRecord): WriteOutcome {
    const id = objectId(record);
    const existing = this.items.get(id);
    const hash = contentHash(record.fields);
    const decision = decideWrite(existing, { version: record.version, deleted: record.deleted === true, contentHash: hash });
    if (!decision.write) return decision.outcome;
    this.writes.push(record);
    // Deletes replace the item with a tombstone; upserts update only the written fields.
    const fields = record.deleted ? { ...record.fields } : { ...existing?.fields, ...record.fields };
    this.items.set(id, { version: versionKey(record.version), deleted: record.deleted === true, contentHash: hash, fields });
    return decision.outcome;
  }

  state(): Map<string, StoredState> {
    return new Map([...this.items].map(([id, item]) => [id, { deleted: item.deleted, fields: item.fields }]));
  }
}

describe('order-safe writes (decideWrite over an in-memory store)', () => {
  it("ends in DrChrono's current state for any permutation and duplication of the deliveries, same-second changes included", async () => {
    await fc.assert(
      fc.asyncProperty(deliveryHistoryArb, async (history) => {
        const store = new ModelStore();
        await processDeliveries(history, (r) => store.write(r));
        expect(store.state()).toEqual(history.expected);
      }),
      { numRuns: 300 },
    );
  });

  it('never writes a delivery a second time', async () => {
    await fc.assert(
      fc.asyncProperty(deliveryHistoryArb, async (history) => {
        const store = new ModelStore();
        await processDeliveries(history, (r) => store.write(r));
        const delivered = store.writes.filter((r) => history.shuffled.includes(r));
        expect(new Set(delivered).size).toBe(delivered.length);
      }),
      { numRuns: 300 },
    );
  });

  it('costs no fetch when no two different states share a second', async () => {
    await fc.assert(
      fc.asyncProperty(deliveryHistoryArb, async (history) => {
        const contentsBySecond = new Map<string, Set<string>>();
        for (const r of history.shuffled) {
          if (r.version.updatedAt === null) continue;
          const key = `${objectId(r)}|${r.version.updatedAt}`;
          contentsBySecond.set(key, (contentsBySecond.get(key) ?? new Set()).add(contentHash(r.fields)));
        }
        fc.pre([...contentsBySecond.values()].every((hashes) => hashes.size === 1));
        const store = new ModelStore();
        expect(await processDeliveries(history, (r) => store.write(r))).toBe(0);
      }),
      { numRuns: 100 },
    );
  });
});
