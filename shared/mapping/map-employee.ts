import { DoctorSchema, type Doctor } from '../drchrono/schemas';
import { recordVersion } from '../store/record-version';
import { FieldCollector, MappingValidationError, textValue, type MappedRecord, type MappingContext } from './mapped-record';

/** The first non-empty of several sources; absent only when every source is absent. */
function firstFilled(...values: (string | null | undefined)[]): string | null | undefined {
  if (values.every((v) => v === undefined)) return undefined;
  return values.map(textValue).find((v): v is string => typeof v === 'string') ?? null;
}

/**
 * A DrChrono doctor (`/api/doctors/{id}`) → the Employee record, keyed by Chrono Doctor ID. Doctors have no
 * updated_at, so the version is ctx.observedAt: set it to the fetch time.
 */
export function mapEmployee(doctorObj: Doctor | Record<string, unknown>, ctx: MappingContext): MappedRecord {
  const parsed = DoctorSchema.safeParse(doctorObj);
  if (!parsed.success) throw new MappingValidationError('employee', parsed.error);
  const d = parsed.data;
  const c = new FieldCollector(ctx.config.fields.employee);

  c.set('First Name', textValue(d.first_name));
  c.set('Last Name', textValue(d.last_name));
  c.set('Work Phone', textValue(d.office_phone));
  c.set('Personal Phone', firstFilled(d.cell_phone, d.home_phone));
  c.set('Chrono Doctor ID', String(d.id));
  c.set('NPI', firstFilled(d.npi_number, d.group_npi_number));
  c.set('Work Email', textValue(d.email));

  return {
    entity: 'employee',
    drchronoId: String(d.id),
    key: String(d.id),
    fields: c.fields,
    fieldsWritten: c.written,
    fieldsSkipped: c.skipped,
    version: recordVersion(undefined, ctx.observedAt ?? new Date().toISOString(), ctx.authority ?? 'fetched'),
  };
}
