const base = require('./jest.base.cjs');
/** @type {import('jest').Config} */
module.exports = { ...base, displayName: 'unit', roots: ['<rootDir>/test/unit'], testTimeout: 10000 };
