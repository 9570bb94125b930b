import { SendMessageBatchCommand, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import * as z from 'zod/mini';
import { TeamIdSchema } from '../teams/team-id';

/**
 * Messages on the backfill queue. They carry ids only (no PHI): the state lives in the job item.
 *   start      begin a backfill (OAuth callback: `{type:'start', teamId}`; CLI: with jobId/since)
 *   step       run step N of job J (see backfill-job.ts)
 *   reconcile       fetch what changed since the team's last reconcile (enqueued hourly by `reconcile`)
 *   deletion-check  compare the team's patients with DrChrono's, in budgeted, resumable slices (enqueued
 *                   hourly by `reconcile`; the check itself decides whether it is due)
 */
const DateOrTimestamp = z.string().check(z.regex(/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2})?)?$/, 'YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS]'));

export const StartItemSchema = z.object({
  type: z.literal('start'),
  teamId: TeamIdSchema,
  /** Set by the CLI: an operator start always replaces a running job. Absent: a connect, which never does. */
  jobId: z.optional(z.string().check(z.minLength(1), z.maxLength(100))),
  since: z.optional(DateOrTimestamp),
  pageSize: z.optional(z.number().check(z.int(), z.minimum(1), z.maximum(1000))),
});

export const StepItemSchema = z.object({
  type: z.literal('step'),
  teamId: TeamIdSchema,
  jobId: z.string().check(z.minLength(1), z.maxLength(100)),
  step: z.number().check(z.int(), z.minimum(0)),
});

export const ReconcileItemSchema = z.object({
  type: z.literal('reconcile'),
  teamId: TeamIdSchema,
  /** ISO time the schedule fired; names the run in delivery ids. */
  runAt: z.string(),
});

export const DeletionCheckItemSchema = z.object({
  type: z.literal('deletion-check'),
  teamId: TeamIdSchema,
  /** ISO time the schedule fired. */
  runAt: z.string(),
});

export const WorkItemSchema = z.discriminatedUnion('type', [StartItemSchema, StepItemSchema, ReconcileItemSchema, DeletionCheckItemSchema]);
export type WorkItem = z.infer<typeof WorkItemSchema>;
export type StartItem = z.infer<typeof StartItemSchema>;
export type StepItem = z.infer<typeof StepItemSchema>;
export type ReconcileItem = z.infer<typeof ReconcileItemSchema>;
export type DeletionCheckItem = z.infer<typeof DeletionCheckItemSchema>;

export function parseWorkItem(body: string): WorkItem | undefined {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return undefined;
  }
  const r = WorkItemSchema.safeParse(json);
  return r.success ? r.data : undefined;
}

function attributes(item: WorkItem) {
  return { teamId: { DataType: 'String', StringValue: item.teamId }, type: { DataType: 'String', StringValue: item.type } };
}

export async function sendWorkItem(sqs: SQSClient, queueUrl: string, item: WorkItem, delaySeconds = 0): Promise<void> {
  const valid = WorkItemSchema.parse(item);
  await sqs.send(
    new SendMessageCommand({
      QueueUrl: queueUrl,
      MessageBody: JSON.stringify(valid),
      MessageAttributes: attributes(valid),
      ...(delaySeconds > 0 ? { DelaySeconds: Math.min(900, Math.ceil(delaySeconds)) } : {}),
    }),
  );
}

/** Ten per request (the SQS maximum). Returns how many SQS rejected; the caller logs, the next run retries. */
export async function sendWorkItems(sqs: SQSClient, queueUrl: string, items: readonly WorkItem[]): Promise<number> {
  let failed = 0;
  for (let i = 0; i < items.length; i += 10) {
    const batch = items.slice(i, i + 10).map((it, n) => {
      const valid = WorkItemSchema.parse(it);
      return { Id: String(n), MessageBody: JSON.stringify(valid), MessageAttributes: attributes(valid) };
    });
    const out = await sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: batch }));
    failed += out.Failed?.length ?? 0;
  }
  return failed;
}
