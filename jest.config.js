/**
 * Jest: ts-jest in transpile-only mode (each file through ts.transpileModule, no type checking),
 * because scripts/test.sh type-checks everything, tests included, with `tsc --noEmit` beforehand.
 * With ts-jest 29.4 the supported switch is the TypeScript option `isolatedModules: true`
 * (the ts-jest option of the same name is deprecated and there is no `transpilation` option yet);
 * we set it here, on top of tsconfig.json, rather than in tsconfig.json itself.
 *
 * @type {import('jest').Config}
 */
module.exports = {
  preset: 'ts-jest',
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.tsx?$': ['ts-jest', { tsconfig: { isolatedModules: true } }],
    // ESM-only dependencies (cookie via app.inject, content-disposition via @fastify/swagger-ui)
    // that jest's CommonJS runtime cannot require: transpiled to CommonJS like our own code.
    '^.+/node_modules/(content-disposition|cookie)/.+\\.js$': [
      'ts-jest',
      { tsconfig: { allowJs: true, isolatedModules: true } },
    ],
  },
  transformIgnorePatterns: ['/node_modules/(?!(content-disposition|cookie)/)'],
  // One Postgres database, one Temporal dev server and one workflow bundle per run (see test/global-setup.ts).
  globalSetup: '<rootDir>/test/global-setup.ts',
  globalTeardown: '<rootDir>/test/global-teardown.ts',
  // the few long-running small files first on a fresh clone (see the file)
  testSequencer: '<rootDir>/test/support/sequencer.js',
  testTimeout: 60000,
  maxWorkers: 2,
};
