/**
 * axios, loaded without its fetch-API probe. axios 1.x runs its fetch adapter's feature checks while its module
 * loads (`getFetch()` at the end of its fetch adapter; its FormData class and `utils.isFormData` read `FormData`
 * too): they read `globalThis.Request`, `Response` and `FormData` and construct Requests. In Node those globals
 * are lazy getters that load undici, Node's whole fetch implementation, on first read: tens of milliseconds and a
 * few MiB of every cold start of a function that calls DrChrono (docs/performance.md, item 4). Our transport pins
 * axios's `http` adapter, so the probe's answer is never used.
 *
 * The import order below is the mechanism: ./fetch-globals-hidden hides the three globals as it evaluates, then
 * axios (and those of its dependencies not loaded yet: follow-redirects, proxy-from-env, the bundles' form-data
 * and debug stand-ins, none of which reads them) evaluates, then this module's body puts the globals' own
 * descriptors back. ES modules evaluate their imports in order before their body, under Node and tsx, in
 * esbuild's bundles and in jest's CommonJS output alike, and all of it is synchronous, so no request or timer
 * sees the globals missing. Keep these imports first and in this order; nothing else in a function may import
 * axios as a value (test/infra/bundling.test.ts checks every bundle's init leaves undici unloaded).
 */
import { hiddenWhileAxiosLoads, restoreFetchGlobals } from './fetch-globals-hidden';
import axios from 'axios';

restoreFetchGlobals(hiddenWhileAxiosLoads);

export { axios };
