import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  InvalidParameterException,
  InvalidRequestException,
  ListSecretsCommand,
  PutSecretValueCommand,
  ResourceExistsException,
  ResourceNotFoundException,
  SecretsManagerClient,
  SecretsManagerServiceException,
  UpdateSecretCommand,
} from '@aws-sdk/client-secrets-manager';
import { startSecretsManagerEmulator, type SecretsManagerEmulator } from '../../../local/emulators/secrets-manager';

// The real SDK client against the emulator over HTTP: what passes here works for the handlers too.
function clientFor(emulator: SecretsManagerEmulator): SecretsManagerClient {
  return new SecretsManagerClient({
    endpoint: emulator.url,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
  });
}

let emulator: SecretsManagerEmulator;
let sm: SecretsManagerClient;
let dir: string;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sm-emulator-'));
  emulator = await startSecretsManagerEmulator({ port: 0 });
  sm = clientFor(emulator);
});

afterEach(async () => {
  sm.destroy();
  await emulator.close();
  rmSync(dir, { recursive: true, force: true });
});

const token = (n: number): string => `token-${String(n).padStart(32, '0')}`;

describe('Secrets Manager emulator with the real SDK client', () => {
  it('creates a secret and reads it back by name, full ARN and partial ARN', async () => {
    const created = await sm.send(new CreateSecretCommand({ Name: 'app/teams/t1', SecretString: '{"a":1}' }));
    expect(created.ARN).toMatch(/^arn:aws:secretsmanager:us-east-1:000000000000:secret:app\/teams\/t1-[A-Za-z0-9]{6}$/);
    const partialArn = created.ARN!.slice(0, -7);
    for (const id of ['app/teams/t1', created.ARN!, partialArn]) {
      const got = await sm.send(new GetSecretValueCommand({ SecretId: id }));
      expect(got.SecretString).toBe('{"a":1}');
      expect(got.VersionId).toBe(created.VersionId);
      expect(got.VersionStages).toEqual(['AWSCURRENT']);
      expect(got.CreatedDate).toBeInstanceOf(Date);
    }
  });

  it('round-trips SecretBinary as bytes', async () => {
    const bytes = new Uint8Array([0, 1, 254, 255]);
    await sm.send(new CreateSecretCommand({ Name: 'bin', SecretBinary: bytes }));
    const got = await sm.send(new GetSecretValueCommand({ SecretId: 'bin' }));
    expect(Array.from(got.SecretBinary!)).toEqual([0, 1, 254, 255]);
    expect(got.SecretString).toBeUndefined();
  });

  it('throws a typed ResourceNotFoundException for an unknown secret', async () => {
    await expect(sm.send(new GetSecretValueCommand({ SecretId: 'missing' }))).rejects.toBeInstanceOf(ResourceNotFoundException);
  });

  it('throws a typed ResourceExistsException when the name is taken', async () => {
    await sm.send(new CreateSecretCommand({ Name: 'dup', SecretString: 'x' }));
    await expect(sm.send(new CreateSecretCommand({ Name: 'dup', SecretString: 'y' }))).rejects.toBeInstanceOf(
      ResourceExistsException,
    );
  });

  it('rejects names with characters outside the AWS charset or longer than 512', async () => {
    await expect(sm.send(new CreateSecretCommand({ Name: 'bad name!', SecretString: 'x' }))).rejects.toBeInstanceOf(
      InvalidParameterException,
    );
    await expect(sm.send(new CreateSecretCommand({ Name: 'a'.repeat(513), SecretString: 'x' }))).rejects.toBeInstanceOf(
      InvalidParameterException,
    );
  });

  it('rejects SecretString and SecretBinary together', async () => {
    await expect(
      sm.send(new CreateSecretCommand({ Name: 'both', SecretString: 'x', SecretBinary: new Uint8Array([1]) })),
    ).rejects.toBeInstanceOf(InvalidParameterException);
  });

  it('moves AWSCURRENT to the new version and AWSPREVIOUS to the old one on PutSecretValue', async () => {
    const v1 = await sm.send(new CreateSecretCommand({ Name: 's', SecretString: 'one', ClientRequestToken: token(1) }));
    await sm.send(new PutSecretValueCommand({ SecretId: 's', SecretString: 'two', ClientRequestToken: token(2) }));
    await sm.send(new PutSecretValueCommand({ SecretId: 's', SecretString: 'three', ClientRequestToken: token(3) }));

    const described = await sm.send(new DescribeSecretCommand({ SecretId: 's' }));
    // v1 lost its last label, so AWS leaves it out of the map.
    expect(described.VersionIdsToStages).toEqual({ [token(2)]: ['AWSPREVIOUS'], [token(3)]: ['AWSCURRENT'] });
    expect(v1.VersionId).toBe(token(1));
    const previous = await sm.send(new GetSecretValueCommand({ SecretId: 's', VersionStage: 'AWSPREVIOUS' }));
    expect(previous.SecretString).toBe('two');
    expect((await sm.send(new GetSecretValueCommand({ SecretId: 's' }))).SecretString).toBe('three');
  });

  it('treats a repeated ClientRequestToken with the same value as the same version, and a different value as an error', async () => {
    await sm.send(new CreateSecretCommand({ Name: 'idem', SecretString: 'one' }));
    const first = await sm.send(new PutSecretValueCommand({ SecretId: 'idem', SecretString: 'two', ClientRequestToken: token(7) }));
    const again = await sm.send(new PutSecretValueCommand({ SecretId: 'idem', SecretString: 'two', ClientRequestToken: token(7) }));
    expect(again.VersionId).toBe(first.VersionId);
    expect(Object.keys((await sm.send(new DescribeSecretCommand({ SecretId: 'idem' }))).VersionIdsToStages!)).toHaveLength(2);
    await expect(
      sm.send(new PutSecretValueCommand({ SecretId: 'idem', SecretString: 'other', ClientRequestToken: token(7) })),
    ).rejects.toBeInstanceOf(ResourceExistsException);
  });

  it('lists secrets by name prefix across pages', async () => {
    for (const n of ['p/a', 'p/b', 'p/c', 'q/a']) await sm.send(new CreateSecretCommand({ Name: n, SecretString: 'x' }));
    const names: string[] = [];
    let nextToken: string | undefined;
    let pages = 0;
    do {
      const page = await sm.send(
        new ListSecretsCommand({ Filters: [{ Key: 'name', Values: ['p/'] }], MaxResults: 2, NextToken: nextToken }),
      );
      names.push(...page.SecretList!.map((s) => s.Name!));
      nextToken = page.NextToken;
      pages += 1;
    } while (nextToken);
    expect(names).toEqual(['p/a', 'p/b', 'p/c']);
    expect(pages).toBe(2);
  });

  it('deletes immediately with ForceDeleteWithoutRecovery so the name can be reused', async () => {
    await sm.send(new CreateSecretCommand({ Name: 'gone', SecretString: 'x' }));
    await sm.send(new DeleteSecretCommand({ SecretId: 'gone', ForceDeleteWithoutRecovery: true }));
    await expect(sm.send(new GetSecretValueCommand({ SecretId: 'gone' }))).rejects.toBeInstanceOf(ResourceNotFoundException);
    await sm.send(new CreateSecretCommand({ Name: 'gone', SecretString: 'again' }));
  });

  it('refuses reads of a secret scheduled for deletion', async () => {
    await sm.send(new CreateSecretCommand({ Name: 'scheduled', SecretString: 'x' }));
    const deleted = await sm.send(new DeleteSecretCommand({ SecretId: 'scheduled', RecoveryWindowInDays: 7 }));
    expect(deleted.DeletionDate).toBeInstanceOf(Date);
    await expect(sm.send(new GetSecretValueCommand({ SecretId: 'scheduled' }))).rejects.toBeInstanceOf(InvalidRequestException);
    const listed = await sm.send(new ListSecretsCommand({}));
    expect(listed.SecretList).toEqual([]);
  });

  it('UpdateSecret changes the description and, with a value, makes a new current version', async () => {
    await sm.send(new CreateSecretCommand({ Name: 'upd', SecretString: 'one' }));
    await sm.send(new UpdateSecretCommand({ SecretId: 'upd', Description: 'desc', SecretString: 'two' }));
    expect((await sm.send(new GetSecretValueCommand({ SecretId: 'upd' }))).SecretString).toBe('two');
    expect((await sm.send(new DescribeSecretCommand({ SecretId: 'upd' }))).Description).toBe('desc');
  });

  it('answers an unknown operation with UnknownOperationException', async () => {
    const res = await fetch(emulator.url, {
      method: 'POST',
      headers: { 'x-amz-target': 'secretsmanager.RotateSecret', 'content-type': 'application/x-amz-json-1.1' },
      body: '{}',
    });
    expect(res.status).toBe(400);
    expect(res.headers.get('x-amzn-errortype')).toBe('UnknownOperationException');
    expect(((await res.json()) as { __type: string }).__type).toBe('UnknownOperationException');
  });

  it('answers malformed JSON with a SerializationException, not a 5xx', async () => {
    const err = await fetch(emulator.url, {
      method: 'POST',
      headers: { 'x-amz-target': 'secretsmanager.GetSecretValue' },
      body: '{not json',
    });
    expect(err.status).toBe(400);
    expect(err.headers.get('x-amzn-errortype')).toBe('SerializationException');
  });

  it('keeps serving (and the process alive) after a client aborts while sending its body', async () => {
    const { request } = await import('node:http');
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      await new Promise<void>((resolve) => {
        const req = request(emulator.url, { method: 'POST', headers: { 'x-amz-target': 'secretsmanager.ListSecrets', 'content-length': '1000' } });
        req.on('error', () => resolve());
        req.write('{"Max');
        setTimeout(() => {
          req.destroy();
          resolve();
        }, 50);
      });
      await new Promise((r) => setTimeout(r, 100));
      expect(unhandled).toEqual([]);
      await expect(sm.send(new ListSecretsCommand({}))).resolves.toBeDefined();
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('keeps secrets and their versions across a restart when persisting to a file', async () => {
    const file = join(dir, 'secrets.json');
    const first = await startSecretsManagerEmulator({ port: 0, persistPath: file });
    const c1 = clientFor(first);
    const created = await c1.send(new CreateSecretCommand({ Name: 'kept', SecretString: 'one' }));
    await c1.send(new PutSecretValueCommand({ SecretId: 'kept', SecretString: 'two' }));
    c1.destroy();
    await first.close();
    expect(JSON.parse(readFileSync(file, 'utf8')).secrets).toHaveLength(1);

    const second = await startSecretsManagerEmulator({ port: 0, persistPath: file });
    const c2 = clientFor(second);
    try {
      const got = await c2.send(new GetSecretValueCommand({ SecretId: created.ARN! }));
      expect(got.SecretString).toBe('two');
      const previous = await c2.send(new GetSecretValueCommand({ SecretId: 'kept', VersionStage: 'AWSPREVIOUS' }));
      expect(previous.VersionId).toBe(created.VersionId);
    } finally {
      c2.destroy();
      await second.close();
    }
  });

  it('surfaces every fault as a SecretsManagerServiceException subclass with a message', async () => {
    const err = await sm.send(new DescribeSecretCommand({ SecretId: 'nope' })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SecretsManagerServiceException);
    expect((err as Error).message).toContain("can't find");
  });
});
