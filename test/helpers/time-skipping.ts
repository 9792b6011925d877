/**
 * Workflows on the time-skipping test server (the Java SDK's, installed by
 * deployments/install-test-server.sh) with fake activities: production timer values (hours of TTL,
 * minutes of backoff) run in seconds, and no real service is needed. One server per test file, so
 * files may run in parallel without skipping each other's time.
 */
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime, type Worker } from '@temporalio/worker';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';
import { SEARCH_ATTRIBUTES } from '../../contract';
import { loadConfig, type Config } from '../../lib/config';
import { createDmxWorkers, queueNames, type DmxWorkersOptions } from '../../workers/create-workers';

/**
 * The configuration's own defaults — what production runs with (TTL 1 h, lifetime 24 h, pool
 * age-out 30 min, expiry warning 5 min before, ...). Only addresses, which no fake uses, are filled in.
 */
export function productionConfig(): Config {
  return loadConfig({
    DMX_STATE_DIR: mkdtempSync(join(tmpdir(), 'dmx-time-skipping-')),
    DMX_HOST_ID: 'ts-host',
    DMX_MARIADB_ADMIN_PASSWORD: 'unused-by-fakes',
    DMX_TEMPORAL_ADDRESS: '127.0.0.1:1', DMX_TEMPORAL_UI_PORT: '1', DMX_MARIADB_PORT: '1', DMX_VALKEY_PORT: '1', DMX_CADDY_ADMIN_PORT: '1',
    DMX_CADDY_HTTP_PORT: '1', DMX_API_PORT: '1', DMX_NETWORK: 'unused', DMX_NETWORK_SUBNET: '10.250.0.0/16', DMX_NETWORK_GATEWAY: '10.250.0.1',
    DMX_EDGE_NETWORK: 'unused-edge', DMX_EDGE_GATEWAY: '10.251.0.1', DMX_CRIU_BIN_DIR: '/nonexistent',
  });
}

/** deployments/lib.sh exports the path; without it (vitest run by hand), the newest one installed. */
function testServerPath(): string {
  const root = join(process.env.DMX_CACHE_DIR ?? '/var/cache/dmx', 'temporal-test-server');
  const installed = existsSync(root) ? readdirSync(root).sort((a, b) => a.localeCompare(b, 'en', { numeric: true })).map((v) => join(root, v, 'bin', 'temporal-test-server')) : [];
  const path = process.env.DMX_TEMPORAL_TEST_SERVER_BIN ?? installed.filter((p) => existsSync(p)).at(-1);
  if (!path || !existsSync(path)) {
    throw new Error(`the Temporal test server is not installed (DMX_TEMPORAL_TEST_SERVER_BIN=${path ?? 'unset'}): run deployments/setup.sh, and the tests with deployments/test.sh (it exports the path)`);
  }
  return path;
}

const SEARCH_ATTRIBUTE_TYPES = { KEYWORD: 2, DATETIME: 6 } as const; // temporal.api.enums.v1.IndexedValueType

export interface TimeSkipping {
  env: TestWorkflowEnvironment;
  config: Config;
  queues: ReturnType<typeof queueNames>;
  /** Starts the dmx workers with these activities; they run until `stop`. */
  startWorkers(activities: DmxWorkersOptions['activities']): Promise<void>;
  stop(): Promise<void>;
}

let runtimeInstalled = false;

export async function startTimeSkipping(): Promise<TimeSkipping> {
  if (!runtimeInstalled) {
    runtimeInstalled = true;
    Runtime.install({ logger: new DefaultLogger('WARN') });
  }
  const env = await TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path: testServerPath() } } });
  // The test server knows no custom search attribute until told (the dev server is started with them).
  await env.connection.operatorService.addSearchAttributes({
    namespace: env.namespace ?? 'default',
    searchAttributes: Object.fromEntries(Object.values(SEARCH_ATTRIBUTES).map((k) => [k.name, SEARCH_ATTRIBUTE_TYPES[k.type as keyof typeof SEARCH_ATTRIBUTE_TYPES]])),
  });
  const config = productionConfig();
  let workers: Worker[] = [];
  let running: Array<Promise<void>> = [];
  return {
    env,
    config,
    queues: queueNames(config.hostId),
    async startWorkers(activities) {
      workers = await createDmxWorkers({
        connection: env.nativeConnection, namespace: env.namespace ?? 'default', hostId: config.hostId, activities,
        workflowBundle: { codePath: inject('workflowBundlePath') }, shutdownGraceTime: '1s',
      });
      running = workers.map((w) => w.run());
    },
    async stop() {
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
      await Promise.allSettled(running);
      await env.teardown();
    },
  };
}
