import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CliError,
  createCliContext,
  redirectUri,
  resolveTarget,
  resourcesFromEnv,
  resourcesFromPlatformInfo,
  resourcesFromStackOutputs,
  regionOfApiUrl,
  teamWebhookUrl,
} from '../../../cli/context';

const TEAM = '3f2c1b0a-9d8e-4f7a-8b6c-5d4e3f2a1b0c';
const platformInfo = {
  stage: 'local',
  region: 'us-east-1',
  apiBaseUrl: 'http://127.0.0.1:3000',
  webhookUrlTemplate: 'http://127.0.0.1:3000/drchronowebhook/{teamId}',
  oauthRedirectUri: 'http://127.0.0.1:3000/integration-oauth/callback',
  sandboxUrl: 'http://127.0.0.1:3100',
  endpoints: { dynamodb: 'http://127.0.0.1:8000', sqs: 'http://127.0.0.1:4566', secretsManager: 'http://127.0.0.1:4584' },
  resources: {
    teamsTable: 'custom-teams',
    recordsTable: 'custom-records',
    integrationLogTable: 'custom-log',
    teamSecretPrefix: 'custom/teams/',
  },
  queueUrls: {
    ingest: 'http://127.0.0.1:4566/000000000000/drchrono-sync-local-ingest',
    backfill: 'http://127.0.0.1:4566/000000000000/drchrono-sync-local-backfill',
    writeBack: 'http://127.0.0.1:4566/000000000000/drchrono-sync-local-write-back.fifo',
  },
};

describe('resolveTarget', () => {
  it('defaults to local', () => expect(resolveTarget({}, {})).toBe('local'));
  it('reads DRCHRONO_SYNC_TARGET', () => expect(resolveTarget({}, { DRCHRONO_SYNC_TARGET: 'aws' })).toBe('aws'));
  it('prefers --target over the environment', () => expect(resolveTarget({ target: 'local' }, { DRCHRONO_SYNC_TARGET: 'aws' })).toBe('local'));
  it('rejects an unknown target', () => expect(() => resolveTarget({ target: 'gcp' }, {})).toThrow(CliError));
});

describe('resourcesFromPlatformInfo', () => {
  it('reads resource names, queue URLs and addresses from the platform info', () => {
    expect(resourcesFromPlatformInfo(platformInfo).resources).toEqual({
      stage: 'local',
      teamsTable: 'custom-teams',
      recordsTable: 'custom-records',
      integrationLogTable: 'custom-log',
      teamSecretPrefix: 'custom/teams/',
      ingestQueueUrl: platformInfo.queueUrls.ingest,
      backfillQueueUrl: platformInfo.queueUrls.backfill,
      writeBackQueueUrl: platformInfo.queueUrls.writeBack,
      writeBackDlqUrl: 'http://127.0.0.1:4566/000000000000/drchrono-sync-local-write-back-dlq.fifo',
      ingestDlqUrl: `${platformInfo.queueUrls.ingest}-dlq`,
      backfillDlqUrl: `${platformInfo.queueUrls.backfill}-dlq`,
      apiBaseUrl: 'http://127.0.0.1:3000',
      oauthRedirectUri: platformInfo.oauthRedirectUri,
      webhookUrlTemplate: platformInfo.webhookUrlTemplate,
      sandboxUrl: 'http://127.0.0.1:3100',
      connectLinkKeySecret: 'drchrono-sync/local/connect-link-key',
      region: 'us-east-1',
    });
  });

  it('takes the DLQ URLs the platform lists', () => {
    const withDlqs = { ...platformInfo, queueUrls: { ...platformInfo.queueUrls, ingestDlq: 'i-dlq', backfillDlq: 'b-dlq' } };
    expect(resourcesFromPlatformInfo(withDlqs).resources).toMatchObject({ ingestDlqUrl: 'i-dlq', backfillDlqUrl: 'b-dlq' });
  });

  it('treats a platform without a sandbox (sandboxUrl null) as having none', () => {
    expect(resourcesFromPlatformInfo({ ...platformInfo, sandboxUrl: null }).resources.sandboxUrl).toBeUndefined();
  });

  it('rejects a file without endpoints, naming the missing field', () => {
    const { endpoints: _omit, ...rest } = platformInfo;
    expect(() => resourcesFromPlatformInfo(rest)).toThrow(/incomplete \(endpoints\)/);
  });
});

describe('resourcesFromStackOutputs', () => {
  const outputs = {
    TeamsTableName: 'drchrono-sync-dev-teams',
    RecordsTableName: 'drchrono-sync-dev-records',
    IntegrationLogTableName: 'drchrono-sync-dev-integration-log',
    IngestQueueUrl: 'https://sqs.us-east-1.amazonaws.com/1/drchrono-sync-dev-ingest',
    BackfillQueueUrl: 'https://sqs.us-east-1.amazonaws.com/1/drchrono-sync-dev-backfill',
    TeamSecretPrefix: 'drchrono-sync/dev/teams/',
    ApiBaseUrl: 'https://abc.execute-api.us-east-1.amazonaws.com',
    OAuthRedirectUri: 'https://abc.execute-api.us-east-1.amazonaws.com/integration-oauth/callback',
    WebhookUrlTemplate: 'https://abc.execute-api.us-east-1.amazonaws.com/drchronowebhook/{teamId}',
    TeamSecretsKmsKeyArn: 'arn:aws:kms:us-east-1:1:key/k',
    ConnectLinkKeySecretName: 'drchrono-sync/dev/connect-link-key',
    WriteBackQueueUrl: 'https://sqs.us-east-1.amazonaws.com/1/drchrono-sync-dev-write-back.fifo',
  };

  it('maps every output key', () => {
    expect(resourcesFromStackOutputs(outputs, 'dev')).toEqual({
      stage: 'dev',
      teamsTable: outputs.TeamsTableName,
      recordsTable: outputs.RecordsTableName,
      integrationLogTable: outputs.IntegrationLogTableName,
      teamSecretPrefix: outputs.TeamSecretPrefix,
      ingestQueueUrl: outputs.IngestQueueUrl,
      backfillQueueUrl: outputs.BackfillQueueUrl,
      writeBackQueueUrl: outputs.WriteBackQueueUrl,
      writeBackDlqUrl: 'https://sqs.us-east-1.amazonaws.com/1/drchrono-sync-dev-write-back-dlq.fifo',
      // The DLQs follow the resource-names contract: the work queue's name plus `-dlq`.
      ingestDlqUrl: 'https://sqs.us-east-1.amazonaws.com/1/drchrono-sync-dev-ingest-dlq',
      backfillDlqUrl: 'https://sqs.us-east-1.amazonaws.com/1/drchrono-sync-dev-backfill-dlq',
      apiBaseUrl: outputs.ApiBaseUrl,
      oauthRedirectUri: outputs.OAuthRedirectUri,
      webhookUrlTemplate: outputs.WebhookUrlTemplate,
      kmsKeyId: outputs.TeamSecretsKmsKeyArn,
      connectLinkKeySecret: outputs.ConnectLinkKeySecretName,
    });
  });

  it('rejects a stack without the teams table output', () => {
    const { TeamsTableName: _omit, ...rest } = outputs;
    expect(() => resourcesFromStackOutputs(rest, 'dev')).toThrow('TeamsTableName');
  });
});

describe('resourcesFromEnv', () => {
  it('derives names from STAGE', () => {
    expect(resourcesFromEnv({ STAGE: 'dev' })).toMatchObject({ teamsTable: 'drchrono-sync-dev-teams', teamSecretPrefix: 'drchrono-sync/dev/teams/' });
  });

  it('prefers explicit names over STAGE', () => {
    expect(resourcesFromEnv({ STAGE: 'dev', TEAMS_TABLE: 't', TEAM_SECRET_PREFIX: 'p/', INGEST_QUEUE_URL: 'q', WRITE_BACK_QUEUE_URL: 'w' })).toMatchObject({
      teamsTable: 't',
      teamSecretPrefix: 'p/',
      ingestQueueUrl: 'q',
      writeBackQueueUrl: 'w',
    });
  });

  it('derives each DLQ URL from its queue URL, the FIFO write-back one as <name>-dlq.fifo; WRITE_BACK_DLQ_URL overrides', () => {
    const r = resourcesFromEnv({ STAGE: 'dev', INGEST_QUEUE_URL: 'https://sqs/1/x-ingest', WRITE_BACK_QUEUE_URL: 'https://sqs/1/x-write-back.fifo' });
    expect(r).toMatchObject({ ingestDlqUrl: 'https://sqs/1/x-ingest-dlq', writeBackDlqUrl: 'https://sqs/1/x-write-back-dlq.fifo' });
    expect(resourcesFromEnv({ STAGE: 'dev', WRITE_BACK_QUEUE_URL: 'w.fifo', WRITE_BACK_DLQ_URL: 'd.fifo' }).writeBackDlqUrl).toBe('d.fifo');
  });

  it('explains what is missing when neither STAGE nor names are set', () => {
    expect(() => resourcesFromEnv({})).toThrow(/--stack/);
  });
});

describe('createCliContext (local)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cli-ctx-'));

  it('tells the user to run npm start when the platform file is absent', async () => {
    await expect(createCliContext({ cwd: dir, env: {} })).rejects.toThrow(/npm start/);
  });

  it('builds clients pointed at the platform endpoints', async () => {
    const file = join(dir, 'platform.json');
    writeFileSync(file, JSON.stringify(platformInfo));
    const ctx = await createCliContext({ cwd: dir, env: { DRCHRONO_SYNC_PLATFORM_FILE: file } });
    expect(ctx.target).toBe('local');
    const endpoint = await ctx.secrets.config.endpoint?.();
    expect(endpoint?.hostname).toBe('127.0.0.1');
    expect(endpoint?.port).toBe(4584);
  });

  it('rejects a platform file that is not JSON', async () => {
    const file = join(dir, 'broken.json');
    writeFileSync(file, '{');
    await expect(createCliContext({ cwd: dir, platformFile: file, env: {} })).rejects.toThrow(/not valid JSON/);
  });
});

describe('URLs to paste into DrChrono', () => {
  it('fills the webhook template with the team id', () => {
    expect(teamWebhookUrl({ ...resourcesFromEnv({ STAGE: 'dev' }), webhookUrlTemplate: 'https://h/drchronowebhook/{teamId}' }, TEAM)).toBe(
      `https://h/drchronowebhook/${TEAM}`,
    );
  });

  it('derives the webhook URL and redirect URI from the API base URL when there is no template', () => {
    const r = { ...resourcesFromEnv({ STAGE: 'dev' }), apiBaseUrl: 'https://h/' };
    expect(teamWebhookUrl(r, TEAM)).toBe(`https://h/drchronowebhook/${TEAM}`);
    expect(redirectUri(r)).toBe('https://h/integration-oauth/callback');
  });

  it('gives no URL when the target does not know its API address', () => {
    expect(teamWebhookUrl(resourcesFromEnv({ STAGE: 'dev' }), TEAM)).toBeUndefined();
  });
});

describe('regionOfApiUrl (the region write API requests are signed for)', () => {
  it("reads an API Gateway endpoint's region", () => {
    expect(regionOfApiUrl('https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com')).toBe('eu-west-1');
    expect(regionOfApiUrl('https://a1b2c3d4e5.execute-api.cn-north-1.amazonaws.com.cn/')).toBe('cn-north-1');
  });

  it('knows none for a custom domain, a local address or no address', () => {
    expect(regionOfApiUrl('https://api.clinic.example')).toBeUndefined();
    expect(regionOfApiUrl('http://127.0.0.1:3000')).toBeUndefined();
    expect(regionOfApiUrl(undefined)).toBeUndefined();
    expect(regionOfApiUrl('not a url')).toBeUndefined();
  });
});
