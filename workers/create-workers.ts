/**
 * The workers of one dmx host: the shared queue (workflows + MariaDB/Caddy/Valkey activities), the
 * restore queue, and this host's own queue for the containers it holds. On a single-host install
 * one process serves all three.
 */
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { fileURLToPath } from 'node:url';
import { TASK_QUEUES } from '../workflows/definitions';

export const workflowsPath = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));

export interface DmxWorkersOptions {
  connection: NativeConnection;
  namespace: string;
  hostId: string;
  activities: object;
  /** A pre-built bundle (tests bundle once per run); otherwise the workflows are bundled at start. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  /** Serve the shared queue (workflows, DB/Caddy/Valkey activities). Hosts that only hold containers can skip it. */
  shared?: boolean;
  /** Queue names prefix for isolated test runs (several suites against one Temporal server). */
  queuePrefix?: string;
  shutdownGraceTime?: WorkerOptions['shutdownGraceTime'];
  /** Payload encryption (lib/temporal-client.ts): the same converter as every client. */
  dataConverter: WorkerOptions['dataConverter'];
}

export function queueNames(hostId: string, prefix = '') {
  return { shared: prefix + TASK_QUEUES.shared, restore: prefix + TASK_QUEUES.restore, host: prefix + TASK_QUEUES.host(hostId) };
}

export async function createDmxWorkers(o: DmxWorkersOptions): Promise<Worker[]> {
  const q = queueNames(o.hostId, o.queuePrefix);
  const common = {
    connection: o.connection,
    namespace: o.namespace,
    activities: o.activities,
    dataConverter: o.dataConverter,
    shutdownGraceTime: o.shutdownGraceTime ?? '20s',
  } satisfies Partial<WorkerOptions>;
  const workers: Worker[] = [];
  if (o.shared !== false) {
    workers.push(await Worker.create({
      ...common,
      taskQueue: q.shared,
      ...(o.workflowBundle ? { workflowBundle: o.workflowBundle } : { workflowsPath }),
    }));
  }
  workers.push(await Worker.create({ ...common, taskQueue: q.restore, maxConcurrentActivityTaskExecutions: 4 }));
  workers.push(await Worker.create({ ...common, taskQueue: q.host, maxConcurrentActivityTaskExecutions: 16 }));
  return workers;
}
