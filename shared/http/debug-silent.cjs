'use strict';
/**
 * Stands in for the `debug` package in the Lambda bundles (esbuild alias in lib/secure-defaults.ts BUNDLING).
 * axios's Node build pulls `debug` in through follow-redirects, https-proxy-agent and agent-base, which log
 * request URLs and proxy options when the DEBUG environment variable names them; DrChrono URLs carry object ids
 * and list filters, so a DEBUG=* left on a function would print them. Here every logger is a no-op whatever
 * DEBUG says. CommonJS (not TypeScript) on purpose: the callers `require('debug')('name')` and call the result,
 * and esbuild bundles a .ts file as an ES module, whose `require()` gives a namespace object, not a function.
 *
 * @param {string} namespace
 */
function createDebug(namespace) {
  const silent = () => undefined;
  silent.namespace = namespace;
  silent.enabled = false;
  silent.extend = (/** @type {string} */ sub) => createDebug(`${namespace}:${sub}`);
  return silent;
}

module.exports = createDebug;
