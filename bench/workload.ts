import type { PlatformInfo } from '../local/platform-info';
import { serialize } from '../local/drchrono-sandbox/serializer';
import { webhookId } from '../local/drchrono-sandbox/webhooks';
import { httpJson, sandboxUrl, type BenchTeam } from './sandbox';

/**
 * The benchmark's webhook traffic: patients and appointments, creates and modifies, with a share of duplicate
 * deliveries (same delivery id and body, as DrChrono's retries) and of out-of-order deliveries (an older
 * modify arriving after a newer one of the same object). Objects are created and modified in the DrChrono
 * sandbox so that anything the sync worker fetches exists; bodies are built as the sandbox's own dispatcher
 * builds them, and posted with DrChrono's headers.
 */
export type Entity = 'patient' | 'appointment';

export interface MixOptions {
  events: number;
  teams: number;
  seed: number;
  createShare?: number;
  duplicateShare?: number;
  outOfOrderShare?: number;
}

export interface Mutation {
  team: number;
  entity: Entity;
  /** Index of the object among all objects of the plan. */
  object: number;
  kind: 'create' | 'modify';
}

export interface MixPlan {
  mutations: Mutation[];
  /** Indexes into mutations, in posting order; a repeated index is a duplicate delivery. */
  posts: number[];
  duplicates: number;
  outOfOrder: number;
}

/** Small deterministic PRNG (mulberry32), so a seed gives the same mix every run. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function planMix(o: MixOptions): MixPlan {
  const rnd = prng(o.seed);
  const duplicates = Math.round(o.events * (o.duplicateShare ?? 0.05));
  const outOfOrder = Math.round(o.events * (o.outOfOrderShare ?? 0.02));
  const unique = o.events - duplicates;
  const creates = Math.max(o.teams * 2, Math.round(unique * (o.createShare ?? 0.35)));
  const mutations: Mutation[] = [];
  const objects: { team: number; entity: Entity }[] = [];
  const pairStarts: number[] = [];
  let pairsLeft = outOfOrder;
  while (mutations.length < unique) {
    const left = unique - mutations.length;
    const createsLeft = creates - objects.length;
    if (createsLeft > 0 && (objects.length < o.teams * 2 || rnd() < createsLeft / left)) {
      const n = objects.length;
      // Each team gets a patient before its first appointment, so appointments can point at one.
      const obj = { team: n % o.teams, entity: (Math.floor(n / o.teams) % 2 === 0 ? 'patient' : 'appointment') as Entity };
      objects.push(obj);
      mutations.push({ ...obj, object: n, kind: 'create' });
      continue;
    }
    const object = Math.floor(rnd() * objects.length);
    const target = objects[object]!;
    mutations.push({ ...target, object, kind: 'modify' });
    // Some modifies are followed at once by a second one of the same object; the pair is posted swapped.
    if (pairsLeft > 0 && left >= 2 && rnd() < (pairsLeft * 2) / left) {
      pairStarts.push(mutations.length - 1);
      mutations.push({ ...target, object, kind: 'modify' });
      pairsLeft--;
    }
  }
  const order = mutations.map((_, i) => i);
  for (const i of pairStarts) [order[i], order[i + 1]] = [order[i + 1]!, order[i]!];
  const posts = [...order];
  for (let d = 0; d < duplicates; d++) {
    // A duplicate arrives a little after its original.
    const at = Math.floor(rnd() * posts.length);
    posts.splice(Math.min(posts.length, at + 1 + Math.floor(rnd() * 20)), 0, posts[at]!);
  }
  return { mutations, posts, duplicates, outOfOrder: pairStarts.length };
}

export interface Delivery {
  teamId: string;
  event: string;
  deliveryId: string;
  body: string;
  signature: string;
  entity: Entity;
  objectId: string;
}

type Json = Record<string, unknown>;

function modifyFields(entity: Entity, n: number): Json {
  return entity === 'patient' ? { email: `bench.${n}@example.invalid`, cell_phone: `(555) 010-${String(n % 10_000).padStart(4, '0')}` } : { notes: `bench change ${n}` };
}

/** Applies the plan's mutations in the sandbox and returns one delivery per mutation (posting order aside). */
export async function materialise(info: PlatformInfo, teams: readonly BenchTeam[], plan: MixPlan, runTag: string): Promise<Delivery[]> {
  const ids = new Map<number, string>();
  const teamPatient = new Map<number, number>();
  const out: Delivery[] = [];
  for (const [i, m] of plan.mutations.entries()) {
    const team = teams[m.team]!;
    const path = m.entity === 'patient' ? 'patients' : 'appointments';
    // Distinct updated_at stamps (second resolution) for successive changes, so "older" means older.
    if (m.kind === 'modify') await httpJson('POST', sandboxUrl(info, '/_sandbox/clock'), { advanceSeconds: 1 }, 200);
    let obj: Json;
    if (m.kind === 'create') {
      const fields: Json = m.entity === 'appointment' && teamPatient.has(m.team) ? { patient: teamPatient.get(m.team) } : {};
      obj = await httpJson<Json>('POST', sandboxUrl(info, `/_sandbox/${path}`), fields, 201);
      ids.set(m.object, String(obj.id));
      if (m.entity === 'patient') teamPatient.set(m.team, Number(obj.id));
    } else {
      obj = await httpJson<Json>('PATCH', sandboxUrl(info, `/_sandbox/${path}/${ids.get(m.object)}`), modifyFields(m.entity, i), 200);
    }
    const receiver = { id: webhookId(team.clientId), callback_url: `${info.apiBaseUrl}/drchronowebhook/${team.teamId}`, events: [], active: true };
    out.push({
      teamId: team.teamId,
      event: `${m.entity.toUpperCase()}_${m.kind.toUpperCase()}`,
      deliveryId: `${runTag}-${i}`,
      body: JSON.stringify({ receiver, object: serialize(m.entity, obj, true) }),
      signature: team.webhookSecret,
      entity: m.entity,
      objectId: String(obj.id),
    });
  }
  return out;
}

/** POST one delivery as DrChrono does; resolves with the status code. */
export async function postDelivery(apiBaseUrl: string, d: Delivery): Promise<number> {
  const res = await fetch(`${apiBaseUrl}/drchronowebhook/${d.teamId}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-drchrono-event': d.event, 'x-drchrono-signature': d.signature, 'x-drchrono-delivery': d.deliveryId },
    body: d.body,
  });
  await res.arrayBuffer();
  return res.status;
}

/** Posts in the plan's order with a bounded number in flight; returns counts by status code. */
export async function postAll(apiBaseUrl: string, deliveries: readonly Delivery[], posts: readonly number[], inFlight: number): Promise<Record<number, number>> {
  const statuses: Record<number, number> = {};
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < posts.length) {
      const d = deliveries[posts[next++]!]!;
      const status = await postDelivery(apiBaseUrl, d);
      statuses[status] = (statuses[status] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  return statuses;
}
