import { createRequire } from 'node:module';

// The Lambda bundles alias `debug` to the stand-in (lib/secure-defaults.ts BUNDLE_ALIASES); here jest does the same.
jest.mock('debug', () => jest.requireActual('../../../shared/http/debug-silent'));

const requireFromHere = createRequire(__filename);

describe('the silent `debug` stand-in', () => {
  const saved = process.env.DEBUG;
  let stderr: jest.SpyInstance;
  beforeEach(() => {
    // What a deployer could leave on a function: the real package would print every caller's lines.
    process.env.DEBUG = '*';
    stderr = jest.spyOn(process.stderr, 'write');
  });
  afterEach(() => {
    stderr.mockRestore();
    if (saved === undefined) delete process.env.DEBUG;
    else process.env.DEBUG = saved;
  });

  it("is what follow-redirects' `require('debug')('follow-redirects')` expects: a function returning a function", () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const createDebug = require('debug') as (ns: string) => unknown;
    expect(typeof createDebug).toBe('function');
    const log = createDebug('follow-redirects') as { namespace: string; enabled: boolean };
    expect(typeof log).toBe('function');
    expect({ namespace: log.namespace, enabled: log.enabled }).toEqual({ namespace: 'follow-redirects', enabled: false });
  });

  it('prints nothing through follow-redirects, https-proxy-agent and agent-base with DEBUG=*', () => {
    // follow-redirects' own wrapper: falls back to a no-op only when `require('debug')(...)` is not a function.
    const followDebug = requireFromHere('follow-redirects/debug') as (...args: unknown[]) => void;
    followDebug('redirecting to', 'https://drchrono.com/api/patients/123?since=2026-01-01');
    // TypeScript-compiled callers: `__importDefault(require('debug')).default('https-proxy-agent:agent')`.
    const createAgent = requireFromHere('https-proxy-agent') as (proxy: string) => { destroy?: () => void };
    createAgent('http://proxy.invalid:3128');
    expect(stderr).not.toHaveBeenCalled();
  });

  it('extends to silent child loggers', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const createDebug = require('debug') as (ns: string) => { extend: (sub: string) => ((...a: unknown[]) => void) & { namespace: string; enabled: boolean } };
    const child = createDebug('agent-base').extend('socket');
    expect({ namespace: child.namespace, enabled: child.enabled }).toEqual({ namespace: 'agent-base:socket', enabled: false });
    child('Freeing socket %o', { host: 'drchrono.com' });
    expect(stderr).not.toHaveBeenCalled();
  });
});
