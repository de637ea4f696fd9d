/** One jest run over every workspace; TypeScript through @swc/jest, workspace packages from source. */
const swc = ['@swc/jest', { jsc: { target: 'es2022', parser: { syntax: 'typescript' } }, module: { type: 'commonjs' } }];
const common = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': swc },
  moduleNameMapper: { '^@kraken/protocol$': '<rootDir>/../../packages/protocol/src/index.ts' },
};

module.exports = {
  testTimeout: 60_000,
  // Embedded ClickHouse (chdb) keeps native threads alive in the worker that opened it; every test
  // closes its servers and agents, but the process would never exit by itself.
  forceExit: true,
  globalSetup: '<rootDir>/scripts/jest-global-setup.js',
  globalTeardown: '<rootDir>/scripts/jest-global-teardown.js',
  reporters: ['default', '<rootDir>/scripts/jest-summary-reporter.js'],
  projects: [
    { ...common, displayName: 'protocol', rootDir: 'packages/protocol', testMatch: ['<rootDir>/src/**/*.test.ts'] },
    { ...common, displayName: 'agent', rootDir: 'apps/agent', testMatch: ['<rootDir>/src/**/*.test.ts'] },
    { ...common, displayName: 'server', rootDir: 'apps/server', testMatch: ['<rootDir>/src/**/*.test.ts'] },
    { ...common, displayName: 'ui-e2e', rootDir: 'apps/ui', testMatch: ['<rootDir>/e2e/**/*.test.ts'] },
  ],
};
