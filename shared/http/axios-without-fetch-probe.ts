import type { AxiosStatic } from 'axios';

/**
 * axios, loaded without its fetch-API probe. axios 1.x runs its fetch adapter's feature checks while its module
 * loads (lib/adapters/fetch.js ends in `const adapter = getFetch()`): they read `globalThis.Request` and
 * `Response` and construct Requests. In Node those two globals are lazy getters that load undici, Node's whole
 * fetch implementation, on first read: tens of milliseconds of every cold start of a function that calls DrChrono
 * (the bench's cold-start section). Our transport pins axios's `http` adapter, so the probe's answer is never used.
 * We hide the two globals for the synchronous moment axios's module runs and put their own descriptors back
 * afterwards: nothing else runs during a synchronous module evaluation, so no other code sees them missing, and
 * `fetch`, `Request` and `Response` behave as before once this module has loaded. If axios was already loaded
 * elsewhere, `require` returns that copy and nothing is hidden. test/unit/http/axios-without-fetch-probe.test.ts
 * checks that loading leaves undici unloaded and the globals intact.
 */
const PROBED_GLOBALS = ['Request', 'Response', 'FormData'] as const;

export function withFetchGlobalsHidden<T>(load: () => T): T {
  const saved = PROBED_GLOBALS.map((name) => [name, Object.getOwnPropertyDescriptor(globalThis, name)] as const);
  for (const [name, descriptor] of saved) {
    if (descriptor === undefined || descriptor.configurable) {
      Object.defineProperty(globalThis, name, { value: undefined, configurable: true, writable: true, enumerable: false });
    }
  }
  try {
    return load();
  } finally {
    for (const [name, descriptor] of saved) {
      if (descriptor === undefined) delete (globalThis as Record<string, unknown>)[name];
      else if (descriptor.configurable) Object.defineProperty(globalThis, name, descriptor);
    }
  }
}

// A `require` (not `import`) so that axios evaluates inside the call, after the globals are hidden: esbuild wraps a
// module reached through `require` and runs it there, where a static import would be hoisted above this code.
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const axios: AxiosStatic = withFetchGlobalsHidden(() => (require('axios') as { default: AxiosStatic }).default);
