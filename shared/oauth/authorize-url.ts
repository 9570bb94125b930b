/**
 * The DrChrono scopes the sync needs, and nothing more (docs/oauth.md explains each):
 * - patients:read  /api/patients, /api/patient_flag_types
 * - calendar:read  /api/appointments, /api/appointment_profiles
 * - user:read      /api/doctors (/api/users/current accepts any token)
 */
export const SYNC_SCOPES = ['patients:read', 'calendar:read', 'user:read'] as const;

export function buildAuthorizeUrl(opts: { baseUrl: string; clientId: string; redirectUri: string; state: string; scopes?: readonly string[] }): string {
  const url = new URL(`${opts.baseUrl.replace(/\/+$/, '')}/o/authorize/`);
  url.searchParams.set('redirect_uri', opts.redirectUri);
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('client_id', opts.clientId);
  url.searchParams.set('scope', (opts.scopes ?? SYNC_SCOPES).join(' '));
  url.searchParams.set('state', opts.state);
  return url.toString();
}
