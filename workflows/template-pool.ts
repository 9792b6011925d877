/**
 * A warm pool per template: keeps `target` demos provisioned and pooled (each lists itself on the
 * template's Valkey ready list, where claims take it without this workflow), refills as its demos
 * report their claims, recycles what aged out or is outdated, backs off while provisioning fails, and continues-as-new
 * before its history grows large. The loop reads: refresh the template -> recycle -> replenish ->
 * (continue-as-new) -> wait for a change. State and message handlers live in PoolRun (pool-run.ts).
 */
import {
  allHandlersFinished, ApplicationFailure, CancellationScope, ChildWorkflowCancellationType, condition, continueAsNew, isCancellation, log,
  ParentClosePolicy, proxyActivities, proxyLocalActivities, startChild, workflowInfo,
} from '@temporalio/workflow';
import type { SharedActivities } from '../activities';
import {
  chainMessage, demoWorkflowId, FAILURE_TYPES, isTemplateName, POOL_HISTORY_LIMIT, POOL_REFILL_HOLD_MS, queuePrefixOf, SEARCH_ATTRIBUTES, taskQueuesFor, type PoolInput,
} from '../contract';
import { demoLifecycle } from './demo-lifecycle';
import { PoolRun } from './pool-run';

/** A provision that never reported back (terminated by hand, say) stops counting after this. */
const PROVISION_STALE_MS = 10 * 60_000;
/** How long the loop sleeps at most when nothing happens. */
const IDLE_WAKE_MS = 60_000;
/** After a failed template read, the next try. */
const TEMPLATE_RETRY_MS = 30_000;

type DescribeTemplate = SharedActivities['describeTemplate'];

export async function templatePool(input: PoolInput): Promise<void> {
  if (!isTemplateName(input.template)) throw ApplicationFailure.nonRetryable(`invalid template name ${input.template}`, FAILURE_TYPES.invalidInput);
  const { historyLimit = POOL_HISTORY_LIMIT.default } = input;
  if (!Number.isInteger(historyLimit) || historyLimit < POOL_HISTORY_LIMIT.min || historyLimit > POOL_HISTORY_LIMIT.max) {
    throw ApplicationFailure.nonRetryable(`historyLimit must be an integer from ${POOL_HISTORY_LIMIT.min} to ${POOL_HISTORY_LIMIT.max}`, FAILURE_TYPES.invalidInput);
  }
  const { refillHoldMs = POOL_REFILL_HOLD_MS.default } = input;
  if (!Number.isInteger(refillHoldMs) || refillHoldMs < POOL_REFILL_HOLD_MS.min || refillHoldMs > POOL_REFILL_HOLD_MS.max) {
    throw ApplicationFailure.nonRetryable(`refillHoldMs must be an integer from ${POOL_REFILL_HOLD_MS.min} to ${POOL_REFILL_HOLD_MS.max}`, FAILURE_TYPES.invalidInput);
  }
  const { describeTemplate } = proxyActivities<SharedActivities>({
    taskQueue: taskQueuesFor(queuePrefixOf(workflowInfo().taskQueue)).shared,
    startToCloseTimeout: '10s',
    retry: { initialInterval: '1s', maximumInterval: '30s', maximumAttempts: 5 },
  });
  const pool = new PoolRun(input);
  try {
    for (;;) {
      if (pool.needTemplate) await refreshTemplate(pool, describeTemplate);
      pool.recycleStaleAndSurplus(Date.now());
      await replenish(pool);
      if (workflowInfo().historyLength > historyLimit || workflowInfo().continueAsNewSuggested) {
        // Updates cannot cross a continue-as-new: let running resizes finish first; nor can the
        // release signals of demos just recycled (pool-run.ts, releasesDelivered).
        await pool.releasesDelivered();
        await condition(allHandlersFinished);
        await continueAsNew<typeof templatePool>({ ...input, target: pool.target, carried: pool.toCarried() });
      }
      await pool.untilWoken(nextWakeMs(pool));
    }
  } catch (err) {
    if (!isCancellation(err)) throw err;
    // An operator cancelled the pool: release what it holds; claimed demos keep running.
    await CancellationScope.nonCancellable(() => pool.releaseAll('pool cancelled'));
    throw err;
  }
}

async function refreshTemplate(pool: PoolRun, describeTemplate: DescribeTemplate): Promise<void> {
  pool.needTemplate = false;
  try {
    const t = await describeTemplate(pool.input.template);
    if (t.version !== pool.templateVersion) log.info('pool template version', { template: pool.input.template, version: t.version });
    pool.templateVersion = t.version;
  } catch (err) {
    pool.lastError = `template ${pool.input.template}: ${chainMessage(err)}`;
    pool.backoffUntil = new Date(Date.now() + TEMPLATE_RETRY_MS).toISOString();
    pool.needTemplate = true;
  }
}

/** Starts the provisions the target and waiting claims need, within the concurrency cap and outside a backoff. */
async function replenish(pool: PoolRun): Promise<void> {
  const now = Date.now();
  pool.expireDemand(now);
  pool.provisioning = pool.provisioning.filter((p) => now - Date.parse(p.startedAt) < PROVISION_STALE_MS);
  const backingOff = pool.backoffUntil !== undefined && Date.parse(pool.backoffUntil) > now;
  const deficit = pool.target + pool.waitingClaims - pool.ready.length - pool.provisioning.length;
  const room = pool.input.maxConcurrentProvisions - pool.provisioning.length;
  if (backingOff || !pool.templateVersion || deficit <= 0 || room <= 0 || pool.refillHeld(now)) return;
  await provision(pool, Math.min(deficit, room));
}

/** Fresh ids from node:crypto; a few random bytes need no task queue round trip, and the result is recorded in history. */
const { generateDemoIds } = proxyLocalActivities<SharedActivities>({
  startToCloseTimeout: '5s',
  retry: { initialInterval: '100ms', maximumInterval: '2s', maximumAttempts: 10 },
});

async function provision(pool: PoolRun, count: number): Promise<void> {
  const { input } = pool;
  // Never the workflow's uuid4(): it is a PRNG seeded from the run id, so ids would be predictable.
  const ids = await generateDemoIds({ count });
  for (const demoId of ids) pool.provisioning.push({ demoId, startedAt: new Date().toISOString() });
  pool.counters.started += ids.length;
  const self = workflowInfo();
  // Not interruptible: a cancel that reached the pool while a start was in flight left that
  // start's promise unsettled (the child started anyway) and the pool stuck here for good, still
  // answering Updates (seen by test/api/schemathesis.test.ts' clean-up). The cancel is seen at the
  // pool's next wait instead, a moment later.
  await CancellationScope.nonCancellable(() => Promise.all(ids.map(async (demoId) => {
    try {
      await startChild(demoLifecycle, {
        workflowId: demoWorkflowId(demoId),
        taskQueue: self.taskQueue,
        // The demos outlive this run (continue-as-new) and even the pool; cancelling the pool
        // must not cancel the demos users hold (unclaimed ones are released explicitly).
        parentClosePolicy: ParentClosePolicy.ABANDON,
        cancellationType: ChildWorkflowCancellationType.ABANDON,
        typedSearchAttributes: [
          { key: SEARCH_ATTRIBUTES.kind, value: 'demo' },
          { key: SEARCH_ATTRIBUTES.template, value: input.template },
        ],
        args: [{
          demoId, template: input.template, ttlSeconds: input.maxTtlSeconds,
          maxLifetimeSeconds: input.maxLifetimeSeconds + input.unclaimedMaxAgeSeconds * 2,
          requestedBy: self.workflowId, pool: { workflowId: self.workflowId },
        }],
      });
    } catch (err) {
      pool.provisioning = pool.provisioning.filter((p) => p.demoId !== demoId);
      pool.lastError = `could not start demo ${demoId}: ${chainMessage(err)}`;
      log.error('starting a pooled demo failed', { demoId, error: chainMessage(err) });
    }
  })));
}

/** The next moment something is due: a pooled demo ages out, a backoff ends, a wait for a demo ends, or the idle wake. */
function nextWakeMs(pool: PoolRun): number {
  const timers = [IDLE_WAKE_MS];
  // Only a backoff still running: the last one's end stays recorded (stats) until a demo is pooled,
  // and a past end here meant a 10 ms timer on every pass, a hot loop while provisions ran.
  const backoffLeft = pool.backoffUntil ? Date.parse(pool.backoffUntil) - Date.now() : 0;
  if (backoffLeft > 0) timers.push(backoffLeft);
  if (pool.refillHeld(Date.now())) timers.push(pool.refillHoldUntil! - Date.now() + 1);
  const demandEnds = pool.expireDemand(Date.now());
  if (demandEnds !== undefined) timers.push(demandEnds - Date.now() + 1);
  for (const d of pool.ready) timers.push(Date.parse(d.readyAt!) + pool.input.unclaimedMaxAgeSeconds * 1000 - Date.now() + 1);
  return Math.max(10, Math.min(...timers));
}
