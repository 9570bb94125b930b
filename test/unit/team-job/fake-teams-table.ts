import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { AwsClientStub } from 'aws-sdk-client-mock';

/**
 * A small in-memory teams table behind aws-sdk-client-mock, understanding exactly the conditions the backfill
 * job store, the schedules' progress items and the budget counter use. Enough to test the work-item state machine against real conditional
 * semantics (who wins a step) without DynamoDB.
 */
export class FakeTeamsTable {
  readonly items = new Map<string, Record<string, unknown>>();
  /** Every Put, in order (integration log groups included). */
  readonly puts: Record<string, unknown>[] = [];
  budgetCalls = 0;
  budgetMax = Number.POSITIVE_INFINITY;

  constructor(mock: AwsClientStub<DynamoDBDocumentClient>) {
    mock.on(GetCommand).callsFake((input: { Key: { pk: string; sk: string } }) => {
      const item = this.items.get(this.key(input.Key));
      return { Item: item ? structuredClone(item) : undefined };
    });
    mock.on(PutCommand).callsFake((input: { Item: Record<string, unknown>; ConditionExpression?: string; ExpressionAttributeValues?: Record<string, unknown> }) => {
      const k = this.key(input.Item as { pk: string; sk: string });
      const current = this.items.get(k);
      if (!this.holds(input.ConditionExpression, current, input.ExpressionAttributeValues ?? {})) this.fail();
      this.items.set(k, structuredClone(input.Item));
      this.puts.push(structuredClone(input.Item));
      return {};
    });
    mock.on(UpdateCommand).callsFake((input: { Key: { pk: string; sk: string }; UpdateExpression: string; ConditionExpression?: string; ExpressionAttributeValues?: Record<string, unknown> }) => {
      const values = input.ExpressionAttributeValues ?? {};
      if (input.Key.sk.startsWith('BUDGET#')) {
        const n = Number(values[':n']);
        if (this.budgetCalls + n > this.budgetMax) this.fail();
        this.budgetCalls += n;
        return { Attributes: { calls: this.budgetCalls } };
      }
      const k = this.key(input.Key);
      const current = this.items.get(k);
      if (!this.holds(input.ConditionExpression, current, values)) this.fail();
      if (input.UpdateExpression === 'SET enqueuedStep = :s' && current) current.enqueuedStep = values[':s'];
      // A patient tombstone (records.ts): keeps the key and Chart ID, drops the other fields.
      if (input.UpdateExpression.startsWith('SET #version = :v, #deleted = :true')) {
        const chart = current?.['Chart ID'];
        this.items.set(k, { pk: input.Key.pk, sk: input.Key.sk, ...(chart !== undefined ? { 'Chart ID': chart } : {}), deleted: true, version: values[':v'], lastDeliveryId: values[':delivery'], syncedAt: values[':syncedAt'] });
        return { Attributes: current ? structuredClone(current) : undefined };
      }
      // The patient-reference fan-out (patient-references.ts).
      if (input.UpdateExpression === 'SET chartFanOut = :true' && current) current.chartFanOut = true;
      if (input.UpdateExpression.startsWith('REMOVE chartFanOut') && current) delete current.chartFanOut;
      if (input.UpdateExpression.startsWith('SET patientVersion = :pv') && current) {
        current.patientVersion = values[':pv'];
        if (input.UpdateExpression.includes('REMOVE #patient')) delete current.Patient;
        else current.Patient = values[':chart'];
      }
      return {};
    });
    mock.on(QueryCommand).callsFake((input: { KeyConditionExpression: string; ExpressionAttributeValues: Record<string, string> }) => {
      const v = input.ExpressionAttributeValues;
      const prefix = input.KeyConditionExpression.includes('begins_with(sk, :p)') ? v[':p'] : undefined;
      const items = [...this.items.values()].filter(
        (i) => i.pk === v[':pk'] && (prefix === undefined || String(i.sk).startsWith(prefix)) && (v[':pid'] === undefined || (i.patientDrchronoId === v[':pid'] && i.deleted !== true)),
      );
      return { Items: structuredClone(items) };
    });
  }

  key(k: { pk: string; sk: string }): string {
    return `${k.pk}|${k.sk}`;
  }

  get(pk: string, sk: string): Record<string, unknown> | undefined {
    return this.items.get(`${pk}|${sk}`);
  }

  put(item: Record<string, unknown>): void {
    this.items.set(this.key(item as { pk: string; sk: string }), structuredClone(item));
  }

  private fail(): never {
    throw new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} });
  }

  private holds(cond: string | undefined, cur: Record<string, unknown> | undefined, v: Record<string, unknown>): boolean {
    switch (cond) {
      case undefined:
        return true;
      case 'attribute_not_exists(pk)':
        return cur === undefined;
      case 'jobId = :old':
        return cur?.jobId === v[':old'];
      case 'jobId = :j AND step = :s':
        return cur?.jobId === v[':j'] && cur?.step === v[':s'];
      case 'jobId = :j AND enqueuedStep < :s':
        return cur?.jobId === v[':j'] && Number(cur?.enqueuedStep) < Number(v[':s']);
      case 'attribute_not_exists(watermark) OR watermark <= :w':
        return cur?.watermark === undefined || String(cur.watermark) <= String(v[':w']);
      case 'attribute_not_exists(rev)':
        return cur?.rev === undefined;
      case 'rev = :rev':
        return cur?.rev === v[':rev'];
      case 'attribute_not_exists(pk) OR NOT (#deleted = :true)':
        return cur?.deleted !== true;
      case 'attribute_exists(pk)':
        return cur !== undefined;
      case '#version = :v':
        return cur?.version === v[':v'];
      case 'patientDrchronoId = :pid AND attribute_not_exists(#deleted) AND (attribute_not_exists(patientVersion) OR patientVersion < :pv)':
        return cur?.patientDrchronoId === v[':pid'] && cur?.deleted === undefined && (cur?.patientVersion === undefined || String(cur.patientVersion) < String(v[':pv']));
      default:
        throw new Error(`FakeTeamsTable does not understand condition ${cond}`);
    }
  }
}
