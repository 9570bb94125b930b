/**
 * The DrChrono scopes the sync needs, and nothing more (docs/oauth.md explains each):
 * - patients:read  /api/patients, /api/patient_flag_types
 * - calendar:read  /api/appointments, /api/appointment_profiles
 * - user:read      /api/doctors (/api/users/current accepts any token)
 */
export const SYNC_SCOPES = ['patients:read', 'calendar:read', 'user:read'] as const;

/**
 * What write-back adds (docs/write-back.md, "Opt-in per team"): patients:write for PATCH/POST /api/patients,
 * calendar:write for POST/PATCH/DELETE /api/appointments. Asked for only when the team opted in.
 */
export const WRITE_BACK_SCOPES = ['patients:write', 'calendar:write'] as const;

/** The scopes a connect flow asks for: the sync's, plus the write scopes when the team has write-back on. */
export function scopesToRequest(team: { readonly writeBack?: unknown; readonly [attr: string]: unknown }): string[] {
  return team.writeBack === true ? [...SYNC_SCOPES, ...WRITE_BACK_SCOPES] : [...SYNC_SCOPES];
}

/** Whether `granted` (the team item's `grantedScopes`, untyped: it may be absent or malformed) holds both write scopes. */
export function hasWriteBackScopes(granted: unknown): boolean {
  return Array.isArray(granted) && WRITE_BACK_SCOPES.every((s) => granted.includes(s));
}

/** The write scopes `granted` lacks (for the operator's message). */
export function missingWriteBackScopes(granted: unknown): string[] {
  const have = Array.isArray(granted) ? granted : [];
  return WRITE_BACK_SCOPES.filter((s) => !have.includes(s));
}

/** A team may write to DrChrono only when it opted in AND the authorization behind its tokens asked for the write scopes. */
export function writeBackAllowed(team: { readonly writeBack?: unknown; readonly grantedScopes?: unknown; readonly [attr: string]: unknown }): boolean {
  return team.writeBack === true && hasWriteBackScopes(team.grantedScopes);
}

/**
 * The scopes the tokens of one authorization carry, as recorded on the team (`grantedScopes`). DrChrono does not
 * document a `scope` in its token response, so the requested scopes are what we know; when a response does carry
 * one, a scope counts only if it was both requested and granted (never more than we asked for: an omitted `scope`
 * means "all" to DrChrono, and a broader grant must not switch on anything we did not ask for).
 */
export function grantedScopesOf(requested: readonly string[], tokenScope: string | undefined): string[] {
  const granted = tokenScope?.trim() ? new Set(tokenScope.trim().split(/\s+/)) : undefined;
  return granted ? requested.filter((s) => granted.has(s)) : [...requested];
}

export function buildAuthorizeUrl(opts: { baseUrl: string; clientId: string; redirectUri: string; state: string; scopes?: readonly string[] }): string {
  const url = new URL(`${opts.baseUrl.replace(/\/+$/, '')}/o/authorize/`);
  url.searchParams.set('redirect_uri', opts.redirectUri);
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('client_id', opts.clientId);
  url.searchParams.set('scope', (opts.scopes ?? SYNC_SCOPES).join(' '));
  url.searchParams.set('state', opts.state);
  return url.toString();
}
