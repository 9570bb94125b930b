const base = require('./jest.base.cjs');
/** @type {import('jest').Config} */
module.exports = {
  ...base,
  displayName: 'integration',
  roots: ['<rootDir>/test/integration'],
  globalSetup: '<rootDir>/test/integration/setup/global-setup.ts',
  globalTeardown: '<rootDir>/test/integration/setup/global-teardown.ts',
  testTimeout: 60000,
  maxWorkers: 1,
};
