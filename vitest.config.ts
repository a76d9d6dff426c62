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
          include: ['test/**/*.test.ts'],
          globalSetup: ['test/env/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          // The suites share one API server and one CA, and operator processes
          // watch the whole cluster: files run one after another.
          fileParallelism: false,
        },
      },
    ],
  },
});
