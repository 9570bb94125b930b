import type { Json } from './types';

/**
 * DrChrono leaves "expensive" fields out unless `verbose=true` (the spec's x-verbose-required lists).
 * Doctor, AppointmentProfile, PatientFlagType and UserProfile have none.
 */
export const VERBOSE_ONLY = {
  patient: ['auto_accident_insurance', 'custom_demographics', 'patient_flags', 'patient_flags_attached', 'primary_insurance', 'referring_doctor', 'secondary_insurance', 'tertiary_insurance', 'workers_comp_insurance'],
  appointment: ['reminders', 'vitals', 'custom_fields', 'custom_vitals', 'clinical_note', 'extended_updated_at', 'status_transitions'],
  office: ['online_timeslots'],
} as const;

export function serialize(type: 'patient' | 'appointment' | 'patient_flag' | 'office', obj: Json, verbose: boolean): Json {
  const out = structuredClone(obj);
  // A patient flag has no verbose-only fields.
  if (!verbose && type !== 'patient_flag') for (const k of VERBOSE_ONLY[type]) delete out[k];
  return out;
}

/** DrChrono page-size ceilings: 250 by default, 20 for appointments, and verbose=true caps any list at 50. */
export function pageSizeFor(kind: 'appointments' | 'default', verbose: boolean, requested: string | null): number {
  const endpointMax = kind === 'appointments' ? 20 : 250;
  const max = verbose ? Math.min(endpointMax, 50) : endpointMax;
  const n = requested === null ? NaN : Number(requested);
  return Number.isInteger(n) && n > 0 ? Math.min(n, max) : max;
}

/** Opaque cursor, like DRF's CursorPagination; here it just wraps an offset. */
export function encodeCursor(offset: number): string {
  return Buffer.from(`o=${offset}`).toString('base64url');
}

export function decodeCursor(cursor: string | null): number | undefined {
  if (cursor === null) return 0;
  const m = /^o=(\d+)$/.exec(Buffer.from(cursor, 'base64url').toString());
  return m?.[1] !== undefined ? Number(m[1]) : undefined;
}

/** `{previous, results, next}`: `next`/`previous` are the requested URL with the cursor swapped. */
export function paginate<T>(items: T[], requestUrl: URL, pageSize: number, offset: number): { previous: string | null; results: T[]; next: string | null } {
  const link = (o: number) => {
    const u = new URL(requestUrl);
    u.searchParams.set('cursor', encodeCursor(o));
    return u.toString();
  };
  return {
    previous: offset > 0 ? link(Math.max(0, offset - pageSize)) : null,
    results: items.slice(offset, offset + pageSize),
    next: offset + pageSize < items.length ? link(offset + pageSize) : null,
  };
}
