import {
  buildAuthorizeUrl,
  grantedScopesOf,
  hasWriteBackScopes,
  missingWriteBackScopes,
  scopesToRequest,
  SYNC_SCOPES,
  WRITE_BACK_SCOPES,
  writeBackAllowed,
} from '../../../shared/oauth/authorize-url';

describe('write-back scopes', () => {
  it('are patients:write and calendar:write', () => {
    expect(WRITE_BACK_SCOPES).toEqual(['patients:write', 'calendar:write']);
  });

  it('are requested only when the team has write-back on (true, not just truthy)', () => {
    expect(scopesToRequest({})).toEqual([...SYNC_SCOPES]);
    expect(scopesToRequest({ writeBack: false })).toEqual([...SYNC_SCOPES]);
    expect(scopesToRequest({ writeBack: 'true' })).toEqual([...SYNC_SCOPES]);
    expect(scopesToRequest({ writeBack: true })).toEqual([...SYNC_SCOPES, ...WRITE_BACK_SCOPES]);
  });

  it('must both be granted', () => {
    expect(hasWriteBackScopes([...SYNC_SCOPES, ...WRITE_BACK_SCOPES])).toBe(true);
    expect(hasWriteBackScopes([...SYNC_SCOPES, 'patients:write'])).toBe(false);
    expect(hasWriteBackScopes(undefined)).toBe(false);
    expect(hasWriteBackScopes('patients:write calendar:write')).toBe(false);
    expect(missingWriteBackScopes(['patients:write'])).toEqual(['calendar:write']);
    expect(missingWriteBackScopes(undefined)).toEqual(['patients:write', 'calendar:write']);
  });

  it('allow writing only with write-back on and both scopes granted', () => {
    const granted = [...SYNC_SCOPES, ...WRITE_BACK_SCOPES];
    expect(writeBackAllowed({ writeBack: true, grantedScopes: granted })).toBe(true);
    expect(writeBackAllowed({ writeBack: false, grantedScopes: granted })).toBe(false);
    expect(writeBackAllowed({ grantedScopes: granted })).toBe(false);
    expect(writeBackAllowed({ writeBack: true, grantedScopes: [...SYNC_SCOPES] })).toBe(false);
    expect(writeBackAllowed({ writeBack: true })).toBe(false);
  });
});

describe('grantedScopesOf', () => {
  it('is the requested scopes when the token response has no scope (DrChrono does not document one)', () => {
    expect(grantedScopesOf(['a:read', 'b:write'], undefined)).toEqual(['a:read', 'b:write']);
    expect(grantedScopesOf(['a:read'], '  ')).toEqual(['a:read']);
  });

  it('never counts a scope that was not requested, nor one the response leaves out', () => {
    expect(grantedScopesOf(['a:read', 'b:write'], 'a:read c:write')).toEqual(['a:read']);
  });
});

describe('buildAuthorizeUrl', () => {
  it('sends the given scopes space-separated', () => {
    const url = new URL(buildAuthorizeUrl({ baseUrl: 'https://drchrono.example/', clientId: 'c', redirectUri: 'https://r.example/cb', state: 's', scopes: ['x:read', 'y:write'] }));
    expect(url.searchParams.get('scope')).toBe('x:read y:write');
  });
});
