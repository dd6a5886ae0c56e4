import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

const require = createRequire(import.meta.url);

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/helpers/global-setup.ts'],
    pool: 'forks',
    // Most suites wait on processes, sockets and servers rather than compute, so more files run
    // at once than the one Vitest would choose on a two-core machine (cores − 1).
    maxWorkers: 3,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: ['default', 'json'],
    outputFile: { json: 'test-results/vitest.json' },
  },
  resolve: {
    // One graphql-js instance for the schema, Yoga, the federation packages and the clients:
    // Node loads graphql's CommonJS build for the CommonJS dependencies, so the code Vitest
    // transforms must get that same build, not the .mjs one (two GraphQLError classes otherwise).
    dedupe: ['graphql'],
    alias: [{ find: /^graphql$/, replacement: require.resolve('graphql') }],
  },
});
