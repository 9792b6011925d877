/** The reconciler's Temporal Schedule: one per host, created (or updated) when the worker starts. */
import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client } from '@temporalio/client';
import { RECONCILE_WORKFLOW_TYPE, reconcilerScheduleId as scheduleIdOf, taskQueuesFor, type ReconcileInput } from '../contract';
import type { Config } from '../lib/config';
import type { reconcile } from '../workflows/reconcile';

export const reconcilerScheduleId = (config: Config) => scheduleIdOf(config.temporal.queuePrefix, config.hostId);

export function reconcileInput(config: Config, overrides: Partial<ReconcileInput> = {}): ReconcileInput {
  return { hostId: config.hostId, dryRun: config.reconciler.dryRun, graceSeconds: config.reconciler.graceSeconds, ...overrides };
}

/** Creates the schedule, or brings an existing one in line with the configuration. No-op when disabled. */
export async function ensureReconcilerSchedule(client: Client, config: Config): Promise<'created' | 'updated' | 'disabled'> {
  if (config.reconciler.everySeconds === 0) return 'disabled';
  const action = {
    type: 'startWorkflow' as const,
    workflowType: RECONCILE_WORKFLOW_TYPE,
    taskQueue: taskQueuesFor(config.temporal.queuePrefix).shared,
    args: [reconcileInput(config)] as Parameters<typeof reconcile>,
  };
  const spec = { intervals: [{ every: config.reconciler.everySeconds * 1000 }] };
  try {
    await client.schedule.create({
      scheduleId: reconcilerScheduleId(config),
      spec,
      action,
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1m' },
    });
    return 'created';
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
    await client.schedule.getHandle(reconcilerScheduleId(config)).update((prev) => ({ ...prev, spec, action }));
    return 'updated';
  }
}
