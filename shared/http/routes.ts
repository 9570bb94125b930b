/**
 * Every HTTP route the product serves, as plain data. The CDK HTTP API and the local API both build
 * their routes from this table, so a route that works locally exists in the deployed stack too.
 */
export type FunctionName = 'webhook' | 'oauth';

export interface RouteDef {
  method: 'GET' | 'POST';
  /** API Gateway path syntax: `{name}` marks a path parameter. */
  path: string;
  fn: FunctionName;
}

export const ROUTES: readonly RouteDef[] = [
  { method: 'GET', path: '/drchronowebhook/{teamId}', fn: 'webhook' },
  { method: 'POST', path: '/drchronowebhook/{teamId}', fn: 'webhook' },
  { method: 'GET', path: '/integration-oauth/authorize/{teamId}', fn: 'oauth' },
  { method: 'GET', path: '/integration-oauth/callback', fn: 'oauth' },
];

export const WEBHOOK_PATH_TEMPLATE = '/drchronowebhook/{teamId}';
export const OAUTH_CALLBACK_PATH = '/integration-oauth/callback';

export function webhookUrl(baseUrl: string, teamId: string): string {
  return `${baseUrl.replace(/\/$/, '')}/drchronowebhook/${teamId}`;
}
export function oauthRedirectUri(baseUrl: string): string {
  return `${baseUrl.replace(/\/$/, '')}${OAUTH_CALLBACK_PATH}`;
}
