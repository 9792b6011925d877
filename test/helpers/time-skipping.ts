/**
 * Workflows on the time-skipping test server (the Java SDK's, installed by
 * deployments/install-test-server.sh) with fake activities: production timer values (hours of TTL,
 * minutes of backoff) run in seconds, and no real service is needed. One server per test file, so
 * files may run in parallel without skipping each other's time.
 */
import { Client } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime, type Worker } from '@temporalio/worker';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { connect, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';
import { temporalDataConverter } from '../../client';
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
    DMX_CADDY_HTTP_PORT: '1', DMX_API_PORT: '1', DMX_NETWORK: 'unused', DMX_NETWORK_SUBNET: '10.250.0.0/16', DMX_NETWORK_PAIRS: '2',
    DMX_EDGE_NETWORK: 'unused-edge', DMX_EDGE_SUBNET: '10.251.0.0/16', DMX_NAMES_PORT: '1', DMX_CRIU_BIN_DIR: '/nonexistent',
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

/**
 * Starts the test server on a free port and waits for it (up to 60 s). createTimeSkipping() could
 * start it too, but gives it 5 s, which a JVM on a busy 2-core machine (the real-stack suites run
 * beside these) does not always meet.
 */
async function startTestServer(): Promise<{ address: string; stop(): Promise<void> }> {
  const port = await new Promise<number>((resolve, reject) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port: free } = probe.address() as AddressInfo;
      probe.close(() => resolve(free));
    }).on('error', reject);
  });
  const child = spawn(testServerPath(), [String(port), '--enable-time-skipping'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr = (stderr + String(d)).slice(-2000)));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    const up = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => resolve(true)).on('error', () => resolve(false));
      socket.setTimeout(1_000, () => resolve(false));
      setTimeout(() => socket.destroy(), 1_100);
    });
    if (up) return { address: `127.0.0.1:${port}`, stop };
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`the Temporal test server did not start on port ${port} within 60 s (exit ${child.exitCode}): ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * A time-skipping environment on a server started above. TestWorkflowEnvironment's public
 * factories either start the server themselves (5 s limit) or turn time skipping off for an
 * existing one; its own `create` takes both, and is reached here by name (@temporalio/testing is
 * pinned to an exact version in package.json).
 */
function timeSkippingEnvironmentAt(address: string, dataConverter: DataConverter): Promise<TestWorkflowEnvironment> {
  const factory = TestWorkflowEnvironment as unknown as {
    create(opts: { server: { type: 'existing' }; address: string; namespace: string; supportsTimeSkipping: boolean; client: { dataConverter: DataConverter } }): Promise<TestWorkflowEnvironment>;
  };
  return factory.create({ server: { type: 'existing' }, address, namespace: 'default', supportsTimeSkipping: true, client: { dataConverter } });
}

const SEARCH_ATTRIBUTE_TYPES = { KEYWORD: 2, DATETIME: 6 } as const; // temporal.api.enums.v1.IndexedValueType

export interface TimeSkipping {
  env: TestWorkflowEnvironment;
  /**
   * Waits for a workflow's result in real time, time skipping locked. The environment's own client
   * unlocks skipping while it waits, and the server then also skips ahead while activities run (to
   * their timeouts, or 10 years on): move time with `env.sleep`, collect results with this.
   */
  resultOf<T>(workflowId: string): Promise<T>;
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
  const config = productionConfig();
  // Payloads encrypted as in production (the codec's key lives in the config's state folder).
  const dataConverter = temporalDataConverter(config);
  const server = await startTestServer();
  const env = await timeSkippingEnvironmentAt(server.address, dataConverter).catch(async (err) => {
    await server.stop();
    throw err;
  });
  // The test server knows no custom search attribute until told (the dev server is started with them).
  await env.connection.operatorService.addSearchAttributes({
    namespace: env.namespace ?? 'default',
    searchAttributes: Object.fromEntries(Object.values(SEARCH_ATTRIBUTES).map((k) => [k.name, SEARCH_ATTRIBUTE_TYPES[k.type as keyof typeof SEARCH_ATTRIBUTE_TYPES]])),
  });
  // Time moves only when a test moves it (env.sleep) or waits through the environment's own client.
  // This server starts with time skipping unlocked: it then jumps to the next timer whenever no
  // task is in flight (a pool test saw 90 min pass in 3 s of real time, timers firing while the
  // test was still sending signals and queries).
  const testService = env.connection.testService;
  if (!testService) throw new Error(`the server at ${server.address} has no test service: not the time-skipping test server`);
  await testService.lockTimeSkipping({});
  let workers: Worker[] = [];
  let running: Array<Promise<void>> = [];
  const lockedClient = new Client({ connection: env.connection, namespace: env.namespace ?? 'default', dataConverter });
  return {
    env,
    resultOf: (workflowId) => lockedClient.workflow.getHandle(workflowId).result(),
    config,
    queues: queueNames(config.hostId),
    async startWorkers(activities) {
      workers = await createDmxWorkers({
        connection: env.nativeConnection, namespace: env.namespace ?? 'default', hostId: config.hostId, activities,
        workflowBundle: { codePath: inject('workflowBundlePath') }, shutdownGraceTime: '1s', dataConverter,
      });
      running = workers.map((w) => w.run());
    },
    async stop() {
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
      await Promise.allSettled(running);
      await env.teardown();
      await server.stop();
    },
  };
}
