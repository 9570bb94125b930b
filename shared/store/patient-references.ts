import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { writeIfCondition } from '../aws/conditional-write';
import type { WriteOutcome } from './record-version';
import { chartIdOf, patientTombstone, recordPk, writeRecordReportingPrevious, type PreviousRecordState } from './records';

/**
 * An appointment's "Patient" names its patient's CURRENT Chart ID. The appointment stores the patient's
 * DrChrono id (`patientDrchronoId`, exact and never stale) and, next to "Patient", the version of the patient
 * record that Chart ID was read from (`patientVersion`). Patient record versions only grow (the order guard; a
 * tombstone's `z#` version sorts above every live one, record-version.ts),
 * so every update of "Patient" here is conditional on coming from a newer patient state than the one the
 * appointment holds: concurrent, late or repeated updates converge on the newest Chart ID in any order.
 *
 * Two writers keep it current:
 *  - a patient write that changes the Chart ID fans out to the patient's appointments (fanOutPatientChartId);
 *  - an appointment write re-reads its patient afterwards when it may have left "Patient" behind
 *    (settleAppointmentPatient, by appointmentPatientCheck), which closes the window between the appointment's
 *    own read of the patient and its write.
 * While a fan-out is under way the patient item carries `chartFanOut: true` (set before it starts, removed when
 * it ends), so one cut short (crash, timeout) is picked up by the next write of that patient, the retried
 * delivery included, and continues after the last page it saved (`chartFanOutFrom`, for the patient version
 * `chartFanOutVersion`). These exist only while pending: a patient item carries no extra bytes otherwise.
 *
 * A deleted patient's appointments have "Patient" EMPTY, whatever the history: a tombstoned patient reads as
 * "deleted" here (never its kept Chart ID), and tombstoning a stored patient fans the clear out through the same
 * order-safe fan-out (its `z#` version is above every live one).
 */

/**
 * The patient's current Chart ID ('' when it has none, and for a deleted patient) and its stored version;
 * undefined when not stored.
 */
export interface PatientReference {
  chartId: string;
  version: string;
  /** The patient is a tombstone (deleted in DrChrono): its appointments' "Patient" is empty. */
  deleted?: boolean;
}

export async function readPatientReference(
  ddb: DynamoDBDocumentClient,
  table: string,
  teamId: string,
  patientId: string,
): Promise<PatientReference | undefined> {
  const out = await ddb.send(
    new GetCommand({
      TableName: table,
      Key: { pk: recordPk(teamId, 'patient'), sk: patientId },
      // chartKey, not "Chart ID": a team may not map the field, the key is always there.
      ProjectionExpression: 'chartKey, #version, #deleted',
      ExpressionAttributeNames: { '#version': 'version', '#deleted': 'deleted' },
      // Strongly consistent: a Chart ID that changed a moment ago must be seen.
      ConsistentRead: true,
    }),
  );
  if (!out.Item) return undefined;
  const version = String(out.Item.version ?? '');
  // A tombstone keeps chartKey (so the CLI finds it by Chart ID); appointments must not name it.
  if (out.Item.deleted === true) return { chartId: '', version, deleted: true };
  return { chartId: chartIdOf(out.Item.chartKey, teamId) ?? '', version };
}

/**
 * Whether a patient write leaves appointments behind: it changed the stored Chart ID, or an earlier fan-out
 * did not finish. A new patient has no appointments naming it yet (an appointment stores its patient first).
 * Decided from the write itself (it replaced a state with another chartKey), not from its outcome: a write
 * can report 'unchanged' (same content hash) and still move chartKey, e.g. over a record stored before the
 * hash covered the Chart ID (records.ts).
 */
export function chartFanOutPending(previous: PreviousRecordState | undefined, writtenChartId: string): boolean {
  if (!previous) return false;
  return previous.chartFanOutPending || (previous.replaced && previous.chartId !== writtenChartId);
}

/**
 * Set "Patient" of one appointment from its patient's reference, unless the appointment meanwhile moved to
 * another patient, was deleted, or already holds a Chart ID from the same or a newer patient state.
 * Returns whether it was updated. An empty Chart ID clears "Patient" (the attribute is removed).
 */
export async function setAppointmentPatient(
  ddb: DynamoDBDocumentClient,
  table: string,
  teamId: string,
  appointmentId: string,
  patientId: string,
  ref: PatientReference,
): Promise<boolean> {
  const names = { '#patient': 'Patient', '#deleted': 'deleted' };
  const values: Record<string, unknown> = { ':pid': patientId, ':pv': ref.version };
  let update = 'SET patientVersion = :pv';
  if (ref.chartId) {
    update += ', #patient = :chart';
    values[':chart'] = ref.chartId;
  } else {
    update += ' REMOVE #patient';
  }
  return writeIfCondition(
    ddb.send(
      new UpdateCommand({
        TableName: table,
        Key: { pk: recordPk(teamId, 'appointment'), sk: appointmentId },
        UpdateExpression: update,
        ConditionExpression:
          'patientDrchronoId = :pid AND attribute_not_exists(#deleted) AND (attribute_not_exists(patientVersion) OR patientVersion < :pv)',
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
      }),
    ),
  );
}

/**
 * After an appointment write that set "Patient" from patient state `usedVersion` (undefined: from DrChrono or
 * unresolved): if the stored patient is now at another version, bring "Patient" up to it.
 */
export async function refreshAppointmentPatient(
  ddb: DynamoDBDocumentClient,
  table: string,
  teamId: string,
  appointmentId: string,
  patientId: string,
  usedVersion: string | undefined,
): Promise<boolean> {
  const ref = await readPatientReference(ddb, table, teamId, patientId);
  if (!ref || ref.version === usedVersion) return false;
  return setAppointmentPatient(ddb, table, teamId, appointmentId, patientId, ref);
}

/**
 * What an appointment write that set "Patient" of patient `patientId` to `used` (the Chart ID and the stamp of
 * the patient state it was read from; no stamp: it came from DrChrono, the patient was not stored) still owes.
 * The rule, given the appointment item as the write found it (`found`: ALL_OLD when applied, the stored item
 * when the condition refused it). "Holds ours": it named this patient with the same "Patient", from a state no
 * newer than ours.
 *  - applied and holds ours: 'none'. The write left "Patient" as it was and at most raised its stamp to the
 *    state it read; a fan-out of a newer state either landed before the write (the item would not hold ours)
 *    or still applies over it (conditional on an older stamp), and whoever stored that "Patient" owes its own
 *    re-check. The common case, an appointment modified with its patient and Chart ID unchanged: one read of
 *    the patient instead of two.
 *  - applied otherwise: 'refresh' (read the patient again, update if it moved): a Chart ID change may have
 *    fanned out between our read and our write, before the appointment held the reference.
 *  - refused (duplicate, stale, unresolved tie): nothing was written, but the stored appointment may be one
 *    whose writer stopped between its write and its re-check (crash, timeout) while a newer write skipped its
 *    own by the first rule. When it names this patient with another "Patient" from an older state than our
 *    strongly consistent read: 'set' it from our read (conditional on an older stamp, so monotone; no read),
 *    or 'refresh' when we have no stamp. Another patient's reference is that patient's writers' business.
 */
export type AppointmentPatientCheck = 'none' | 'set' | 'refresh';

export function appointmentPatientCheck(
  written: { applied: boolean; found?: Pick<PreviousRecordState, 'patientDrchronoId' | 'patientVersion' | 'patientChartId'> },
  patientId: string,
  used: { chartId: string; version: string | undefined },
): AppointmentPatientCheck {
  const { applied, found } = written;
  const namesPatient = found?.patientDrchronoId === patientId;
  const stamp = found?.patientVersion;
  const holdsOurs =
    namesPatient && used.version !== undefined && stamp !== undefined && stamp <= used.version && (found.patientChartId ?? '') === used.chartId;
  if (holdsOurs) return 'none';
  if (applied) return 'refresh';
  if (!namesPatient) return 'none';
  if (used.version === undefined) return 'refresh';
  return stamp === undefined || stamp < used.version ? 'set' : 'none';
}

/**
 * After an appointment write (applied or refused) that carried "Patient" for `patientId`: does what
 * appointmentPatientCheck says. Returns whether "Patient" was updated.
 */
export async function settleAppointmentPatient(
  ddb: DynamoDBDocumentClient,
  table: string,
  teamId: string,
  input: {
    appointmentId: string;
    patientId: string;
    used: { chartId: string; version: string | undefined };
    applied: boolean;
    found?: Pick<PreviousRecordState, 'patientDrchronoId' | 'patientVersion' | 'patientChartId'>;
  },
): Promise<boolean> {
  const { appointmentId, patientId, used } = input;
  const check = appointmentPatientCheck(input, patientId, used);
  if (check === 'refresh') return refreshAppointmentPatient(ddb, table, teamId, appointmentId, patientId, input.applied ? used.version : input.found?.patientVersion);
  if (check === 'set' && used.version !== undefined) return setAppointmentPatient(ddb, table, teamId, appointmentId, patientId, { chartId: used.chartId, version: used.version });
  return false;
}

/**
 * Give every appointment of a patient the patient's current Chart ID. Reads the team's appointments with a
 * strongly consistent Query (only the reference attributes are returned; a Chart ID change is rare, so the
 * read of the partition is paid rarely, and there is no index to keep on every appointment write). The
 * `chartFanOut` flag is cleared at the end unless the patient changed meanwhile (that write fans out again).
 */
export async function fanOutPatientChartId(
  ddb: DynamoDBDocumentClient,
  table: string,
  teamId: string,
  patientId: string,
): Promise<{ updated: number } | undefined> {
  const patientKey = { pk: recordPk(teamId, 'patient'), sk: patientId };
  let old: Record<string, unknown> | undefined;
  try {
    const out = await ddb.send(
      new UpdateCommand({
        TableName: table,
        Key: patientKey,
        UpdateExpression: 'SET chartFanOut = :true',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeValues: { ':true': true },
        // Where an earlier attempt got to (chartFanOutFrom / chartFanOutVersion).
        ReturnValues: 'ALL_OLD',
      }),
    );
    old = out.Attributes;
  } catch (err) {
    if (err instanceof ConditionalCheckFailedException) return undefined;
    throw err;
  }
  const ref = await readPatientReference(ddb, table, teamId, patientId);
  if (!ref) return undefined;
  let updated = 0;
  // A fan-out of this same patient state cut short resumes after the last page it saved: on a partition of
  // 100k+ appointments a restart from scratch could never finish within one invocation. Saved for another
  // state, it starts again (the appointments before the saved page hold the older Chart ID).
  let start: Record<string, unknown> | undefined =
    old?.chartFanOutVersion === ref.version && old.chartFanOutFrom && typeof old.chartFanOutFrom === 'object' ? (old.chartFanOutFrom as Record<string, unknown>) : undefined;
  do {
    const page = await ddb.send(
      new QueryCommand({
        TableName: table,
        KeyConditionExpression: 'pk = :pk',
        FilterExpression: 'patientDrchronoId = :pid AND attribute_not_exists(#deleted)',
        ProjectionExpression: 'sk, #patient, patientVersion',
        ExpressionAttributeNames: { '#patient': 'Patient', '#deleted': 'deleted' },
        ExpressionAttributeValues: { ':pk': recordPk(teamId, 'appointment'), ':pid': patientId },
        ConsistentRead: true,
        ExclusiveStartKey: start,
      }),
    );
    for (const item of page.Items ?? []) {
      const holds = typeof item.Patient === 'string' ? item.Patient : '';
      if (holds === ref.chartId && item.patientVersion === ref.version) continue;
      if (await setAppointmentPatient(ddb, table, teamId, String(item.sk), patientId, ref)) updated++;
    }
    start = page.LastEvaluatedKey;
    if (start) await saveFanOutProgress(ddb, table, patientKey, ref.version, start);
  } while (start);
  try {
    await ddb.send(
      new UpdateCommand({
        TableName: table,
        Key: { pk: recordPk(teamId, 'patient'), sk: patientId },
        UpdateExpression: 'REMOVE chartFanOut, chartFanOutFrom, chartFanOutVersion',
        ConditionExpression: '#version = :v',
        ExpressionAttributeNames: { '#version': 'version' },
        ExpressionAttributeValues: { ':v': ref.version },
      }),
    );
  } catch (err) {
    if (!(err instanceof ConditionalCheckFailedException)) throw err;
  }
  return { updated };
}

/**
 * Tombstone a patient DrChrono answered 404 for and, when the team maps appointment "Patient", clear "Patient" on
 * its appointments (fanOutPatientChartId with the tombstone's reference). The fan-out runs when this write
 * replaced a stored patient, or an earlier one was cut short (`chartFanOut` still set: a retried delivery that
 * finds the patient already deleted finishes it). Never for a patient we never stored: no appointment can name it.
 */
export async function tombstonePatient(
  ddb: DynamoDBDocumentClient,
  table: string,
  input: { teamId: string; patientId: string; observedAt: string; deliveryId: string; syncedAt: string; mapsAppointmentPatient: boolean },
): Promise<{ outcome: WriteOutcome; cleared?: number }> {
  const { teamId, patientId } = input;
  const record = patientTombstone(patientId, input.observedAt);
  const { outcome, previous } = await writeRecordReportingPrevious(ddb, table, { teamId, record, deliveryId: input.deliveryId, syncedAt: input.syncedAt });
  if (!input.mapsAppointmentPatient || !previous || !(previous.replaced || previous.chartFanOutPending)) return { outcome };
  const fanned = await fanOutPatientChartId(ddb, table, teamId, patientId);
  return fanned ? { outcome, cleared: fanned.updated } : { outcome };
}

/** After each page: where a retried fan-out of this patient state carries on. Skipped if the patient moved on. */
async function saveFanOutProgress(ddb: DynamoDBDocumentClient, table: string, patientKey: Record<string, string>, version: string, from: Record<string, unknown>): Promise<void> {
  try {
    await ddb.send(
      new UpdateCommand({
        TableName: table,
        Key: patientKey,
        UpdateExpression: 'SET chartFanOutFrom = :from, chartFanOutVersion = :v',
        ConditionExpression: '#version = :v',
        ExpressionAttributeNames: { '#version': 'version' },
        ExpressionAttributeValues: { ':from': from, ':v': version },
      }),
    );
  } catch (err) {
    // The patient changed: its newer write fans out itself, from the start.
    if (!(err instanceof ConditionalCheckFailedException)) throw err;
  }
}
