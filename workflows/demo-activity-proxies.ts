/**
 * The demo workflow's activity proxies, one per queue and purpose: provisioning gives up after a
 * bounded time, teardown retries until it succeeds, notifications retry for a while then give up.
 */
import { ActivityCancellationType, proxyActivities, proxyLocalActivities, workflowInfo, type ActivityOptions } from '@temporalio/workflow';
import { FAILURE_TYPES, queuePrefixOf, taskQueuesFor } from '../contract';
import type { ClaimActivities, HostActivities, NotificationActivities, RestoreActivities, RoutingActivities, SharedActivities } from '../activities';

/** Provisioning gives up after a bounded time and cleans up, rather than handing out a broken demo. */
const provisioning: ActivityOptions = {
  startToCloseTimeout: '60s',
  // Activities heartbeat every second: a dead worker is noticed in seconds.
  heartbeatTimeout: '5s',
  scheduleToCloseTimeout: '2m',
  retry: { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '10s', nonRetryableErrorTypes: [FAILURE_TYPES.templateMissing, FAILURE_TYPES.invalidInput, FAILURE_TYPES.containerGone] },
  // A cancel during provisioning waits for the running step to finish, so teardown never races it.
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
};

/** Teardown retries until it succeeds: a leak is worse than a late cleanup. */
const teardown: ActivityOptions = {
  startToCloseTimeout: '60s',
  heartbeatTimeout: '5s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s' },
};

/** Activity proxies for this run's queues (a prefixed shared queue prefixes the others too). */
export function activityQueues() {
  const queues = taskQueuesFor(queuePrefixOf(workflowInfo().taskQueue));
  const proxy = <A>(options: ActivityOptions, taskQueue: string) => proxyActivities<A>({ ...options, taskQueue });
  return {
    shared: proxy<SharedActivities>(provisioning, queues.shared),
    /** Quick reads of local files, run by the workflow's own worker without a task queue round trip. */
    local: proxyLocalActivities<SharedActivities>({
      startToCloseTimeout: '10s',
      retry: { initialInterval: '200ms', maximumInterval: '5s', maximumAttempts: 5, nonRetryableErrorTypes: [FAILURE_TYPES.templateMissing] },
    }),
    /**
     * Provisioning checks run by the workflow's own worker (they need only what every shared worker
     * reaches: Caddy), bounded like the provisioning steps.
     */
    localProvisioning: proxyLocalActivities<SharedActivities>({
      startToCloseTimeout: '15s',
      scheduleToCloseTimeout: provisioning.scheduleToCloseTimeout,
      retry: provisioning.retry,
      cancellationType: provisioning.cancellationType,
    }),
    sharedTeardown: proxy<SharedActivities>(teardown, queues.shared),
    /**
     * The claim store in Valkey: quick scripts, retried until they succeed (a withdraw must happen
     * before teardown, an acknowledgement stops re-deliveries), like teardown steps.
     */
    claims: proxy<ClaimActivities>({ ...teardown, startToCloseTimeout: '10s' }, queues.shared),
    /** CRIU restore: three tries, the last one with `podman run` (see restoreDemoContainer). */
    restore: proxy<RestoreActivities>({ ...provisioning, startToCloseTimeout: '90s', retry: { ...provisioning.retry, maximumAttempts: 3, initialInterval: '1s' } }, queues.restore),
    restoreTeardown: proxy<RestoreActivities>(teardown, queues.restore),
    onHost: (host: string) => proxy<HostActivities>(provisioning, queues.host(host)),
    onHostTeardown: (host: string) => proxy<HostActivities>(teardown, queues.host(host)),
    /** A demo's name withdrawn on its host's routing queue, which container removals never fill. */
    routingTeardown: (host: string) => proxy<RoutingActivities>(teardown, queues.routing(host)),
    /** Webhook deliveries retry for a while, then give up: a dead receiver must not hold a demo. */
    notifier: proxy<NotificationActivities>({
      startToCloseTimeout: '20s',
      scheduleToCloseTimeout: '15m',
      retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '60s', maximumAttempts: 12, nonRetryableErrorTypes: [FAILURE_TYPES.webhookRefused] },
    }, queues.shared),
  };
}

export type DemoActivityQueues = ReturnType<typeof activityQueues>;
