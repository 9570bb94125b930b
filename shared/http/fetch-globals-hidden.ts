/**
 * Hides the fetch-API globals that axios probes while its module loads; shared/http/axios-without-fetch-probe.ts
 * imports this module right before axios and puts them back right after (see there for why). Hiding happens as
 * this module evaluates: an import is the only way to run code between two ES module imports, because every
 * import of a module evaluates, in order, before its body.
 */
const PROBED_GLOBALS = ['Request', 'Response', 'FormData'] as const;

export type HiddenGlobals = readonly (readonly [name: string, descriptor: PropertyDescriptor | undefined])[];

/**
 * Replaces each configurable probed global with `undefined`; returns what was there, for restoreFetchGlobals.
 * `target` is for tests; a non-configurable global (no runtime has one) is left as it is.
 */
export function hideFetchGlobals(target: object = globalThis): HiddenGlobals {
  const saved = PROBED_GLOBALS.map((name) => [name, Object.getOwnPropertyDescriptor(target, name)] as const);
  try {
    for (const [name, descriptor] of saved) {
      if (descriptor === undefined || descriptor.configurable) {
        Object.defineProperty(target, name, { value: undefined, configurable: true, writable: true, enumerable: false });
      }
    }
  } catch (err) {
    restoreFetchGlobals(saved, target);
    throw err;
  }
  return saved;
}

/** Puts back the descriptors hideFetchGlobals saved (lazy getters stay lazy); removes a global that was absent. */
export function restoreFetchGlobals(saved: HiddenGlobals, target: object = globalThis): void {
  for (const [name, descriptor] of saved) {
    if (descriptor === undefined) delete (target as Record<string, unknown>)[name];
    else if (descriptor.configurable) Object.defineProperty(target, name, descriptor);
  }
}

/** Hidden now, as this module loads; axios-without-fetch-probe.ts restores them once axios has loaded. */
export const hiddenWhileAxiosLoads: HiddenGlobals = hideFetchGlobals();
