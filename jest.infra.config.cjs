const base = require('./jest.base.cjs');
/** @type {import('jest').Config} */
module.exports = { ...base, displayName: 'infra', roots: ['<rootDir>/test/infra'], testTimeout: 120000 };
