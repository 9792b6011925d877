/**
 * One reconciliation pass, started by a Temporal Schedule (`dmx-reconciler`, every minute by
 * default, overlapping runs skipped). Its result — what it found and removed — is visible in the
 * Web UI per run, and the last findings are exported to /metrics through Valkey.
 */
import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { Findings, ReconcilerActivities } from '../activities/reconciler-activities';
import { queuePrefixOf, TASK_QUEUES } from './definitions';

export interface ReconcileInput {
  /** The host whose containers and services this pass checks (its own task queue). */
  hostId: string;
  /** Report only; remove nothing. */
  dryRun: boolean;
  /** How long a resource must have been orphaned before it is removed. */
  graceSeconds: number;
}

export interface ReconcileResult extends Findings { dryRun: boolean; removed: number; released: number }

export async function reconcile(input: ReconcileInput): Promise<ReconcileResult> {
  const prefix = queuePrefixOf(workflowInfo().taskQueue);
  const acts = proxyActivities<ReconcilerActivities>({
    // Inventory and removals touch this host's containers: its own queue.
    taskQueue: prefix + TASK_QUEUES.host(input.hostId),
    startToCloseTimeout: '2m',
    heartbeatTimeout: '10s',
    retry: { initialInterval: '2s', maximumInterval: '30s', maximumAttempts: 5 },
  });
  const findings = await acts.findOrphans({ graceSeconds: input.graceSeconds });
  const { removed, released } = await acts.removeOrphans({ due: findings.due, lostContainers: findings.lostContainers, dryRun: input.dryRun });
  return { ...findings, dryRun: input.dryRun, removed, released };
}
