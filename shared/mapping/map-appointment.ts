import * as z from 'zod/mini';
import { AppointmentSchema, Timestamp, type Appointment } from '../drchrono/schemas';
import { recordVersion } from '../store/record-version';
import { apptProfileLabel, apptStatusLabel } from './choice-labels';
import { APPOINTMENT_FIELDS } from './field-names';
import {
  FieldCollector,
  MappingValidationError,
  idValue,
  labelled,
  textValue,
  type MappedRecord,
  type MappingContext,
} from './mapped-record';

export const APPOINTMENT_DELETE_EVENT = 'APPOINTMENT_DELETE';

/** A missing updated_at is versioned by observation time instead of failing the delivery. */
const MappableAppointmentSchema = z.extend(AppointmentSchema, { updated_at: z.nullish(Timestamp) });

/** What a deletion needs: DrChrono has not documented the APPOINTMENT_DELETE body, so a stub must do. */
const AppointmentDeletionSchema = z.looseObject({
  id: z.pipe(z.union([z.string().check(z.minLength(1)), z.number().check(z.int())]), z.transform((v) => String(v))),
  appt_is_break: z.nullish(z.boolean()),
  updated_at: z.nullish(Timestamp),
});

function isDeletion(obj: Record<string, unknown>, ctx: MappingContext): boolean {
  return ctx.event === APPOINTMENT_DELETE_EVENT || obj.deleted_flag === true;
}

/**
 * A DrChrono appointment → the Appointment record, keyed by Claim ID (the appointment id).
 * Breaks come back with skipReason 'break' and nothing to write. Deletions (APPOINTMENT_DELETE, or
 * `deleted_flag`) come back with deleted: true and only the key field: the store keeps a tombstone.
 */
export function mapAppointment(obj: Appointment | Record<string, unknown>, ctx: MappingContext): MappedRecord {
  const observedAt = ctx.observedAt ?? new Date().toISOString();
  const wanted = ctx.config.fields.appointment;
  const c = new FieldCollector(wanted);
  const raw = obj as Record<string, unknown>;

  if (isDeletion(raw, ctx)) {
    const parsed = AppointmentDeletionSchema.safeParse(obj);
    if (!parsed.success) throw new MappingValidationError('appointment', parsed.error);
    const a = parsed.data;
    for (const name of APPOINTMENT_FIELDS) c.set(name, name === 'Claim ID' ? a.id : undefined);
    return {
      ...appointmentRecord(a.id, c, recordVersion(a.updated_at, observedAt, ctx.authority), true),
      ...(a.appt_is_break === true ? { skipReason: 'break' as const } : {}),
    };
  }

  const parsed = MappableAppointmentSchema.safeParse(obj);
  if (!parsed.success) throw new MappingValidationError('appointment', parsed.error);
  const a = parsed.data;
  const version = recordVersion(a.updated_at, observedAt, ctx.authority);

  if (a.appt_is_break === true || a.patient === null) {
    // A break blocks the calendar; it has no patient and is not a visit the team's app tracks.
    return {
      entity: 'appointment',
      drchronoId: a.id,
      key: a.id,
      fields: {},
      fieldsWritten: [],
      fieldsSkipped: [...APPOINTMENT_FIELDS],
      version,
      skipReason: 'break',
    };
  }

  const { choices } = ctx.config;
  const profile =
    a.profile === undefined || a.profile === null ? a.profile : apptProfileLabel(a.profile, ctx.profileNames.get(a.profile), choices);

  // Unresolved → empty, not skipped: a skip would keep the Chart ID of the patient the appointment had before.
  c.set('Patient', ctx.patientChartIds?.get(a.patient) ?? null);
  c.set('Provider', idValue(a.doctor));
  c.set('Appt Profile', profile);
  c.set('Appt Status', labelled(a.status, (s) => apptStatusLabel(s, choices)));
  c.set('Date of Service', a.scheduled_time);
  c.set('Reason', textValue(a.reason));
  c.set('Duration', a.duration);
  c.set('Claim ID', a.id);

  const patientVersion = ctx.patientVersions?.get(a.patient);
  return {
    ...appointmentRecord(a.id, c, version, false),
    patientDrchronoId: String(a.patient),
    ...(patientVersion !== undefined && c.written.includes('Patient') ? { patientVersion } : {}),
    ...(c.written.includes('Appt Profile') ? { profileId: a.profile ?? null } : {}),
  };
}

/** The record shape both live appointments and tombstones share. */
function appointmentRecord(id: string, c: FieldCollector, version: MappedRecord['version'], deleted: boolean): MappedRecord {
  return { entity: 'appointment', drchronoId: id, key: id, fields: c.fields, fieldsWritten: c.written, fieldsSkipped: c.skipped, version, deleted };
}
