import { randomBytes } from 'node:crypto';
import { DeleteSecretCommand, InvalidRequestException, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { TeamIdSchema } from './team-id';
import { createTeamSecret, teamSecretName, type TeamSecret } from './team-secret';
import { createTeamItem, getTeamItem, isTeamRemoved, TeamExistsError, TeamRemovedError, type TeamItem } from './team-store';

export interface RegisterTeamInput {
  teamId: string;
  clientId: string;
  clientSecret: string;
  /** Omitted: a 40-hex-char token from 20 random bytes, the form DrChrono's docs suggest. */
  webhookSecret?: string;
  /** `team add --write-back`: the team opts in to write-back, so its connect link asks for the write scopes. */
  writeBack?: boolean;
}

export interface RegisterTeamDeps {
  ddb: DynamoDBDocumentClient;
  secrets: SecretsManagerClient;
  teamsTable: string;
  teamSecretPrefix: string;
  kmsKeyId?: string;
  now?: Date;
  /** Waits between CreateSecret attempts while a same-named secret is still being deleted; tests pass their own. */
  pendingDeletionDelaysMs?: readonly number[];
  sleep?: (ms: number) => Promise<void>;
  /** Told before each wait, so an operator sees why `team add` pauses. */
  onPendingDeletion?: (waitMs: number) => void;
}

/**
 * A force-deleted secret is removed in the background (usually within seconds), and until then CreateSecret with
 * its name fails with InvalidRequestException "...already scheduled for deletion". A `team add` retried right after
 * a failed one (which deleted its secret) hits this, so creation is retried on this schedule (31 s in all).
 */
export const PENDING_DELETION_DELAYS_MS: readonly number[] = [1_000, 2_000, 4_000, 8_000, 16_000];

/** The team's secret name is still taken by a secret being deleted; nothing was written. */
export class SecretPendingDeletionError extends Error {
  override name = 'SecretPendingDeletionError';
  constructor(readonly secretName: string, waitedMs: number) {
    super(
      `Secrets Manager is still deleting an earlier secret named ${secretName} (waited ${Math.round(waitedMs / 1000)} s). ` +
        'If a previous `team add` for this team just failed, wait a minute and run it again. If the secret was deleted ' +
        'with a recovery window, restore it (aws secretsmanager restore-secret --secret-id <name>) or remove it for good ' +
        '(aws secretsmanager delete-secret --secret-id <name> --force-delete-without-recovery) first.',
    );
  }
}

function isPendingDeletion(err: unknown): boolean {
  return err instanceof InvalidRequestException && /scheduled for deletion/i.test(err.message);
}

const realSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** CreateSecret, retried with backoff while a same-named secret is pending deletion; then a clear error. */
async function createSecretWaitingForDeletion(deps: RegisterTeamDeps, teamId: string, secret: TeamSecret): Promise<void> {
  const delays = deps.pendingDeletionDelaysMs ?? PENDING_DELETION_DELAYS_MS;
  const sleep = deps.sleep ?? realSleep;
  let waited = 0;
  for (let attempt = 0; ; attempt++) {
    try {
      await createTeamSecret(deps.secrets, deps.teamSecretPrefix, teamId, secret, deps.kmsKeyId);
      return;
    } catch (err) {
      if (!isPendingDeletion(err)) throw err;
      const delay = delays[attempt];
      if (delay === undefined) throw new SecretPendingDeletionError(teamSecretName(deps.teamSecretPrefix, teamId), waited);
      deps.onPendingDeletion?.(delay);
      await sleep(delay);
      waited += delay;
    }
  }
}

export function generateWebhookSecret(): string {
  return randomBytes(20).toString('hex');
}

/**
 * Register a team: its secret first, then its item. If the item cannot be written the secret is removed,
 * so a failed registration leaves nothing behind and can simply be retried (the removal finishes in the
 * background; a retry waits for it, see PENDING_DELETION_DELAYS_MS).
 */
export async function registerTeam(input: RegisterTeamInput, deps: RegisterTeamDeps): Promise<{ team: TeamItem; webhookSecret: string }> {
  const teamId = TeamIdSchema.parse(input.teamId);
  // Checked before the secret is created: a removed team's id is never reused (its webhook URL may still be set
  // in DrChrono, and its audit item must stay unambiguous), and nothing is written for it, even briefly.
  const existing = await getTeamItem(deps.ddb, deps.teamsTable, teamId, true);
  if (existing && isTeamRemoved(existing)) throw new TeamRemovedError(`team ${teamId} was removed; team ids are not reused`);
  if (existing) throw new TeamExistsError(`team ${teamId} already exists`);
  const webhookSecret = input.webhookSecret ?? generateWebhookSecret();
  await createSecretWaitingForDeletion(deps, teamId, { clientId: input.clientId, clientSecret: input.clientSecret, webhookSecret });
  try {
    const team = await createTeamItem(deps.ddb, deps.teamsTable, teamId, deps.now, input.writeBack ? { writeBack: true } : {});
    return { team, webhookSecret };
  } catch (err) {
    await deps.secrets
      .send(new DeleteSecretCommand({ SecretId: teamSecretName(deps.teamSecretPrefix, teamId), ForceDeleteWithoutRecovery: true }))
      .catch(() => undefined);
    throw err;
  }
}
