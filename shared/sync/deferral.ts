import { ChangeMessageVisibilityCommand, SendMessageCommand, type MessageAttributeValue, type SQSClient } from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';

/**
 * Deferring a message (budget spent, DrChrono 429, token being refreshed) without ever pushing a healthy
 * message into the DLQ.
 *
 * Normally the message stays in flight with a longer visibility timeout (ChangeMessageVisibility) and is
 * reported as a batch item failure, so Lambda does not delete it. But every receive increments
 * ApproximateReceiveCount, and the redrive policy moves a message to the DLQ once it exceeds
 * maxReceiveCount. So when the count is close to the limit we instead send a COPY (delay <= 900 s, the SQS
 * maximum, with a `deferrals` generation counter in a message attribute) and acknowledge the original. The
 * copy starts again at receive count 1. A copy older than MAX_DEFERRAL_GENERATIONS generations is not
 * deferred again: it fails normally and reaches the DLQ with its reason in the integration log.
 */
export const MAX_VISIBILITY_SECONDS = 12 * 3600 - 60; // SQS caps visibility at 12 h from receipt
export const MAX_DELAY_SECONDS = 900;
export const MAX_DEFERRAL_GENERATIONS = 48;
export const DEFERRALS_ATTRIBUTE = 'deferrals';

export type DeferralPlan =
  | { action: 'change-visibility'; seconds: number }
  | { action: 'requeue'; delaySeconds: number; deferrals: number }
  | { action: 'give-up'; deferrals: number };

export interface DeferralInput {
  /** How long to wait, in seconds. */
  delaySeconds: number;
  /** ApproximateReceiveCount of the current receive (1 on the first). */
  receiveCount: number;
  maxReceiveCount: number;
  /** Generations already re-enqueued (the `deferrals` attribute), 0 for an original message. */
  deferrals: number;
}

export function planDeferral(input: DeferralInput): DeferralPlan {
  const wait = Math.max(1, Math.ceil(input.delaySeconds));
  // One receive of margin: the count is approximate, and the receive after this one must still be allowed.
  if (input.receiveCount < input.maxReceiveCount - 1) {
    return { action: 'change-visibility', seconds: Math.min(wait, MAX_VISIBILITY_SECONDS) };
  }
  if (input.deferrals >= MAX_DEFERRAL_GENERATIONS) return { action: 'give-up', deferrals: input.deferrals };
  return { action: 'requeue', delaySeconds: Math.min(wait, MAX_DELAY_SECONDS), deferrals: input.deferrals + 1 };
}

export function receiveCountOf(record: SQSRecord): number {
  const n = Number(record.attributes?.ApproximateReceiveCount ?? '1');
  return Number.isFinite(n) && n >= 1 ? n : 1;
}

export function deferralsOf(record: SQSRecord): number {
  const attr = record.messageAttributes?.[DEFERRALS_ATTRIBUTE];
  const n = Number(attr?.stringValue ?? '0');
  return Number.isInteger(n) && n >= 0 ? n : 0;
}

/**
 * Carry out a plan. Returns true when the original must be reported as a batch item failure (kept), false
 * when it can be acknowledged (a copy was sent). 'give-up' is the caller's business.
 */
export async function applyDeferral(sqs: SQSClient, queueUrl: string, record: SQSRecord, plan: DeferralPlan): Promise<boolean> {
  if (plan.action === 'change-visibility') {
    await sqs.send(
      new ChangeMessageVisibilityCommand({ QueueUrl: queueUrl, ReceiptHandle: record.receiptHandle, VisibilityTimeout: plan.seconds }),
    );
    return true;
  }
  if (plan.action === 'requeue') {
    const attributes: Record<string, MessageAttributeValue> = {};
    for (const [name, value] of Object.entries(record.messageAttributes ?? {})) {
      if (name === DEFERRALS_ATTRIBUTE || value.stringValue === undefined) continue;
      attributes[name] = { DataType: value.dataType || 'String', StringValue: value.stringValue };
    }
    attributes[DEFERRALS_ATTRIBUTE] = { DataType: 'Number', StringValue: String(plan.deferrals) };
    await sqs.send(
      new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: record.body, DelaySeconds: plan.delaySeconds, MessageAttributes: attributes }),
    );
    return false;
  }
  return true;
}
