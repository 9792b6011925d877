/**
 * The workers of one dmx host: the shared queue (workflows + MariaDB/Caddy/Valkey activities and
 * notifications), the restore queue, this host's own queue for the containers it holds, and its
 * routing queue (name withdrawals). On a single-host install one process serves all four. Each
 * registers only its own activity set.
 */
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import type { QueueActivities } from '../activities';
import { taskQueuesFor } from '../contract';
import { workflowsPath } from '../workflows/location';

export interface DmxWorkersOptions {
  connection: NativeConnection;
  namespace: string;
  hostId: string;
  /** Per queue (real ones from createQueueActivities; tests may pass fakes). */
  activities: { [Q in keyof QueueActivities]: object };
  /** A pre-built bundle (tests bundle once per run); otherwise the workflows are bundled at start. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  /** Serve the shared queue (workflows, DB/Caddy/Valkey activities). Hosts that only hold containers can skip it. */
  shared?: boolean;
  /** Queue names prefix for isolated test runs (several suites against one Temporal server). */
  queuePrefix?: string;
  shutdownGraceTime?: WorkerOptions['shutdownGraceTime'];
  /** Payload encryption (client/connection.ts): the same converter as every client. */
  dataConverter: WorkerOptions['dataConverter'];
}

/** The four queues one host serves. */
export function queueNames(hostId: string, prefix = '') {
  const q = taskQueuesFor(prefix);
  return { shared: q.shared, restore: q.restore, host: q.host(hostId), routing: q.routing(hostId) };
}

export async function createDmxWorkers(o: DmxWorkersOptions): Promise<Worker[]> {
  const q = queueNames(o.hostId, o.queuePrefix);
  const common = {
    connection: o.connection,
    namespace: o.namespace,
    dataConverter: o.dataConverter,
    shutdownGraceTime: o.shutdownGraceTime ?? '20s',
  } satisfies Partial<WorkerOptions>;
  const workers: Worker[] = [];
  if (o.shared !== false) {
    workers.push(await Worker.create({
      ...common,
      taskQueue: q.shared,
      activities: o.activities.shared,
      ...(o.workflowBundle ? { workflowBundle: o.workflowBundle } : { workflowsPath }),
    }));
  }
  // Up to 8 restores at a time: past the refill knee on 2 cores (bench: knee), so the pool's own
  // limit, not this one, decides how many run.
  workers.push(await Worker.create({ ...common, taskQueue: q.restore, activities: o.activities.restore, maxConcurrentActivityTaskExecutions: 8 }));
  workers.push(await Worker.create({ ...common, taskQueue: q.host, activities: o.activities.host, maxConcurrentActivityTaskExecutions: 16 }));
  // Name withdrawals only (a file removed, then the names server asked until it forgets the name):
  // never queued behind the host's container removals, and cheap enough to run many at once.
  workers.push(await Worker.create({ ...common, taskQueue: q.routing, activities: o.activities.routing, maxConcurrentActivityTaskExecutions: 64 }));
  return workers;
}
