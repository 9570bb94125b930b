/**
 * A small browser for the connect flow: a cookie jar (name, path; Max-Age=0 deletes), redirects followed by hand
 * (so cookies set on a 302 are kept, as a browser does), and the sandbox's approve form filled in and submitted
 * with a chosen user. Nothing here knows the product's internals: it sees what a clinic admin's browser sees.
 */
export interface Page {
  status: number;
  url: string;
  text: string;
  headers: Headers;
}

interface StoredCookie {
  value: string;
  path: string;
}

export class Browser {
  private readonly jar = new Map<string, StoredCookie>();
  /** Every URL the browser requested, in order. */
  readonly visited: string[] = [];

  async open(url: string, init: { method?: string; body?: URLSearchParams } = {}): Promise<Page> {
    let current = url;
    let method = init.method ?? 'GET';
    let body: URLSearchParams | undefined = init.body;
    for (let hop = 0; hop < 10; hop++) {
      this.visited.push(current);
      const cookie = this.cookieHeader(new URL(current));
      const res = await fetch(current, {
        method,
        redirect: 'manual',
        headers: { ...(cookie ? { cookie } : {}), ...(body ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) },
        ...(body ? { body } : {}),
      });
      this.store(res.headers.getSetCookie(), new URL(current));
      const location = res.headers.get('location');
      if (res.status >= 300 && res.status < 400 && location) {
        await res.text();
        current = new URL(location, current).toString();
        method = 'GET';
        body = undefined;
        continue;
      }
      return { status: res.status, url: current, text: await res.text(), headers: res.headers };
    }
    throw new Error('too many redirects');
  }

  /**
   * Open a connect link and go through DrChrono's (the sandbox's) approve page as `userId` (the page's default
   * user when omitted), clicking Approve or Cancel; returns the page the browser ends on.
   */
  async connect(link: string, opts: { userId?: number; decision?: 'approve' | 'deny' } = {}): Promise<Page> {
    const page = await this.open(link);
    const form = /<form method="post" action="([^"]+)">([\s\S]*?)<\/form>/.exec(page.text);
    if (!form) return page; // refused before DrChrono: the product's own page
    const fields = new URLSearchParams();
    for (const m of form[2]!.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) fields.set(m[1]!, decodeEntities(m[2]!));
    const options = [...form[2]!.matchAll(/<option value="(\d+)"( selected)?>/g)];
    const chosen = opts.userId !== undefined ? String(opts.userId) : options.find((o) => o[2])?.[1];
    if (chosen === undefined || !options.some((o) => o[1] === chosen)) throw new Error(`the approve page offers no user ${String(opts.userId)}`);
    fields.set('user_id', chosen);
    fields.set('decision', opts.decision ?? 'approve');
    return this.open(new URL(form[1]!, page.url).toString(), { method: 'POST', body: fields });
  }

  cookieNames(): string[] {
    return [...this.jar.keys()];
  }

  private cookieHeader(url: URL): string {
    return [...this.jar.entries()]
      .filter(([, c]) => url.pathname.startsWith(c.path))
      .map(([name, c]) => `${name}=${c.value}`)
      .join('; ');
  }

  private store(setCookies: string[], url: URL): void {
    for (const header of setCookies) {
      const [pair, ...attrs] = header.split(';').map((s) => s.trim());
      const eq = pair!.indexOf('=');
      if (eq <= 0) continue;
      const name = pair!.slice(0, eq);
      const value = pair!.slice(eq + 1);
      const path = attrs.find((a) => a.toLowerCase().startsWith('path='))?.slice(5) ?? url.pathname;
      const maxAge = attrs.find((a) => a.toLowerCase().startsWith('max-age='))?.slice(8);
      if (maxAge !== undefined && Number(maxAge) <= 0) this.jar.delete(name);
      else this.jar.set(name, { value, path });
    }
  }
}

function decodeEntities(s: string): string {
  return s.replace(/&#(\d+);/g, (_, n: string) => String.fromCharCode(Number(n))).replace(/&amp;/g, '&');
}
