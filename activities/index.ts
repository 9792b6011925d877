/**
 * The activity sets, by where they run. Each worker registers only the set of its own queue:
 * - shared queue (`dmx-shared`, with the workflows): MariaDB data, Caddy check, Valkey index,
 *   template summaries, the claim store's entries (claims.ts), and the notifications (webhooks);
 * - restore queue (`dmx-restore`, any host with the checkpoint): the restore, and removal of a
 *   container whose host was never recorded;
 * - host queue (`dmx-host-<host>`): the container's own steps and the reconciler;
 * - routing queue (`dmx-host-<host>-routing`): withdrawing a demo's name at its end.
 */
import type { Client } from '@temporalio/client';
import type { ActivityDeps } from './common';
import { createClaimActivities, type ClaimActivities } from './claims';
import { createHostActivities, type HostActivities } from './host';
import { createNotificationActivities, type NotificationActivities } from './notifications';
import { createReconcilerActivities, type ReconcilerActivities } from './reconciler';
import { createSharedActivities, type SharedActivities } from './shared';

export type { ActivityDeps, DemoDataRef, RestoredDemo, TemplateSummary } from './common';
export type { ClaimActivities, HostActivities, NotificationActivities, ReconcilerActivities, SharedActivities };
export type RestoreActivities = Pick<HostActivities, 'restoreDemoContainer' | 'removeDemoContainer'>;
export type RoutingActivities = Pick<HostActivities, 'withdrawDemoName'>;

/** What each queue's worker registers. */
export interface QueueActivities {
  shared: SharedActivities & NotificationActivities & ClaimActivities;
  restore: RestoreActivities;
  host: HostActivities & ReconcilerActivities;
  routing: RoutingActivities;
}

export function createQueueActivities(deps: ActivityDeps & { temporal: Client }): QueueActivities {
  const host = createHostActivities(deps);
  return {
    shared: { ...createSharedActivities(deps), ...createNotificationActivities(deps.config), ...createClaimActivities(deps) },
    restore: { restoreDemoContainer: host.restoreDemoContainer, removeDemoContainer: host.removeDemoContainer },
    host: { ...host, ...createReconcilerActivities(deps) },
    routing: { withdrawDemoName: host.withdrawDemoName },
  };
}
