/**
 * Records the replay fixtures from the current workflow code: runs each scenario on the real stack
 * (in-process workers on their own queue prefix), then writes the workflows' histories as JSON next
 * to this file. Run it after a deliberate incompatible change (see VERSIONING.md):
 *   DMX_PROFILE=<profile> npx tsx test/histories/record.ts
 */
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { createQueueActivities } from '../../activities';
import { createRealDeps, type RealDeps } from '../../adapters/real-deps';
import { createClaimer, demoHandle, startClaimDelivery, ensurePool, poolHandle, poolSettings, poolStats, resizePool } from '../../client';
import { awaitDemoReadyUpdate, DEMO_WORKFLOW_TYPE, demoWorkflowId, extendDemoUpdate, releaseDemoUpdate, type DemoLifecycleInput } from '../../contract';
import { loadConfig, type Config } from '../../lib/config';
import { createSecretDeriver, loadOrCreateMasterKey } from '../../lib/secrets';
import { createDmxWorkers, queueNames } from '../../workers/create-workers';
import { newDemoId } from '../helpers/ids';

Runtime.install({ logger: new DefaultLogger('WARN') });
const dir = import.meta.dirname;

async function withWorkers<T>(config: Config, fn: (client: Client, sharedQueue: string, deps: RealDeps) => Promise<T>): Promise<T> {
  const deps = createRealDeps(config, 'dmx-record');
  const connection = await Connection.connect({ address: config.temporal.address });
  const client = new Client({ connection, namespace: config.temporal.namespace });
  const native = await NativeConnection.connect({ address: config.temporal.address });
  const secrets = createSecretDeriver(loadOrCreateMasterKey(join(config.stateDir, 'secret.key')));
  const workers = await createDmxWorkers({
    connection: native, namespace: config.temporal.namespace, hostId: config.hostId, queuePrefix: config.temporal.queuePrefix,
    activities: createQueueActivities({ ...deps, secrets, temporal: client }), shutdownGraceTime: '2s',
    // Fixtures are replayed on any machine, without this stack's codec.key: recorded unencrypted
    // (this client is unencrypted too, so worker and client agree).
    dataConverter: undefined,
  });
  const running = workers.map((w) => w.run());
  try {
    return await fn(client, queueNames(config.hostId, config.temporal.queuePrefix).shared, deps);
  } finally {
    for (const w of workers) w.shutdown();
    await Promise.allSettled(running);
    await native.close();
    await connection.close();
    await deps.close();
  }
}

async function save(client: Client, name: string, workflowId: string): Promise<void> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  writeFileSync(join(dir, `${name}.json`), historyToJSON(history));
  console.log(`wrote ${name}.json (${history.events?.length ?? 0} events)`);
}

function startDemo(client: Client, queue: string, input: Omit<DemoLifecycleInput, 'demoId'>) {
  const demoId = newDemoId();
  return client.workflow.start(DEMO_WORKFLOW_TYPE, { taskQueue: queue, workflowId: demoWorkflowId(demoId), args: [{ demoId, ...input }] });
}

async function demoScenarios(config: Config): Promise<void> {
  await withWorkers(config, async (client, queue) => {
    const expired = await startDemo(client, queue, { template: 'standin', ttlSeconds: 3, maxLifetimeSeconds: 60 });
    await expired.result();
    await save(client, 'demo-expired', expired.workflowId);

    const released = await startDemo(client, queue, { template: 'standin', ttlSeconds: 60, maxLifetimeSeconds: 120 });
    await released.executeUpdate(awaitDemoReadyUpdate);
    await released.executeUpdate(extendDemoUpdate, { args: [{ seconds: 30, requestId: 'record-1' }], updateId: 'extend:record-1' });
    await released.executeUpdate(releaseDemoUpdate, { args: [{ reason: 'recorded' }] });
    await released.result();
    await save(client, 'demo-extended-released', released.workflowId);

    const cancelled = await startDemo(client, queue, { template: 'standin', ttlSeconds: 60, maxLifetimeSeconds: 120 });
    await cancelled.executeUpdate(awaitDemoReadyUpdate);
    await cancelled.cancel();
    await cancelled.result().catch(() => undefined);
    await save(client, 'demo-cancelled', cancelled.workflowId);

    const failed = await startDemo(client, queue, { template: 'no-such-template', ttlSeconds: 60, maxLifetimeSeconds: 120 });
    await failed.result().catch(() => undefined);
    await save(client, 'demo-failed-template-missing', failed.workflowId);
  });
}

async function webhookScenario(): Promise<void> {
  const server = createServer((req, res) => req.resume().on('end', () => res.writeHead(204).end()));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const hooked = loadConfig({ ...process.env, DMX_LOG_LEVEL: 'warn', DMX_TASK_QUEUE_PREFIX: 'rec-hooks-', DMX_WEBHOOK_URL: `http://127.0.0.1:${port}/hooks`, DMX_WEBHOOK_SECRET: 'recorded-fixtures-only-secret', DMX_WEBHOOK_EXPIRING_SECONDS: '2' });
  try {
    await withWorkers(hooked, async (client, queue) => {
      const demo = await startDemo(client, queue, { template: 'standin', ttlSeconds: 4, maxLifetimeSeconds: 60 });
      await demo.result();
      await save(client, 'demo-webhooks-expired', demo.workflowId);
    });
  } finally {
    server.close();
  }
}

async function until(what: string, fn: () => Promise<boolean>, timeoutMs = 120_000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; !(await fn());) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

async function poolScenario(config: Config): Promise<void> {
  await withWorkers(config, async (client, _queue, deps) => {
    const secrets = createSecretDeriver(loadOrCreateMasterKey(join(config.stateDir, 'secret.key')));
    const claimer = createClaimer({ client, config, valkey: deps.valkey, secrets });
    // What the worker process runs beside its workers: the claim's signal to the demo.
    const stopClaimDelivery = startClaimDelivery(claimer, deps.valkey);
    // Two: after the claim one is still ready, so the refill waits its hold (pool-run.ts) on a timer.
    await ensurePool(client, config, poolSettings(config, 'standin', 2, { unclaimedMaxAgeSeconds: 600 }));
    await until('two ready pooled demos', async () => (await poolStats(client, config, 'standin')).ready === 2);
    const out = await claimer.claim({ template: 'standin', ttlSeconds: 60, owner: 'record', requestedBy: 'record' });
    if (out.kind !== 'claimed') throw new Error(`no pooled demo to claim (${out.kind})`);
    const claimed = out.state;
    // The pool hears of the claim when the demo acknowledges it, then refills.
    await until('the pool refilled', async () => {
      const s = await poolStats(client, config, 'standin');
      return s.counters.claimed >= 1 && s.ready === 2 && !s.readyDemoIds.includes(claimed.demoId);
    });
    const [recycledId, alsoRecycled] = (await poolStats(client, config, 'standin')).readyDemoIds;
    await resizePool(client, config, 'standin', 0);
    await demoHandle(client, recycledId!).result();
    await demoHandle(client, alsoRecycled!).result();
    await demoHandle(client, claimed.demoId).executeUpdate(releaseDemoUpdate, { args: [{ reason: 'recorded' }] });
    await demoHandle(client, claimed.demoId).result();
    const pool = poolHandle(client, config, 'standin');
    await pool.cancel();
    await pool.result().catch(() => undefined);
    await save(client, 'pooled-demo-claimed-released', demoWorkflowId(claimed.demoId));
    await save(client, 'pooled-demo-recycled', demoWorkflowId(recycledId!));
    await save(client, 'pool-claimed-resized-cancelled', pool.workflowId);
    await stopClaimDelivery();
  });
}

const base = loadConfig({ ...process.env, DMX_LOG_LEVEL: 'warn', DMX_TASK_QUEUE_PREFIX: 'rec-' });
await demoScenarios(base);
await webhookScenario();
await poolScenario(loadConfig({ ...process.env, DMX_LOG_LEVEL: 'warn', DMX_TASK_QUEUE_PREFIX: 'rec-pool-' }));
