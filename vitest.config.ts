// Two projects: unit tests beside the pure code (no processes), and integration
// tests in test/ against the real control plane and CA started once per run.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['src/**/*.test.ts'],
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/*.test.ts'],
          globalSetup: ['test/env/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          // The suites share one API server and one CA, and operator processes
          // watch the whole cluster: files run one after another.
          fileParallelism: false,
        },
      },
      {
        test: {
          // certkeeper deployed on a real node cluster (test/env/node.ts): root only,
          // one cluster per machine. `npm run test:node`; `npm test` runs it after the others.
          name: 'node',
          include: ['test/node/**/*.test.ts'],
          testTimeout: 300_000,
          hookTimeout: 900_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
