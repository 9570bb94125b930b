import { escapeHtml, oauthPage, type OAuthPageKind } from '../../../shared/oauth/oauth-pages';

const KINDS: OAuthPageKind[] = ['connected', 'denied', 'expired', 'invalid', 'unknown_team', 'team_disabled', 'drchrono_error', 'server_error'];

describe('oauth pages', () => {
  it.each(KINDS)('%s page is uncacheable, sends no referrer and allows no scripts', (kind) => {
    const page = oauthPage(kind);
    expect(page.headers).toMatchObject({
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      'referrer-policy': 'no-referrer',
    });
    expect(page.headers['content-security-policy']).toContain("default-src 'none'");
    expect(page.body).not.toMatch(/<script/i);
  });

  it('uses the status codes a browser and a monitor can tell apart', () => {
    expect(oauthPage('connected').statusCode).toBe(200);
    expect(oauthPage('expired').statusCode).toBe(400);
    expect(oauthPage('invalid').statusCode).toBe(400);
    expect(oauthPage('unknown_team').statusCode).toBe(404);
  });

  it('escapes the DrChrono username it shows', () => {
    const page = oauthPage('connected', { username: '<img src=x onerror=alert(1)>' });
    expect(page.body).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(page.body).not.toContain('<img');
  });

  it('escapes every HTML metacharacter', () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  });
});
