/**
 * Task queue names. A deployment (or a test suite) may prefix them all: workflows started on
 * `<prefix>dmx-shared` send their activities to `<prefix>dmx-restore` and `<prefix>dmx-host-*`.
 */
export const TASK_QUEUES = {
  /** Workflows and the shared activities (MariaDB, Caddy, Valkey, notifications). */
  shared: 'dmx-shared',
  /** Restores: any host with the template's checkpoint may take one. */
  restore: 'dmx-restore',
  /** Everything a demo's container needs after its restore runs on the host that holds it. */
  host: (hostId: string) => `dmx-host-${hostId}`,
  /**
   * A host's demo names, withdrawn at a demo's end on a queue of their own: the host queue's
   * container removals may be queued behind a mass release (~10 a second on 2 cores), and a demo
   * leaves routing at once even then.
   */
  routing: (hostId: string) => `dmx-host-${hostId}-routing`,
} as const;

/** The queue names of one deployment (its prefix; empty in production). */
export function taskQueuesFor(prefix = '') {
  return {
    shared: prefix + TASK_QUEUES.shared,
    restore: prefix + TASK_QUEUES.restore,
    host: (hostId: string) => prefix + TASK_QUEUES.host(hostId),
    routing: (hostId: string) => prefix + TASK_QUEUES.routing(hostId),
  };
}

/** The prefix of a workflow's own task queue (empty in production). */
export function queuePrefixOf(sharedTaskQueue: string): string {
  return sharedTaskQueue.endsWith(TASK_QUEUES.shared) ? sharedTaskQueue.slice(0, -TASK_QUEUES.shared.length) : '';
}
