import { mockClient } from 'aws-sdk-client-mock';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { captureOutput, lambdaContext } from '../helpers/lambda';
import { handler } from '../../../functions/oauth/handler';
import { signConnectLink } from '../../../shared/oauth/connect-link';

// The handler reads its env on first invocation, as a Lambda container does.
process.env.TEAMS_TABLE = 'drchrono-sync-test-teams';
process.env.TEAM_SECRET_PREFIX = 'drchrono-sync/test/teams/';
process.env.DRCHRONO_BASE_URL = 'https://drchrono.example';
process.env.OAUTH_REDIRECT_URI = 'https://api.example/integration-oauth/callback';
process.env.AWS_REGION = 'us-east-1';
process.env.CONNECT_LINK_KEY_SECRET_ID = 'drchrono-sync/test/connect-link-key';
const LINK_KEY = { id: 'k1', secret: 'handler-test-connect-link-key-0123456789' };
const KEY_SECRET = JSON.stringify({ keys: [LINK_KEY] });

const ddbMock = mockClient(DynamoDBDocumentClient);
const secretsMock = mockClient(SecretsManagerClient);

const TEAM = '0b7c43a2-6d55-4a0e-9a51-7c1a1d3b9e10';
const CODE = 'code-SECRET-7f3a9c1e';

function event(rawPath: string, opts: { pathParameters?: Record<string, string>; query?: Record<string, string> } = {}): APIGatewayProxyEventV2 {
  return {
    version: '2.0',
    rawPath,
    rawQueryString: '',
    headers: {},
    queryStringParameters: opts.query,
    pathParameters: opts.pathParameters,
    isBase64Encoded: false,
    requestContext: { http: { method: 'GET', path: rawPath } },
  } as unknown as APIGatewayProxyEventV2;
}

const context = lambdaContext('oauth');
const link = () => signConnectLink(LINK_KEY, { teamId: TEAM, expiresAt: Math.floor(Date.now() / 1000) + 3600, allowAccountChange: false });

const invoke = (e: APIGatewayProxyEventV2) => handler(e, context) as Promise<APIGatewayProxyStructuredResultV2>;

let output: string[];
beforeEach(() => {
  ddbMock.reset();
  secretsMock.reset();
  output = captureOutput();
});
afterEach(() => jest.restoreAllMocks());

describe('oauth handler', () => {
  it('answers 404 (not 500) for an authorize path with a malformed percent-escape and no path parameters', async () => {
    const res = await invoke(event('/integration-oauth/authorize/%E0%A4%A'));
    expect(res.statusCode).toBe(404);
    expect(ddbMock.calls()).toHaveLength(0);
  });

  it('answers 404 for an authorize path whose encoded slash would smuggle a second segment', async () => {
    const res = await invoke(event(`/integration-oauth/authorize/${TEAM}%2F..`, { pathParameters: { teamId: `${TEAM}/..` } }));
    expect(res.statusCode).toBe(404);
    expect(ddbMock.calls()).toHaveLength(0);
  });

  it('redirects a registered team to DrChrono with no-store and no-referrer headers', async () => {
    ddbMock.on(GetCommand).resolves({ Item: { pk: TEAM, sk: 'TEAM', teamId: TEAM, status: 'registered', createdAt: 'x', updatedAt: 'x' } });
    ddbMock.on(PutCommand).resolves({});
    secretsMock.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify({ clientId: 'cid', clientSecret: 'cs', webhookSecret: 'wh' }) });
    secretsMock.on(GetSecretValueCommand, { SecretId: process.env.CONNECT_LINK_KEY_SECRET_ID }).resolves({ SecretString: KEY_SECRET });
    const res = await invoke(event(`/integration-oauth/authorize/${TEAM}`, { pathParameters: { teamId: TEAM }, query: link() }));
    expect(res.statusCode).toBe(302);
    expect(res.headers).toMatchObject({ 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' });
    expect(String(res.headers?.location)).toMatch(/^https:\/\/drchrono\.example\/o\/authorize\/\?/);
  });

  it('reads the connect-link key once per container, not per request', async () => {
    ddbMock.on(GetCommand).resolves({ Item: { pk: TEAM, sk: 'TEAM', teamId: TEAM, status: 'registered', createdAt: 'x', updatedAt: 'x' } });
    ddbMock.on(PutCommand).resolves({});
    secretsMock.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify({ clientId: 'cid', clientSecret: 'cs', webhookSecret: 'wh' }) });
    secretsMock.on(GetSecretValueCommand, { SecretId: process.env.CONNECT_LINK_KEY_SECRET_ID }).resolves({ SecretString: KEY_SECRET });
    for (let i = 0; i < 3; i++) expect((await invoke(event(`/integration-oauth/authorize/${TEAM}`, { pathParameters: { teamId: TEAM }, query: link() }))).statusCode).toBe(302);
    const keyReads = secretsMock.commandCalls(GetSecretValueCommand).filter((c) => c.args[0].input.SecretId === process.env.CONNECT_LINK_KEY_SECRET_ID);
    // The earlier test in this file may have loaded it already (same container): at most one read in all.
    expect(keyReads.length).toBeLessThanOrEqual(1);
  });

  it('refuses an unsigned connect link with a 403 page and reads nothing from DynamoDB', async () => {
    const res = await invoke(event(`/integration-oauth/authorize/${TEAM}`, { pathParameters: { teamId: TEAM } }));
    expect(res.statusCode).toBe(403);
    expect(res.body).toContain('Connection link not valid');
    expect(ddbMock.calls()).toHaveLength(0);
  });

  it('answers 400 for a callback with a huge code and never echoes it in the page or the logs', async () => {
    const huge = CODE + 'x'.repeat(10_000);
    const res = await invoke(event('/integration-oauth/callback', { query: { code: huge, state: 'S'.repeat(43) } }));
    expect(res.statusCode).toBe(400);
    expect(res.body).not.toContain(CODE);
    expect(output.join('')).not.toContain(CODE);
    expect(ddbMock.calls()).toHaveLength(0);
  });

  it('never logs the Lambda event, even when POWERTOOLS_LOGGER_LOG_EVENT is set', async () => {
    process.env.POWERTOOLS_LOGGER_LOG_EVENT = 'true';
    try {
      await jest.isolateModulesAsync(async () => {
        // A fresh logger reads the env var at construction, as a cold container would.
        const { handler: fresh } = await import('../../../functions/oauth/handler');
        const res = (await fresh(event('/integration-oauth/callback', { query: { code: CODE, state: 'tampered' } }), context)) as APIGatewayProxyStructuredResultV2;
        expect(res.statusCode).toBe(400);
      });
    } finally {
      delete process.env.POWERTOOLS_LOGGER_LOG_EVENT;
    }
    expect(output.join('')).not.toContain(CODE);
  });
});
