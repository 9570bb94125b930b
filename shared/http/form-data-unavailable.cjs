'use strict';
/**
 * Stands in for the `form-data` package in the Lambda bundles (esbuild alias in lib/secure-defaults.ts BUNDLING).
 * axios's Node build imports form-data (and through it mime-types/mime-db, ~150 KB) only to build multipart
 * bodies, which we never send: every DrChrono call is JSON or a query string. axios constructs it only for a
 * multipart request, so if that ever happens it fails loudly here instead of sending something half-built.
 * CommonJS (not TypeScript) on purpose, as debug-silent.cjs: it is then the class itself both where axios's ES
 * module build imports it (`import FormData from 'form-data'`) and where its CommonJS build does
 * `new (require('form-data'))`; esbuild bundles a .ts file as an ES module, whose `require()` gives a namespace
 * object, not a class.
 */
class FormDataUnavailable {
  constructor() {
    throw new Error('multipart/form-data bodies are not supported: form-data is left out of the bundle (lib/secure-defaults.ts BUNDLING)');
  }
}

module.exports = FormDataUnavailable;
