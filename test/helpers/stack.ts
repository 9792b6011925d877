/**
 * Access to the real stack for tests: configuration, real clients, activities, and in-process
 * workers on a per-suite task queue prefix (so a suite never takes another suite's tasks).
 */
import type { Client } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, type Worker } from '@temporalio/worker';
import { join } from 'node:path';
import { inject } from 'vitest';
import { createQueueActivities } from '../../activities';
import { createHostActivities } from '../../activities/host';
import { createSharedActivities } from '../../activities/shared';
import { createRealDeps, type RealDeps } from '../../adapters/real-deps';
import { loadConfig, type Config } from '../../lib/config';
import { connectTemporalClient, createClaimer, startClaimDelivery, temporalDataConverter, type Claimer } from '../../client';
import { createSecretDeriver, loadOrCreateMasterKey } from '../../lib/secrets';
import { createDmxWorkers, queueNames, type DmxWorkersOptions } from '../../workers/create-workers';
import { inActivityContext } from './activity-context';

export function testConfig(overrides: Record<string, string> = {}): Config {
  return loadConfig({ ...process.env, DMX_LOG_LEVEL: process.env.DMX_LOG_LEVEL ?? 'warn', ...overrides });
}

function secretsOf(deps: RealDeps) {
  return createSecretDeriver(loadOrCreateMasterKey(join(deps.config.stateDir, 'secret.key')));
}

/** The demo activities of every queue in one object, for calling them directly (each in an activity context). */
export function realActivities(deps: RealDeps) {
  const secrets = secretsOf(deps);
  return { secrets, activities: inActivityContext({ ...createSharedActivities({ ...deps, secrets }), ...createHostActivities({ ...deps, secrets }) }) };
}

export interface Harness {
  config: Config;
  deps: RealDeps;
  client: Client;
  queues: ReturnType<typeof queueNames>;
  /** The claimer the harness's deliverer serves (claims made with it are delivered by it). */
  claimer: Claimer;
  stop(): Promise<void>;
}

let runtimeInstalled = false;
function quietTemporalRuntime(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  // Worker state changes at INFO drown the test output; warnings and errors still show.
  Runtime.install({ logger: new DefaultLogger('WARN') });
}

/**
 * Starts workers in this process with the given activities per queue (real ones by default), and
 * the claim deliverer the worker process runs (`claimDelivery: false` leaves claims to the API's
 * re-delivery, as when the deliverer is down).
 */
export async function startHarness(
  queuePrefix: string, opts: { activities?: DmxWorkersOptions['activities']; config?: Config; claimDelivery?: boolean } = {},
): Promise<Harness> {
  quietTemporalRuntime();
  const config = opts.config ?? testConfig();
  const deps = createRealDeps(config, `test-${queuePrefix}`);
  const { client, connection } = await connectTemporalClient(config);
  const activities = opts.activities ?? createQueueActivities({ ...deps, secrets: secretsOf(deps), temporal: client });
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
  const claimer = createClaimer({ client, config, valkey: deps.valkey, secrets: secretsOf(deps) });
  const stopClaimDelivery = opts.claimDelivery === false ? async () => undefined : startClaimDelivery(claimer, deps.valkey);
  return {
    config,
    deps,
    client,
    queues: queueNames(config.hostId, queuePrefix),
    claimer,
    async stop() {
      await stopClaimDelivery();
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
      await Promise.allSettled(running);
      await nativeConnection.close();
      await connection.close();
      await deps.close();
    },
  };
}

export { newDemoId } from './ids';
