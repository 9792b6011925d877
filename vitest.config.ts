import { defineConfig } from 'vitest/config';

/**
 * Four projects. `fast` needs no real service (pure units, activities in a mock activity context):
 * its files run in parallel. `time-skipping`: workflows on the time-skipping test server, alone. `stack` runs against
 * the real stack that deployments/test.sh brings up, two files at a time; `stack-exclusive` holds
 * the suites that restart or break a service every suite shares, one at a time, after `stack`.
 * test.sh runs `fast` beside the two stack projects; a plain `vitest run` runs them in turn.
 */
const FAST = ['test/unit/**/*.test.ts', 'test/activities/**/*.test.ts', 'test/bench.test.ts'];
/**
 * Workflows on the Java time-skipping test server. Run alone, before the rest (deployments/test.sh):
 * on a loaded machine that server skips time while a workflow task is still running, and a timer
 * then fires late or a workflow task expires (seen in about 1 CI run in 3 beside the stack suites).
 */
const TIME_SKIPPING = ['test/workflows/**/*.test.ts'];
/**
 * Real-stack suites that change what every other suite on the stack relies on, so they run alone,
 * one after the other, once the others are done (each on its own queue prefix otherwise).
 */
const EXCLUSIVE = [
  'test/chaos.test.ts', // kills and restarts MariaDB, Caddy, Valkey and Temporal
  'test/claims.test.ts', // kills and restarts Valkey in the middle of a claim burst
  'test/readiness.test.ts', // breaks DNS on the edge network on purpose
  'test/reconciler.test.ts', // removes containers, databases and routes that no workflow owns
  'test/security/attacker.test.ts', // removes the demo firewall as a negative control
  'test/adapters/caddy-valkey.test.ts', // deletes and re-creates the demo router
  'test/pool.test.ts', // re-checkpoints the stand-in: drops and reloads the template database demos clone
  'test/deployments/preflight.test.ts', // runs the preflight against the stack's own ports and networks
];

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
          name: 'time-skipping',
          pool: 'forks',
          include: TIME_SKIPPING,
          globalSetup: ['test/global-setup-fast.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
          fileParallelism: false,
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          name: 'stack',
          pool: 'forks',
          include: ['test/**/*.test.ts'],
          exclude: [...FAST, ...TIME_SKIPPING, ...EXCLUSIVE],
          globalSetup: ['test/global-setup.ts'],
          // Real-stack tests restore containers and wait on Temporal timers: generous, but bounded.
          testTimeout: 120_000,
          hookTimeout: 180_000,
          // Two files at a time: each suite has its own queue prefix, workers, demos and API, and
          // most of their time is spent waiting (timers, teardown, HTTP), not computing.
          maxWorkers: 2,
          sequence: { groupOrder: 1 },
        },
      },
      {
        test: {
          name: 'stack-exclusive',
          pool: 'forks',
          include: EXCLUSIVE,
          globalSetup: ['test/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          fileParallelism: false,
          sequence: { groupOrder: 2 },
        },
      },
    ],
  },
});
