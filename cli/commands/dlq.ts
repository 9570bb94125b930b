import { parseArgs } from 'node:util';
import {
  DEAD_LETTER_QUEUES,
  failureReasons,
  listDeadLetters,
  logRedrives,
  redriveDeadLetters,
  startMoveTask,
  type DeadLetter,
  type DeadLetterQueue,
  type FailureReason,
  type RedriveOptions,
} from '../../shared/dlq/dead-letters';
import { parseTeamId } from '../../shared/teams/team-id';
import { CliError, type CliContext } from '../context';
import { terminalText } from '../terminal-text';

export const DLQ_USAGE = `Usage:
  drchrono-sync dlq list [--queue ingest|backfill|write-back] [--team <teamId>] [--json]
      every dead letter (all three DLQs by default): team, event, delivery or change id, DrChrono id, age and the
      failure reason from the integration log. Never a body or a field value. Nothing is consumed.
      write-back is FIFO: each record's first dead letter is listed, the count behind them is printed on stderr.
  drchrono-sync dlq redrive [--queue ingest|backfill|write-back] [--team <teamId>] [--max N]
      move dead letters back to their work queue, where they are processed (and logged) as usual.
      Without --queue: ingest and backfill; write-back only when named (a redriven change is applied to DrChrono).
      In AWS without --team/--max: SQS's message move task (ingest, backfill); otherwise, and always for
      write-back, each message is copied back (write-back: same message group, in order) and deleted.`;

/** For tests: a hook between a redriven message's send and its delete (a crash there), and the clock. */
export interface DlqOptions {
  afterSend?: RedriveOptions['afterSend'];
  now?: () => number;
}

export async function run(argv: string[], ctx: CliContext, opts: DlqOptions = {}): Promise<number> {
  const [sub, ...args] = argv;
  switch (sub) {
    case 'list':
      return list(args, ctx, opts);
    case 'redrive':
      return redrive(args, ctx, opts);
    case undefined:
    case 'help':
    case '--help':
      ctx.out(DLQ_USAGE);
      return sub === undefined ? 2 : 0;
    default:
      throw new CliError(`unknown dlq command "${sub}"\n\n${DLQ_USAGE}`, 2);
  }
}

const OPTIONS = { queue: { type: 'string' }, team: { type: 'string' }, json: { type: 'boolean' }, max: { type: 'string' } } as const;

/**
 * What `dlq redrive` moves without --queue: not the write-back DLQ. A write-back dead letter whose change still reads
 * pending would be applied to DrChrono when redriven, possibly days after the app sent it (over newer edits when it has
 * no base version): that takes an operator naming the queue.
 */
const REDRIVE_DEFAULT_QUEUES: readonly DeadLetterQueue[] = ['ingest', 'backfill'];

function parse(args: string[], allowed: ReadonlyArray<keyof typeof OPTIONS>, defaultQueues: readonly DeadLetterQueue[] = DEAD_LETTER_QUEUES) {
  let parsed;
  try {
    parsed = parseArgs({ args, options: Object.fromEntries(allowed.map((k) => [k, OPTIONS[k]])), allowPositionals: false });
  } catch (err) {
    throw new CliError(`${err instanceof Error ? err.message : String(err)}\n\n${DLQ_USAGE}`, 2);
  }
  const v = parsed.values as { queue?: string; team?: string; json?: boolean; max?: string };
  if (v.queue !== undefined && !(DEAD_LETTER_QUEUES as readonly string[]).includes(v.queue)) throw new CliError('--queue must be ingest, backfill or write-back', 2);
  const queues: DeadLetterQueue[] = v.queue ? [v.queue as DeadLetterQueue] : [...defaultQueues];
  const teamId = v.team === undefined ? undefined : parseTeamId(v.team);
  if (v.team !== undefined && teamId === undefined) throw new CliError(`--team must be a team id (UUID), got "${terminalText(v.team)}"`, 2);
  const max = v.max === undefined ? undefined : Number(v.max);
  if (max !== undefined && (!Number.isInteger(max) || max < 1 || max > 1_000_000)) throw new CliError('--max must be a whole number from 1 to 1000000', 2);
  return { queues, named: v.queue !== undefined, teamId, json: v.json === true, max };
}

const QUEUE_URLS = {
  ingest: { queue: 'ingestQueueUrl', dlq: 'ingestDlqUrl', output: 'IngestQueueUrl', env: 'INGEST_QUEUE_URL' },
  backfill: { queue: 'backfillQueueUrl', dlq: 'backfillDlqUrl', output: 'BackfillQueueUrl', env: 'BACKFILL_QUEUE_URL' },
  'write-back': { queue: 'writeBackQueueUrl', dlq: 'writeBackDlqUrl', output: 'WriteBackQueueUrl', env: 'WRITE_BACK_QUEUE_URL' },
} as const satisfies Record<DeadLetterQueue, { queue: keyof CliContext['resources']; dlq: keyof CliContext['resources']; output: string; env: string }>;

function hasUrls(ctx: CliContext, queue: DeadLetterQueue): boolean {
  return Boolean(ctx.resources[QUEUE_URLS[queue].dlq] && ctx.resources[QUEUE_URLS[queue].queue]);
}

function urls(ctx: CliContext, queue: DeadLetterQueue): { dlqUrl: string; sourceUrl: string } {
  const names = QUEUE_URLS[queue];
  const dlqUrl = ctx.resources[names.dlq];
  const sourceUrl = ctx.resources[names.queue];
  if (!dlqUrl || !sourceUrl) throw new CliError(`the target does not name the ${queue} queue (stack output ${names.output}, or ${names.env} without --stack)`);
  return { dlqUrl, sourceUrl };
}

/** `ingest`, `ingest and backfill`, `ingest, backfill and write-back`. */
function listText(items: readonly string[]): string {
  return items.length <= 1 ? items.join('') : `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`;
}

/** `42s`, `17m`, `3h05m`, `2d04h`. */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(s / 86_400)}d${String(Math.floor((s % 86_400) / 3600)).padStart(2, '0')}h`;
}

function reasonText(r: FailureReason | undefined): string {
  if (!r) return '(no failure in the integration log)';
  return [r.errorClass && r.errorMessage ? `${r.errorClass}: ${r.errorMessage}` : (r.errorClass ?? r.errorMessage), r.detail].filter(Boolean).join('; ');
}

async function list(args: string[], ctx: CliContext, opts: DlqOptions): Promise<number> {
  const parsed = parse(args, ['queue', 'team', 'json']);
  const { teamId, json } = parsed;
  // Every URL is resolved before any receive (a receive holds messages). A queue named with --queue must exist; by
  // default a queue the target does not name (e.g. env vars without WRITE_BACK_QUEUE_URL) is skipped with a note.
  const queues = parsed.named ? parsed.queues : parsed.queues.filter((q) => hasUrls(ctx, q));
  for (const skipped of parsed.queues.filter((q) => !queues.includes(q))) {
    ctx.err(`note: the target does not name the ${skipped} queue (stack output ${QUEUE_URLS[skipped].output}, or ${QUEUE_URLS[skipped].env} without --stack): its DLQ is not listed`);
  }
  const dlqUrls = new Map(queues.map((q) => [q, urls(ctx, q).dlqUrl]));
  const now = (opts.now ?? Date.now)();
  const letters: DeadLetter[] = [];
  for (const queue of queues) {
    const dlqUrl = dlqUrls.get(queue)!;
    const listed = await listDeadLetters(ctx.sqs, queue, dlqUrl);
    if (listed.notReleased > 0) ctx.err(`warning: ${listed.notReleased} ${queue} dead letters could not be made visible again at once; they reappear within 2 minutes`);
    if (listed.behindInGroups > 0) {
      ctx.err(
        `note: about ${listed.behindInGroups} more ${queue} dead letter${listed.behindInGroups === 1 ? '' : 's'} wait behind the listed ones in their message groups ` +
          `(FIFO: SQS hands out the rest of a group only once the earlier messages are deleted); \`dlq redrive --queue ${queue}\` moves them too, in order`,
      );
    }
    letters.push(...listed.letters.filter((l) => teamId === undefined || l.teamId === teamId));
  }
  letters.sort((a, b) => (a.sentAt ?? '').localeCompare(b.sentAt ?? ''));
  const reasons = await failureReasons(ctx.ddb, ctx.resources.integrationLogTable, letters);
  const ageOf = (l: DeadLetter) => (l.sentAt ? now - Date.parse(l.sentAt) : undefined);

  if (json) {
    const rows = letters.map((l) => ({ ...l, ageSeconds: ageOf(l) === undefined ? null : Math.floor(ageOf(l)! / 1000), reason: reasons.get(l) ?? null }));
    ctx.out(JSON.stringify(rows, null, 2));
    return 0;
  }
  if (letters.length === 0) {
    ctx.out(`no dead letters${teamId ? ` for team ${teamId}` : ''} in the ${listText(queues)} DLQ${queues.length > 1 ? 's' : ''}`);
    return 0;
  }
  const header = ['QUEUE', 'TEAM', 'EVENT', 'DELIVERY', 'DRCHRONO ID', 'AGE', 'RECEIVES', 'REASON'];
  const rows = letters.map((l) => [
    l.queue,
    l.teamId ?? '-',
    l.event ?? '-',
    // Write-back: the change id (`records change <teamId> <changeId>` shows the change).
    l.deliveryId ?? l.changeId ?? '-',
    l.drchronoId ?? '-',
    ageOf(l) === undefined ? '-' : formatAge(ageOf(l)!),
    String(l.receiveCount ?? '-'),
    reasonText(reasons.get(l)),
  ].map(terminalText));
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  ctx.out(line(header));
  for (const r of rows) ctx.out(line(r));
  ctx.out(`${letters.length} dead letter${letters.length === 1 ? '' : 's'}`);
  return 0;
}

async function redrive(args: string[], ctx: CliContext, opts: DlqOptions): Promise<number> {
  const { queues, teamId, max } = parse(args, ['queue', 'team', 'max'], REDRIVE_DEFAULT_QUEUES);
  let remaining = max ?? Number.POSITIVE_INFINITY;
  let total = 0;
  let copied = false;
  for (const queue of queues) {
    const { dlqUrl, sourceUrl } = urls(ctx, queue);
    // Never a move task for the FIFO write-back DLQ: the copy path sets each copy's group and a fresh deduplication
    // id (shared/dlq/dead-letters.ts redriveDeduplicationId) and keeps each group's order.
    if (ctx.target === 'aws' && teamId === undefined && max === undefined && queue !== 'write-back') {
      // SQS's own redrive: fast and server-side, but all-or-nothing (no filter, no count).
      const task = await startMoveTask(ctx.sqs, dlqUrl, sourceUrl);
      ctx.out(
        `${queue} DLQ: SQS message move task started (${task.approximateNumberOfMessagesToMove ?? 'an unknown number of'} messages to move; handle ${task.taskHandle}).`,
      );
      ctx.out(`  Follow it with \`aws sqs list-message-move-tasks --source-arn ${task.sourceArn}\`, and the outcomes with \`drchrono-sync log <teamId>\`.`);
      continue;
    }
    if (remaining <= 0) break;
    copied = true;
    const result = await redriveDeadLetters(ctx.sqs, {
      queue,
      dlqUrl,
      sourceUrl,
      ...(teamId ? { teamId } : {}),
      ...(Number.isFinite(remaining) ? { max: remaining } : {}),
      ...(opts.afterSend ? { afterSend: opts.afterSend } : {}),
    });
    remaining -= result.moved.length;
    total += result.moved.length;
    for (const l of result.moved) {
      ctx.out(terminalText(`moved  ${queue}  ${l.teamId ?? '-'}  ${l.event ?? '-'}  ${l.deliveryId ?? l.changeId ?? '-'}  ${l.drchronoId ?? '-'}`));
    }
    ctx.out(`${queue} DLQ: ${result.moved.length} moved back to the ${queue} queue, ${result.left} left in the DLQ`);
    if (result.notReleased > 0) ctx.err(`warning: ${result.notReleased} ${queue} dead letters could not be made visible again at once; they reappear within a minute`);
    try {
      await logRedrives(ctx.ddb, ctx.resources.integrationLogTable, result.moved, new Date((opts.now ?? Date.now)()));
    } catch (err) {
      ctx.err(`error: the redrive of ${result.moved.length} ${queue} messages is done, but its integration log entries were not written (${err instanceof Error ? err.name : 'Error'})`);
      return 1;
    }
    if (result.error !== undefined) {
      const name = result.error instanceof Error ? result.error.name : 'Error';
      ctx.err(`error: the ${queue} redrive stopped after ${result.moved.length} moved (${name}); the rest stay in the DLQ, run it again`);
      return 1;
    }
  }
  // The move tasks report their own counts; a total is printed when messages were copied.
  if (copied) ctx.out(`${total} dead letter${total === 1 ? '' : 's'} redriven`);
  return 0;
}
