/**
 * Every HTTP route the product serves, as plain data. The CDK HTTP API and the local API both build
 * their routes from this table, so a route that works locally exists in the deployed stack too.
 */
export type FunctionName = 'webhook' | 'oauth' | 'write-api';

/** The methods an API Gateway HTTP API route can name (besides ANY, which we do not use). */
export type RouteMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'HEAD' | 'OPTIONS';

export interface RouteDef {
  method: RouteMethod;
  /** API Gateway path syntax: `{name}` marks a path parameter. */
  path: string;
  fn: FunctionName;
  /** 'iam': the caller must sign with SigV4 (AWS: the HTTP API's IAM authorizer; locally: local/api/sigv4-verify.ts). */
  auth?: 'iam';
}

export const WEBHOOK_PATH_TEMPLATE = '/drchronowebhook/{teamId}';
/** What the webhook URL serves; the `Allow` header of its 405. */
export const WEBHOOK_METHODS = ['GET', 'POST'] as const;
/**
 * Every other routable method is routed to the webhook function too, which answers 405 with `Allow: GET, POST`
 * (docs/webhook.md). Without a route API Gateway would answer 404, and so would the local API.
 */
const WEBHOOK_REFUSED_METHODS = ['PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'] as const;

/**
 * The write API (docs/write-back.md, "The write API"): each path with the methods it serves. Every other routable
 * method on these paths is routed to write-api too, which answers 405 with `Allow` (like the webhook); all of them,
 * refused ones included, sit behind the IAM authorizer, so an unsigned caller gets 403 and never reaches the function.
 */
export const WRITE_API_PATHS = {
  patient: { path: '/teams/{teamId}/patients/{chartId}', methods: ['GET', 'PUT', 'PATCH'] },
  appointments: { path: '/teams/{teamId}/appointments', methods: ['POST'] },
  appointment: { path: '/teams/{teamId}/appointments/{claimId}', methods: ['GET', 'PATCH', 'DELETE'] },
  change: { path: '/teams/{teamId}/changes/{changeId}', methods: ['GET'] },
} as const satisfies Record<string, { path: string; methods: readonly RouteMethod[] }>;
const ROUTABLE_METHODS: readonly RouteMethod[] = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'];

export const ROUTES: readonly RouteDef[] = [
  ...[...WEBHOOK_METHODS, ...WEBHOOK_REFUSED_METHODS].map((method): RouteDef => ({ method, path: WEBHOOK_PATH_TEMPLATE, fn: 'webhook' })),
  { method: 'GET', path: '/integration-oauth/authorize/{teamId}', fn: 'oauth' },
  { method: 'GET', path: '/integration-oauth/callback', fn: 'oauth' },
  ...Object.values(WRITE_API_PATHS).flatMap(({ path }) =>
    ROUTABLE_METHODS.map((method): RouteDef => ({ method, path, fn: 'write-api', auth: 'iam' })),
  ),
];
export const OAUTH_CALLBACK_PATH = '/integration-oauth/callback';

export function webhookUrl(baseUrl: string, teamId: string): string {
  return `${baseUrl.replace(/\/$/, '')}/drchronowebhook/${teamId}`;
}
export function oauthRedirectUri(baseUrl: string): string {
  return `${baseUrl.replace(/\/$/, '')}${OAUTH_CALLBACK_PATH}`;
}
