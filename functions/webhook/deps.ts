import * as z from 'zod/mini';
import { documentClient, secretsClient, sqsClient } from '../../shared/aws/clients';
import { enqueueIngestMessage } from '../../shared/ingest/ingest-queue';
import { TeamSecretCache } from '../../shared/teams/team-secret-cache';
import { addWebhookCounts, webhookTeamState } from '../../shared/teams/team-store';
import type { WebhookDeps } from '../../shared/webhook/receive-webhook';
import { WebhookTeamStateCache } from '../../shared/webhook/team-state-cache';

// The webhook's container-lifetime dependencies: its clients, caches and configuration. Apart from the handler so
// that the bench can time receiveWebhook with exactly these deps, without the handler around it.

const EnvSchema = z.object({
  TEAMS_TABLE: z.string().check(z.minLength(1)),
  INGEST_QUEUE_URL: z.string().check(z.minLength(1)),
  TEAM_SECRET_PREFIX: z.string().check(z.minLength(1)),
});

/**
 * An hour, not 5 minutes: a quiet team's deliveries (minutes apart) then cost no GetSecretValue + KMS Decrypt each.
 * Staleness does not depend on it: every secret writer claims the team item's tokenVersion first, and a copy below
 * it is re-read within the team-state TTL (1 s); the overlap end is checked per request; disable and remove are
 * team state; a refused signature re-reads (docs/webhook.md "Secret rotation").
 */
export const WEBHOOK_SECRET_TTL_MS = 60 * 60_000;

/** Built on first use and kept for the container's life: the secret cache is what makes warm deliveries free. */
let deps: WebhookDeps | undefined;

export function containerDeps(): WebhookDeps {
  if (deps) return deps;
  const env = EnvSchema.parse(process.env);
  const secrets = new TeamSecretCache({
    client: secretsClient,
    prefix: env.TEAM_SECRET_PREFIX,
    ttlMs: WEBHOOK_SECRET_TTL_MS,
  });
  deps = {
    // Read before the secret, so an unknown team costs no Secrets Manager call either.
    teamState: new WebhookTeamStateCache({ read: (teamId, consistent) => webhookTeamState(documentClient(), env.TEAMS_TABLE, teamId, consistent) }),
    secrets,
    enqueue: (msg) => enqueueIngestMessage(sqsClient(), env.INGEST_QUEUE_URL, msg),
    countIgnored: (teamId, receivedAt) => addWebhookCounts(documentClient(), env.TEAMS_TABLE, teamId, { ignored: 1 }, receivedAt),
    now: () => new Date(),
  };
  return deps;
}
