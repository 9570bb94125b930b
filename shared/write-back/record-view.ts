import type { FieldValue } from '../mapping/mapped-record';
import type { StoredRecord } from '../store/records';

/**
 * What `GET /teams/{teamId}/patients/{chartId}` and `GET /teams/{teamId}/appointments/{claimId}` answer: the
 * record's user-facing fields and its version, which the app sends back as `If-Match` (the response's ETag).
 */
export interface RecordView {
  entity: 'patient' | 'appointment';
  /** The key the app named: Chart ID (patient) or Claim ID (appointment). */
  key: string;
  drchronoId: string;
  version: string;
  deleted: boolean;
  fields: Record<string, FieldValue>;
}

export function recordView(record: StoredRecord, key: string): RecordView {
  return {
    entity: record.entity === 'patient' ? 'patient' : 'appointment',
    key,
    drchronoId: record.drchronoId,
    version: record.version,
    deleted: record.deleted,
    fields: record.fields,
  };
}
