/**
 * One reconciliation pass, started by a Temporal Schedule (`dmx-reconciler`, every minute by
 * default, overlapping runs skipped). Its result — what it found and removed — is visible in the
 * Web UI per run, and the last findings are exported to /metrics through Valkey.
 */
import { log, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { HostActivities, ReconcilerActivities } from '../activities';
import { queuePrefixOf, taskQueuesFor, type ReconcileInput, type ReconcileResult } from '../contract';

export async function reconcile(input: ReconcileInput): Promise<ReconcileResult> {
  const prefix = queuePrefixOf(workflowInfo().taskQueue);
  const acts = proxyActivities<ReconcilerActivities & Pick<HostActivities, 'connectDemoRoute'>>({
    // Inventory and removals touch this host's containers: its own queue.
    taskQueue: taskQueuesFor(prefix).host(input.hostId),
    startToCloseTimeout: '2m',
    heartbeatTimeout: '10s',
    retry: { initialInterval: '2s', maximumInterval: '30s', maximumAttempts: 5 },
  });
  const findings = await acts.findOrphans({ graceSeconds: input.graceSeconds });
  const { removed, released } = await acts.removeOrphans({ due: findings.due, lostContainers: findings.lostContainers, dryRun: input.dryRun });
  // The demo's own route step (idempotent): its edge network, then its name published again.
  let republished = 0;
  if (!input.dryRun) {
    for (const demoId of findings.lostNames) {
      try {
        await acts.connectDemoRoute({ demoId });
        republished++;
      } catch (err) {
        log.warn('could not publish a lost name again; the next pass retries', { demoId, error: String(err) });
      }
    }
  }
  return { ...findings, dryRun: input.dryRun, removed, released, republished };
}
