import type { TeamSecret } from '../teams/team-secret';
import type { TeamItem } from '../teams/team-store';

/** Secret re-reads (after a 401, or for a connected team's token-less secret) are bounded to one per this many ms per team. */
export const SECRET_REREAD_MIN_AGE_MS = 5_000;

export interface TeamSecretSource {
  get(teamId: string): Promise<TeamSecret | null>;
  refresh(teamId: string, minAgeMs?: number): Promise<TeamSecret | null>;
}

/** A connected team whose secret holds no access token even after the bounded re-read: the message waits. */
export class NoTeamTokenError extends Error {
  override name = 'NoTeamTokenError';
  constructor() {
    super('team secret holds no access token');
  }
}

/**
 * The access token of one message, read from the team secret only when the message is about to call DrChrono.
 * Most deliveries are stored as delivered, without a call: they cost no Secrets Manager read (each is a
 * GetSecretValue plus a KMS Decrypt). Read at most once per message (one promise), with the rules of a read:
 * - a connected team whose cached copy has no token was cached before the connect (the callback writes the tokens
 *   before it marks the team connected): read again, bounded per SECRET_REREAD_MIN_AGE_MS, so a secret that truly
 *   has no token costs one read per min age, not one per delivery;
 * - a cached copy older than the team's last token write (tokenVersion): after a DrChrono account change the
 *   previous account's token still works (no 401 tells us), so read again (shared/oauth/account-binding.ts).
 */
export class LazyTeamToken {
  private reading?: Promise<TeamSecret>;

  private constructor(
    private readonly teamId: string,
    private readonly team: TeamItem,
    private readonly secrets: TeamSecretSource,
    private read?: TeamSecret,
  ) {
    if (read) this.reading = Promise.resolve(read);
  }

  static lazy(teamId: string, team: TeamItem, secrets: TeamSecretSource): LazyTeamToken {
    return new LazyTeamToken(teamId, team, secrets);
  }

  /** A token source over a secret already read (the retry after a 401 with the re-read secret). */
  static of(teamId: string, team: TeamItem, secrets: TeamSecretSource, secret: TeamSecret & { accessToken: string }): LazyTeamToken {
    return new LazyTeamToken(teamId, team, secrets, secret);
  }

  /** The secret this message used, once a call asked for it; undefined when the message made no DrChrono call. */
  get secret(): TeamSecret | undefined {
    return this.read;
  }

  /** The access token; throws NoTeamTokenError when the team has none. */
  async accessToken(): Promise<string> {
    this.reading ??= this.load();
    const secret = await this.reading;
    return secret.accessToken!;
  }

  private async load(): Promise<TeamSecret> {
    let secret = await this.secrets.get(this.teamId);
    if (!secret?.accessToken) secret = await this.secrets.refresh(this.teamId, SECRET_REREAD_MIN_AGE_MS);
    else if ((secret.tokenVersion ?? 0) < (this.team.tokenVersion ?? 0)) secret = await this.secrets.refresh(this.teamId, SECRET_REREAD_MIN_AGE_MS);
    if (!secret?.accessToken) throw new NoTeamTokenError();
    this.read = secret;
    return secret;
  }
}
