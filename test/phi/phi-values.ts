/**
 * PHI values the tests feed through the product: every identifying string in the DrChrono fixtures and in the
 * sandbox's seeded data. The log scan looks for each of them in every line the suite printed.
 */

/** Keys whose values identify a person (HIPAA identifiers) wherever they appear in a DrChrono object. */
const PHI_KEYS = new Set([
  'first_name',
  'middle_name',
  'last_name',
  'nick_name',
  'date_of_birth',
  'social_security_number',
  'home_phone',
  'cell_phone',
  'office_phone',
  'email',
  'address',
  'emergency_contact_name',
  'emergency_contact_phone',
  'responsible_party_name',
  'responsible_party_email',
  'responsible_party_phone',
  'insurance_id_number',
  'insurance_group_number',
  'subscriber_first_name',
  'subscriber_last_name',
  'subscriber_date_of_birth',
  'subscriber_social_security',
  'subscriber_address',
  'flag_text',
  'notes',
  'reason',
]);

/** Values too short or too generic to be identifying on their own; matching them would only find noise. */
const MIN_LENGTH = 5;

export function collectPhiValues(value: unknown, out: Set<string> = new Set(), key?: string): Set<string> {
  if (Array.isArray(value)) {
    for (const v of value) collectPhiValues(v, out, key);
  } else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) collectPhiValues(v, out, k);
  } else if (typeof value === 'string' && key !== undefined && PHI_KEYS.has(key)) {
    const v = value.trim();
    if (v.length >= MIN_LENGTH) out.add(v);
  }
  return out;
}

export interface PhiHit {
  file: string;
  line: number;
  /** Which value matched, masked: the report must not print PHI either. */
  masked: string;
}

export function mask(value: string): string {
  return `${value.slice(0, 2)}${'*'.repeat(Math.max(0, value.length - 2))} (${value.length} chars)`;
}

export function findPhi(text: string, file: string, values: ReadonlySet<string>): PhiHit[] {
  const hits: PhiHit[] = [];
  const needles = [...values].map((v) => ({ v, lower: v.toLowerCase() }));
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    const lower = line.toLowerCase();
    for (const n of needles) {
      if (lower.includes(n.lower)) hits.push({ file, line: i + 1, masked: mask(n.v) });
    }
  });
  return hits;
}
