/**
 * Every HTTP route the product serves, as plain data. The CDK HTTP API and the local API both build
 * their routes from this table, so a route that works locally exists in the deployed stack too.
 */
export type FunctionName = 'webhook' | 'oauth';

/** The methods an API Gateway HTTP API route can name (besides ANY, which we do not use). */
export type RouteMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'HEAD' | 'OPTIONS';

export interface RouteDef {
  method: RouteMethod;
  /** API Gateway path syntax: `{name}` marks a path parameter. */
  path: string;
  fn: FunctionName;
}

export const WEBHOOK_PATH_TEMPLATE = '/drchronowebhook/{teamId}';
/** What the webhook URL serves; the `Allow` header of its 405. */
export const WEBHOOK_METHODS = ['GET', 'POST'] as const;
/**
 * Every other routable method is routed to the webhook function too, which answers 405 with `Allow: GET, POST`
 * (docs/webhook.md). Without a route API Gateway would answer 404, and so would the local API.
 */
const WEBHOOK_REFUSED_METHODS = ['PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'] as const;

export const ROUTES: readonly RouteDef[] = [
  ...[...WEBHOOK_METHODS, ...WEBHOOK_REFUSED_METHODS].map((method): RouteDef => ({ method, path: WEBHOOK_PATH_TEMPLATE, fn: 'webhook' })),
  { method: 'GET', path: '/integration-oauth/authorize/{teamId}', fn: 'oauth' },
  { method: 'GET', path: '/integration-oauth/callback', fn: 'oauth' },
];
export const OAUTH_CALLBACK_PATH = '/integration-oauth/callback';

export function webhookUrl(baseUrl: string, teamId: string): string {
  return `${baseUrl.replace(/\/$/, '')}/drchronowebhook/${teamId}`;
}
export function oauthRedirectUri(baseUrl: string): string {
  return `${baseUrl.replace(/\/$/, '')}${OAUTH_CALLBACK_PATH}`;
}
