import { randomBytes } from 'node:crypto';
import { DeleteSecretCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { TeamIdSchema } from './team-id';
import { createTeamSecret } from './team-secret';
import { createTeamItem, getTeamItem, isTeamRemoved, TeamExistsError, TeamRemovedError, type TeamItem } from './team-store';

export interface RegisterTeamInput {
  teamId: string;
  clientId: string;
  clientSecret: string;
  /** Omitted: a 40-hex-char token from 20 random bytes, the form DrChrono's docs suggest. */
  webhookSecret?: string;
}

export interface RegisterTeamDeps {
  ddb: DynamoDBDocumentClient;
  secrets: SecretsManagerClient;
  teamsTable: string;
  teamSecretPrefix: string;
  kmsKeyId?: string;
  now?: Date;
}

export function generateWebhookSecret(): string {
  return randomBytes(20).toString('hex');
}

/**
 * Register a team: its secret first, then its item. If the item cannot be written the secret is removed,
 * so a failed registration leaves nothing behind and can simply be retried.
 */
export async function registerTeam(input: RegisterTeamInput, deps: RegisterTeamDeps): Promise<{ team: TeamItem; webhookSecret: string }> {
  const teamId = TeamIdSchema.parse(input.teamId);
  // Checked before the secret is created: a removed team's id is never reused (its webhook URL may still be set
  // in DrChrono, and its audit item must stay unambiguous), and nothing is written for it, even briefly.
  const existing = await getTeamItem(deps.ddb, deps.teamsTable, teamId, true);
  if (existing && isTeamRemoved(existing)) throw new TeamRemovedError(`team ${teamId} was removed; team ids are not reused`);
  if (existing) throw new TeamExistsError(`team ${teamId} already exists`);
  const webhookSecret = input.webhookSecret ?? generateWebhookSecret();
  await createTeamSecret(
    deps.secrets,
    deps.teamSecretPrefix,
    teamId,
    { clientId: input.clientId, clientSecret: input.clientSecret, webhookSecret },
    deps.kmsKeyId,
  );
  try {
    const team = await createTeamItem(deps.ddb, deps.teamsTable, teamId, deps.now);
    return { team, webhookSecret };
  } catch (err) {
    await deps.secrets
      .send(new DeleteSecretCommand({ SecretId: `${deps.teamSecretPrefix}${teamId}`, ForceDeleteWithoutRecovery: true }))
      .catch(() => undefined);
    throw err;
  }
}
