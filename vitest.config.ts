import { defineConfig } from 'vitest/config';

/**
 * Two projects. `fast` needs no real service (pure units, workflows on the time-skipping test
 * server, activities in a mock activity context): its files run in parallel. `stack` runs against
 * the real stack that deployments/test.sh brings up: one file at a time, because the suites share
 * one stack (podman, MariaDB, Caddy) on 2 cores, and some restart its services. test.sh runs the
 * two projects as two processes at once; a plain `vitest run` runs them one after the other.
 */
const FAST = ['test/unit/**/*.test.ts', 'test/workflows/**/*.test.ts', 'test/activities/**/*.test.ts', 'test/bench.test.ts'];

export default defineConfig({
  test: {
    // Temporal's native bridge segfaulted under worker threads on these machines; forks are stable.
    pool: 'forks',
    reporters: ['default'],
    projects: [
      {
        test: {
          name: 'fast',
          pool: 'forks',
          include: FAST,
          globalSetup: ['test/global-setup-fast.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
          maxWorkers: 2,
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          name: 'stack',
          pool: 'forks',
          include: ['test/**/*.test.ts'],
          exclude: FAST,
          globalSetup: ['test/global-setup.ts'],
          // Real-stack tests restore containers and wait on Temporal timers: generous, but bounded.
          testTimeout: 120_000,
          hookTimeout: 180_000,
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
