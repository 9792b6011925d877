/**
 * The dmx worker process: one per host. Runs until SIGINT/SIGTERM, then lets running activities
 * finish (shutdownGraceTime) before exiting; anything cut off is retried by Temporal.
 */
import { NativeConnection } from '@temporalio/worker';
import { join } from 'node:path';
import { createQueueActivities } from '../activities';
import { createRealDeps } from '../adapters/real-deps';
import { ensureReconcilerSchedule } from '../client/schedules';
import { loadConfig } from '../lib/config';
import { demoRouterOptions } from '../adapters/caddy';
import { KSM_RUN_FILE, ksmRunning } from '../adapters/memory-merge';
import { connectTemporalClient, createClaimer, startClaimDelivery, temporalDataConverter } from '../client';
import { createSecretDeriver, loadOrCreateMasterKey } from '../lib/secrets';
import { createDmxWorkers } from './create-workers';

const config = loadConfig();
const deps = createRealDeps(config, 'dmx-worker');
const { log } = deps;

async function connectWithRetry(): Promise<NativeConnection> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await NativeConnection.connect({ address: config.temporal.address });
    } catch (err) {
      if (attempt >= 30) throw new Error(`Temporal at ${config.temporal.address} unreachable after ${attempt} attempts`, { cause: err });
      log.warn({ attempt, err: (err as Error).message }, 'Temporal not reachable yet; retrying');
      await new Promise((r) => setTimeout(r, 1_000));
    }
  }
}

async function main(): Promise<void> {
  if (config.podman.memoryMerge && !ksmRunning()) {
    throw new Error(`DMX_DEMO_MEMORY_MERGE is on but the kernel's ksmd is not merging (${KSM_RUN_FILE} is not 1): start the stack with deployments/stack.sh up, which turns it on`);
  }
  const secrets = createSecretDeriver(loadOrCreateMasterKey(join(config.stateDir, 'secret.key')));
  try {
    await deps.caddy.ensureDemoRouter(demoRouterOptions(config));
  } catch (err) {
    // Not fatal: verifyDemoRouted re-applies it before any demo is handed out.
    log.warn({ err: (err as Error).message }, 'could not ensure the Caddy demo router at start');
  }
  const connection = await connectWithRetry();
  // A client for what activities ask of Temporal itself (the reconciler lists live demos).
  const { client, connection: clientConnection } = await connectTemporalClient(config);
  const workers = await createDmxWorkers({
    connection,
    namespace: config.temporal.namespace,
    hostId: config.hostId,
    queuePrefix: config.temporal.queuePrefix,
    dataConverter: temporalDataConverter(config),
    activities: createQueueActivities({ ...deps, secrets, temporal: client }),
  });
  log.info({ schedule: await ensureReconcilerSchedule(client, config) }, 'reconciler schedule');
  // Claims are answered by the API from Valkey; their signals to the demos go from here.
  const stopClaimDelivery = startClaimDelivery(createClaimer({ client, config, valkey: deps.valkey, secrets, log }), deps.valkey, log);
  log.info({ hostId: config.hostId, queues: workers.map((w) => w.options.taskQueue) }, 'dmx worker running');
  try {
    await Promise.all(workers.map((w) => w.run()));
  } finally {
    await stopClaimDelivery();
    await connection.close();
    await clientConnection.close();
    await deps.close();
    log.info('dmx worker stopped');
  }
}

main().catch((err) => {
  log.fatal({ err }, 'dmx worker failed');
  process.exit(1);
});
