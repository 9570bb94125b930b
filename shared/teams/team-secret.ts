import * as z from 'zod/mini';
import {
  CreateSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  ResourceNotFoundException,
  type SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';

/**
 * A team's secret: DrChrono app credentials, the webhook secret token and, once connected, the OAuth tokens.
 * Stored as JSON in one Secrets Manager secret named `${prefix}${teamId}`.
 */
export const TeamSecretSchema = z.object({
  clientId: z.string().check(z.minLength(1)),
  clientSecret: z.string().check(z.minLength(1)),
  webhookSecret: z.string().check(z.minLength(1)),
  accessToken: z.optional(z.string().check(z.minLength(1))),
  refreshToken: z.optional(z.string().check(z.minLength(1))),
  /** Absolute expiry of the access token, epoch milliseconds. */
  accessTokenExpiresAt: z.optional(z.number().check(z.int())),
  /** Bumped on every token write, so readers can tell a newer token from the one they hold. */
  tokenVersion: z.optional(z.number().check(z.int(), z.nonnegative())),
  /**
   * Webhook secret tokens replaced by `team rotate-webhook-secret`, each still accepted until its own
   * `acceptedUntil` (epoch ms) so DrChrono can keep signing with it while the operator pastes the new one
   * (shared/teams/webhook-secret-rotation.ts). Every writer of the secret must keep this field.
   */
  previousWebhookSecrets: z.optional(
    z.array(z.object({ token: z.string().check(z.minLength(1)), acceptedUntil: z.number().check(z.int()) })).check(z.maxLength(5))),
});
export type TeamSecret = z.infer<typeof TeamSecretSchema>;

export class TeamSecretNotFoundError extends Error {
  override name = 'TeamSecretNotFoundError';
}
export class TeamSecretInvalidError extends Error {
  override name = 'TeamSecretInvalidError';
}

export function teamSecretName(prefix: string, teamId: string): string {
  return `${prefix}${teamId}`;
}

export async function readTeamSecret(client: SecretsManagerClient, prefix: string, teamId: string): Promise<TeamSecret> {
  let raw: string | undefined;
  try {
    const out = await client.send(new GetSecretValueCommand({ SecretId: teamSecretName(prefix, teamId) }));
    raw = out.SecretString;
  } catch (err) {
    if (err instanceof ResourceNotFoundException) throw new TeamSecretNotFoundError(`no secret for team ${teamId}`);
    throw err;
  }
  let json: unknown;
  try {
    json = JSON.parse(raw ?? '');
  } catch {
    throw new TeamSecretInvalidError(`secret for team ${teamId} is not JSON`);
  }
  const parsed = TeamSecretSchema.safeParse(json);
  if (!parsed.success) throw new TeamSecretInvalidError(`secret for team ${teamId} has an unexpected shape`);
  return parsed.data;
}

export async function createTeamSecret(
  client: SecretsManagerClient,
  prefix: string,
  teamId: string,
  secret: TeamSecret,
  kmsKeyId?: string,
): Promise<void> {
  await client.send(
    new CreateSecretCommand({
      Name: teamSecretName(prefix, teamId),
      SecretString: JSON.stringify(TeamSecretSchema.parse(secret)),
      Description: `drchrono-sync team ${teamId}`,
      ...(kmsKeyId ? { KmsKeyId: kmsKeyId } : {}),
    }),
  );
}

export async function writeTeamSecret(
  client: SecretsManagerClient,
  prefix: string,
  teamId: string,
  secret: TeamSecret,
  opts: { abortSignal?: AbortSignal; clientRequestToken?: string } = {},
): Promise<void> {
  await client.send(
    new PutSecretValueCommand({
      SecretId: teamSecretName(prefix, teamId),
      SecretString: JSON.stringify(TeamSecretSchema.parse(secret)),
      ...(opts.clientRequestToken ? { ClientRequestToken: opts.clientRequestToken } : {}),
    }),
    opts.abortSignal ? { abortSignal: opts.abortSignal } : {},
  );
}
