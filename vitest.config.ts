import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Temporal's native bridge segfaulted under worker threads on these machines; forks are stable.
    pool: 'forks',
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    // Real-stack tests restore containers and wait on Temporal timers: generous, but bounded.
    testTimeout: 120_000,
    hookTimeout: 180_000,
    // One file at a time: the suites share one real stack (podman, MariaDB, Caddy) on 2 cores.
    fileParallelism: false,
    reporters: ['default'],
  },
});
