/**
 * The small HTML pages a clinic admin sees at the end of the connect flow. They never contain a token, an
 * authorization code or a state: the page text is fixed per outcome, and every interpolated value is escaped.
 */
export type OAuthPageKind =
  | 'connected'
  | 'denied'
  | 'expired'
  | 'invalid'
  | 'wrong_browser'
  | 'unknown_team'
  | 'team_disabled'
  | 'drchrono_error'
  | 'busy'
  | 'server_error'
  | 'link_unsigned'
  | 'link_altered'
  | 'link_expired'
  | 'account_mismatch'
  | 'account_change_used';

export interface HtmlResponse {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
  /** API Gateway v2 turns these into Set-Cookie headers. */
  cookies?: string[];
}

const PAGES: Record<OAuthPageKind, { status: number; title: string; message: string }> = {
  connected: {
    status: 200,
    title: 'DrChrono connected',
    message: 'Your DrChrono account is connected. Data will start syncing shortly. You can close this window.',
  },
  denied: {
    status: 200,
    title: 'Connection cancelled',
    message: 'Access was not granted in DrChrono, so nothing was connected. To connect, start again from the link you were given and choose Authorize.',
  },
  expired: {
    status: 400,
    title: 'Link expired',
    message: 'This connection link has expired. Links are valid for 10 minutes. Please start again from the link you were given.',
  },
  invalid: {
    status: 400,
    title: 'Invalid link',
    message: 'This connection link is not valid or has already been used. Please start again from the link you were given.',
  },
  wrong_browser: {
    status: 400,
    title: 'Open the link in the same browser',
    message: 'This connection was started in a different browser, or its session has ended. Please start again from the link you were given, in this browser.',
  },
  unknown_team: {
    status: 404,
    title: 'Unknown account',
    message: 'We could not find this account. Please check the link with your administrator.',
  },
  team_disabled: {
    status: 403,
    title: 'Account disabled',
    message: 'This account is disabled, so it cannot be connected. Please contact your administrator.',
  },
  drchrono_error: {
    status: 502,
    title: 'DrChrono did not respond as expected',
    message: 'We could not complete the connection with DrChrono. Please try again in a few minutes from the link you were given.',
  },
  busy: {
    status: 503,
    title: 'Please try again in a minute',
    message: 'Your DrChrono connection is being updated right now, so nothing was changed. Please wait a minute, then start again from the link you were given.',
  },
  link_unsigned: {
    status: 403,
    title: 'Connection link not valid',
    message: 'This connection link is incomplete (it carries no signature), so nothing was started. Please ask your administrator for a new connection link.',
  },
  link_altered: {
    status: 403,
    title: 'Connection link not valid',
    message: 'This connection link has been changed or is damaged, so nothing was started. Please open the link exactly as you received it, or ask your administrator for a new one.',
  },
  link_expired: {
    status: 410,
    title: 'Connection link expired',
    message: 'This connection link has expired, so nothing was started. Please ask your administrator for a new connection link.',
  },
  account_mismatch: {
    status: 403,
    title: 'Different DrChrono account',
    message:
      'This account is connected to a different DrChrono user or practice, so nothing was changed. Sign in to DrChrono as the user who connected it and start again from the link, or ask your administrator for a link that allows changing the DrChrono account.',
  },
  account_change_used: {
    status: 403,
    title: 'Account change already used',
    message:
      'This link allowed changing the DrChrono account once, and that change has already been made, so nothing was changed. Please ask your administrator for a new link if the account must change again.',
  },
  server_error: {
    status: 500,
    title: 'Something went wrong',
    message: 'We could not complete the connection. Please try again in a few minutes.',
  },
};

export const HTML_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  // The callback URL carries the code and state: never leak it to another site.
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
};

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
}

export function oauthPage(kind: OAuthPageKind, detail?: { username?: string }): HtmlResponse {
  const page = PAGES[kind];
  const who = kind === 'connected' && detail?.username ? `<p>DrChrono user: <strong>${escapeHtml(detail.username)}</strong></p>` : '';
  const body = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(page.title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;line-height:1.5;color:#222}</style></head>
<body><h1>${escapeHtml(page.title)}</h1><p>${escapeHtml(page.message)}</p>${who}</body>
</html>
`;
  return { statusCode: page.status, headers: { ...HTML_HEADERS }, body };
}

export function redirectResponse(location: string, cookies?: string[]): HtmlResponse {
  return {
    statusCode: 302,
    headers: { location, 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' },
    body: '',
    ...(cookies ? { cookies } : {}),
  };
}
