import { randomBytes, randomUUID } from 'node:crypto';

/**
 * The state and operations of the local Secrets Manager emulator, without any HTTP. Each operation takes the
 * AWS JSON request body and returns the AWS JSON response body, or throws SecretsManagerFault with the AWS
 * error code, so the real SDK client sees the same shapes and typed exceptions it sees in AWS.
 */
export class SecretsManagerFault extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = code;
  }
}

interface SecretVersion {
  versionId: string;
  secretString?: string;
  /** base64, as on the wire */
  secretBinary?: string;
  stages: string[];
  createdDate: number;
}

export interface StoredSecret {
  arn: string;
  name: string;
  description?: string;
  kmsKeyId?: string;
  tags: { Key: string; Value: string }[];
  createdDate: number;
  lastChangedDate: number;
  lastAccessedDate?: number;
  deletedDate?: number;
  /** epoch seconds when a scheduled deletion takes effect */
  deletionDate?: number;
  versions: SecretVersion[];
}

type Body = Record<string, unknown>;

const ACCOUNT_ID = '000000000000';
const NAME_PATTERN = /^[A-Za-z0-9/_+=.@-]+$/;
const MAX_NAME_LENGTH = 512;
const MAX_SECRET_BYTES = 65536;
const CURRENT = 'AWSCURRENT';
const PREVIOUS = 'AWSPREVIOUS';

const nowSeconds = (): number => Date.now() / 1000;

function invalidParam(message: string): never {
  throw new SecretsManagerFault('InvalidParameterException', message);
}

function optString(body: Body, key: string): string | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') invalidParam(`${key} must be a string.`);
  return v;
}

function reqString(body: Body, key: string): string {
  const v = optString(body, key);
  if (v === undefined || v === '') invalidParam(`${key} is required.`);
  return v;
}

function optStringList(body: Body, key: string): string[] | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) invalidParam(`${key} must be a list of strings.`);
  return v as string[];
}

function validateName(name: string): void {
  if (name.length > MAX_NAME_LENGTH) invalidParam(`Name must be at most ${MAX_NAME_LENGTH} characters.`);
  if (!NAME_PATTERN.test(name)) {
    invalidParam('Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!');
  }
}

function validateToken(token: string | undefined): void {
  if (token !== undefined && (token.length < 32 || token.length > 64)) {
    invalidParam('ClientRequestToken must be between 32 and 64 characters.');
  }
}

/** SecretString / SecretBinary are mutually exclusive; returns the one given, if any. */
function readValue(body: Body): { secretString?: string; secretBinary?: string } | undefined {
  const secretString = optString(body, 'SecretString');
  const secretBinary = optString(body, 'SecretBinary');
  if (secretString !== undefined && secretBinary !== undefined) {
    invalidParam('You can specify either SecretString or SecretBinary, but not both.');
  }
  if (secretString !== undefined) {
    if (Buffer.byteLength(secretString, 'utf8') > MAX_SECRET_BYTES) invalidParam('SecretString exceeds 65536 bytes.');
    return { secretString };
  }
  if (secretBinary !== undefined) {
    if (Buffer.from(secretBinary, 'base64').length > MAX_SECRET_BYTES) invalidParam('SecretBinary exceeds 65536 bytes.');
    return { secretBinary };
  }
  return undefined;
}

function randomSuffix(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
  return Array.from(randomBytes(6), (b) => alphabet[b % alphabet.length]).join('');
}

function versionIdsToStages(secret: StoredSecret): Record<string, string[]> {
  // Versions without a label are deprecated in AWS and left out of this map.
  return Object.fromEntries(secret.versions.filter((v) => v.stages.length > 0).map((v) => [v.versionId, [...v.stages]]));
}

export class SecretsManagerStore {
  private secrets: StoredSecret[] = [];

  constructor(
    private readonly region = 'us-east-1',
    private readonly onChange: (secrets: readonly StoredSecret[]) => void = () => {},
  ) {}

  load(secrets: StoredSecret[]): void {
    this.secrets = secrets;
  }

  snapshot(): readonly StoredSecret[] {
    return this.secrets;
  }

  /** Runs an operation by its X-Amz-Target name. */
  handle(operation: string, body: Body): Body {
    this.purgeExpiredDeletions();
    switch (operation) {
      case 'CreateSecret':
        return this.createSecret(body);
      case 'GetSecretValue':
        return this.getSecretValue(body);
      case 'PutSecretValue':
        return this.putSecretValue(body);
      case 'DescribeSecret':
        return this.describeSecret(body);
      case 'ListSecrets':
        return this.listSecrets(body);
      case 'DeleteSecret':
        return this.deleteSecret(body);
      case 'UpdateSecret':
        return this.updateSecret(body);
      default:
        throw new SecretsManagerFault('UnknownOperationException', `Operation ${operation} is not supported by the local emulator.`);
    }
  }

  private changed(): void {
    this.onChange(this.secrets);
  }

  private purgeExpiredDeletions(): void {
    const now = nowSeconds();
    const before = this.secrets.length;
    this.secrets = this.secrets.filter((s) => s.deletionDate === undefined || s.deletionDate > now);
    if (this.secrets.length !== before) this.changed();
  }

  /** By name, full ARN, or partial ARN (the ARN without its random six-character suffix). */
  private find(secretId: string): StoredSecret {
    const found =
      this.secrets.find((s) => s.name === secretId || s.arn === secretId) ??
      this.secrets.find((s) => s.arn.slice(0, -7) === secretId);
    if (!found) throw new SecretsManagerFault('ResourceNotFoundException', "Secrets Manager can't find the specified secret.");
    return found;
  }

  private findLive(secretId: string): StoredSecret {
    const secret = this.find(secretId);
    if (secret.deletedDate !== undefined) {
      throw new SecretsManagerFault(
        'InvalidRequestException',
        "You can't perform this operation on the secret because it was marked for deletion.",
      );
    }
    return secret;
  }

  /** Moves each label onto `version`; a moved AWSCURRENT leaves AWSPREVIOUS on the version that held it. */
  private stage(secret: StoredSecret, version: SecretVersion, labels: string[]): void {
    for (const label of labels) {
      const holder = secret.versions.find((v) => v.stages.includes(label));
      if (holder === version) continue;
      if (holder) holder.stages = holder.stages.filter((l) => l !== label);
      if (label === CURRENT && holder) {
        for (const v of secret.versions) v.stages = v.stages.filter((l) => l !== PREVIOUS);
        holder.stages.push(PREVIOUS);
      }
      version.stages.push(label);
    }
  }

  /** Adds a version, or returns the existing one when the token was already used with the same value. */
  private addVersion(
    secret: StoredSecret,
    token: string | undefined,
    value: { secretString?: string; secretBinary?: string },
    labels: string[],
  ): SecretVersion {
    validateToken(token);
    const existing = token === undefined ? undefined : secret.versions.find((v) => v.versionId === token);
    if (existing) {
      if (existing.secretString !== value.secretString || existing.secretBinary !== value.secretBinary) {
        throw new SecretsManagerFault(
          'ResourceExistsException',
          'You can\'t modify an existing version, you can only create a new version.',
        );
      }
      return existing;
    }
    const version: SecretVersion = { versionId: token ?? randomUUID(), ...value, stages: [], createdDate: nowSeconds() };
    secret.versions.push(version);
    this.stage(secret, version, labels);
    secret.lastChangedDate = version.createdDate;
    return version;
  }

  private createSecret(body: Body): Body {
    const name = reqString(body, 'Name');
    validateName(name);
    const token = optString(body, 'ClientRequestToken');
    validateToken(token);
    const value = readValue(body);
    const tags = body.Tags;
    if (tags !== undefined && !Array.isArray(tags)) invalidParam('Tags must be a list.');
    const existing = this.secrets.find((s) => s.name === name);
    if (existing?.deletedDate !== undefined) {
      throw new SecretsManagerFault(
        'InvalidRequestException',
        "You can't create this secret because a secret with this name is already scheduled for deletion.",
      );
    }
    if (existing) {
      throw new SecretsManagerFault('ResourceExistsException', `The operation failed because the secret ${name} already exists.`);
    }
    const now = nowSeconds();
    const secret: StoredSecret = {
      arn: `arn:aws:secretsmanager:${this.region}:${ACCOUNT_ID}:secret:${name}-${randomSuffix()}`,
      name,
      description: optString(body, 'Description'),
      kmsKeyId: optString(body, 'KmsKeyId'),
      tags: ((tags as { Key: string; Value: string }[] | undefined) ?? []).map((t) => ({ Key: t.Key, Value: t.Value })),
      createdDate: now,
      lastChangedDate: now,
      versions: [],
    };
    const version = value ? this.addVersion(secret, token, value, [CURRENT]) : undefined;
    this.secrets.push(secret);
    this.changed();
    return { ARN: secret.arn, Name: secret.name, ...(version ? { VersionId: version.versionId } : {}) };
  }

  private getSecretValue(body: Body): Body {
    const secret = this.findLive(reqString(body, 'SecretId'));
    const versionId = optString(body, 'VersionId');
    const stage = optString(body, 'VersionStage') ?? (versionId === undefined ? CURRENT : undefined);
    const version = secret.versions.find(
      (v) => (versionId === undefined || v.versionId === versionId) && (stage === undefined || v.stages.includes(stage)),
    );
    if (!version) {
      throw new SecretsManagerFault(
        'ResourceNotFoundException',
        `Secrets Manager can't find the specified secret value for ${versionId ? `VersionId: ${versionId}` : `staging label: ${stage}`}`,
      );
    }
    secret.lastAccessedDate = Math.floor(nowSeconds() / 86400) * 86400;
    return {
      ARN: secret.arn,
      Name: secret.name,
      VersionId: version.versionId,
      ...(version.secretString !== undefined ? { SecretString: version.secretString } : {}),
      ...(version.secretBinary !== undefined ? { SecretBinary: version.secretBinary } : {}),
      VersionStages: [...version.stages],
      CreatedDate: version.createdDate,
    };
  }

  private putSecretValue(body: Body): Body {
    const secret = this.findLive(reqString(body, 'SecretId'));
    const value = readValue(body);
    if (!value) invalidParam('You must provide either SecretString or SecretBinary.');
    const labels = optStringList(body, 'VersionStages') ?? [CURRENT];
    const version = this.addVersion(secret, optString(body, 'ClientRequestToken'), value, labels);
    this.changed();
    return { ARN: secret.arn, Name: secret.name, VersionId: version.versionId, VersionStages: [...version.stages] };
  }

  private updateSecret(body: Body): Body {
    const secret = this.findLive(reqString(body, 'SecretId'));
    const value = readValue(body);
    const description = optString(body, 'Description');
    const kmsKeyId = optString(body, 'KmsKeyId');
    if (description !== undefined) secret.description = description;
    if (kmsKeyId !== undefined) secret.kmsKeyId = kmsKeyId;
    secret.lastChangedDate = nowSeconds();
    const version = value ? this.addVersion(secret, optString(body, 'ClientRequestToken'), value, [CURRENT]) : undefined;
    this.changed();
    return { ARN: secret.arn, Name: secret.name, ...(version ? { VersionId: version.versionId } : {}) };
  }

  private describeSecret(body: Body): Body {
    const secret = this.find(reqString(body, 'SecretId'));
    return {
      ARN: secret.arn,
      Name: secret.name,
      ...(secret.description !== undefined ? { Description: secret.description } : {}),
      ...(secret.kmsKeyId !== undefined ? { KmsKeyId: secret.kmsKeyId } : {}),
      RotationEnabled: false,
      CreatedDate: secret.createdDate,
      LastChangedDate: secret.lastChangedDate,
      ...(secret.lastAccessedDate !== undefined ? { LastAccessedDate: secret.lastAccessedDate } : {}),
      ...(secret.deletedDate !== undefined ? { DeletedDate: secret.deletedDate } : {}),
      Tags: secret.tags,
      VersionIdsToStages: versionIdsToStages(secret),
    };
  }

  private listSecrets(body: Body): Body {
    const maxResults = body.MaxResults ?? 100;
    if (typeof maxResults !== 'number' || !Number.isInteger(maxResults) || maxResults < 1 || maxResults > 100) {
      invalidParam('MaxResults must be an integer between 1 and 100.');
    }
    const includeDeleted = body.IncludePlannedDeletion === true;
    const filters = body.Filters ?? [];
    if (!Array.isArray(filters)) invalidParam('Filters must be a list.');
    const matchers = (filters as Body[]).map((f) => {
      const key = f.Key;
      const values = f.Values;
      if (!Array.isArray(values) || !values.every((v) => typeof v === 'string')) invalidParam('Filter Values must be strings.');
      const fields = (s: StoredSecret): string[] => {
        switch (key) {
          case 'name':
            return [s.name];
          case 'description':
            return [s.description ?? ''];
          case 'tag-key':
            return s.tags.map((t) => t.Key);
          case 'tag-value':
            return s.tags.map((t) => t.Value);
          case 'all':
            return [s.name, s.description ?? '', ...s.tags.flatMap((t) => [t.Key, t.Value])];
          default:
            return invalidParam(`Filter key ${String(key)} is not supported by the local emulator.`);
        }
      };
      // AWS filters match by prefix; a leading '!' negates.
      return (s: StoredSecret): boolean =>
        (values as string[]).some((v) =>
          v.startsWith('!') ? !fields(s).some((f) => f.startsWith(v.slice(1))) : fields(s).some((f) => f.startsWith(v)),
        );
    });
    const matching = this.secrets.filter((s) => (includeDeleted || s.deletedDate === undefined) && matchers.every((m) => m(s)));
    if (body.SortOrder === 'desc') matching.reverse();
    const token = optString(body, 'NextToken');
    const start = token === undefined ? 0 : Number.parseInt(Buffer.from(token, 'base64').toString('utf8'), 10);
    if (!Number.isInteger(start) || start < 0) invalidParam('Invalid NextToken.');
    const page = matching.slice(start, start + maxResults);
    const next = start + maxResults;
    return {
      SecretList: page.map((s) => ({
        ARN: s.arn,
        Name: s.name,
        ...(s.description !== undefined ? { Description: s.description } : {}),
        CreatedDate: s.createdDate,
        LastChangedDate: s.lastChangedDate,
        ...(s.deletedDate !== undefined ? { DeletedDate: s.deletedDate } : {}),
        Tags: s.tags,
        SecretVersionsToStages: versionIdsToStages(s),
      })),
      ...(next < matching.length ? { NextToken: Buffer.from(String(next)).toString('base64') } : {}),
    };
  }

  private deleteSecret(body: Body): Body {
    const secret = this.find(reqString(body, 'SecretId'));
    const force = body.ForceDeleteWithoutRecovery === true;
    const window = body.RecoveryWindowInDays;
    if (force && window !== undefined) {
      invalidParam("You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.");
    }
    if (window !== undefined && (typeof window !== 'number' || window < 7 || window > 30)) {
      invalidParam('RecoveryWindowInDays value must be between 7 and 30 days (inclusive).');
    }
    const now = nowSeconds();
    if (force) {
      this.secrets = this.secrets.filter((s) => s !== secret);
      this.changed();
      return { ARN: secret.arn, Name: secret.name, DeletionDate: now };
    }
    if (secret.deletedDate === undefined) {
      secret.deletedDate = now;
      secret.deletionDate = now + (typeof window === 'number' ? window : 30) * 86400;
      this.changed();
    }
    return { ARN: secret.arn, Name: secret.name, DeletionDate: secret.deletionDate };
  }
}
