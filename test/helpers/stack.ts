/**
 * Access to the real stack for tests: configuration, real clients, activities, and in-process
 * workers on a per-suite task queue prefix (so a suite never takes another suite's tasks).
 */
import type { Client } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, type Worker } from '@temporalio/worker';
import { join } from 'node:path';
import { inject } from 'vitest';
import { createActivities } from '../../activities/demo-activities';
import { createReconcilerActivities } from '../../activities/reconciler-activities';
import { loadConfig, type Config } from '../../lib/config';
import { connectTemporalClient, temporalDataConverter } from '../../lib/temporal-client';
import { randomDemoId } from '../../lib/random-ids';
import { createSecretDeriver, loadOrCreateMasterKey } from '../../lib/secrets';
import { createDmxWorkers, queueNames } from '../../workers/create-workers';
import { createRealDeps, type RealDeps } from '../../workers/deps';

export function testConfig(overrides: Record<string, string> = {}): Config {
  return loadConfig({ ...process.env, DMX_LOG_LEVEL: process.env.DMX_LOG_LEVEL ?? 'warn', ...overrides });
}

export function realActivities(deps: RealDeps) {
  const secrets = createSecretDeriver(loadOrCreateMasterKey(join(deps.config.stateDir, 'secret.key')));
  return { secrets, activities: createActivities({ ...deps, secrets }) };
}

export interface Harness {
  config: Config;
  deps: RealDeps;
  client: Client;
  queues: ReturnType<typeof queueNames>;
  stop(): Promise<void>;
}

let runtimeInstalled = false;
function quietTemporalRuntime(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  // Worker state changes at INFO drown the test output; warnings and errors still show.
  Runtime.install({ logger: new DefaultLogger('WARN') });
}

/** Starts workers in this process with the given activities (real ones by default). */
export async function startHarness(queuePrefix: string, opts: { activities?: object; config?: Config } = {}): Promise<Harness> {
  quietTemporalRuntime();
  const config = opts.config ?? testConfig();
  const deps = createRealDeps(config, `test-${queuePrefix}`);
  const { client, connection } = await connectTemporalClient(config);
  let activities = opts.activities;
  if (!activities) {
    const real = realActivities(deps);
    activities = { ...real.activities, ...createReconcilerActivities({ ...deps, secrets: real.secrets, temporal: client }) };
  }
  const nativeConnection = await NativeConnection.connect({ address: config.temporal.address });
  const workers: Worker[] = await createDmxWorkers({
    connection: nativeConnection,
    namespace: config.temporal.namespace,
    hostId: config.hostId,
    activities,
    queuePrefix,
    dataConverter: temporalDataConverter(config),
    workflowBundle: { codePath: inject('workflowBundlePath') },
    shutdownGraceTime: '2s',
  });
  const running = workers.map((w) => w.run());
  return {
    config,
    deps,
    client,
    queues: queueNames(config.hostId, queuePrefix),
    async stop() {
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
      await Promise.allSettled(running);
      await nativeConnection.close();
      await connection.close();
      await deps.close();
    },
  };
}

/** A fresh demo id, made the way the API and the pool make them. */
export const newDemoId = randomDemoId;
