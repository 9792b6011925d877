/**
 * A warm pool per template: keeps `target` demos provisioned and unclaimed (status `pooled`), hands
 * exactly one to each claim (an Update, so one caller gets one demo), replenishes as demos are
 * claimed, expire or fail, recycles demos nobody claimed in time or of an outdated template
 * version, and continues-as-new before its history grows large.
 */
import {
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  ChildWorkflowCancellationType,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  isCancellation,
  log,
  ParentClosePolicy,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  sleep,
  startChild,
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';
import type { SharedActivities } from '../activities';
import {
  CLAIM_WAIT_BUCKETS_MS,
  demoIdFromBytes,
  demoWorkflowId,
  isTemplateName,
  MAX_CLAIM_WAIT_SECONDS,
  MAX_POOL_TARGET,
  taskQueuesFor,
  claimDemoUpdate,
  demoClaimedSignal,
  demoEndedSignal,
  demoPooledSignal,
  FAILURE_TYPES,
  poolStatsQuery,
  queuePrefixOf,
  refreshTemplateSignal,
  releaseDemoSignal,
  SEARCH_ATTRIBUTES,
  setPoolTargetUpdate,
  type ClaimDemoRequest,
  type DemoState,
  type PoolCarriedState,
  type PoolInput,
  type PoolStats,
} from '../contract';
import { demoLifecycle } from './demo-lifecycle';

/** Patch id: claims answer without waiting for the claim signal's delivery. */
const CLAIM_WITHOUT_WAITING = 'claim-without-waiting';
/** Patch id: replacements are started one workflow task after the claims are answered. */
const PROVISION_AFTER_ANSWER = 'provision-after-answer';
/** Patch id: cancelling a pool also releases the demos it is still provisioning. */
const RELEASE_PROVISIONING_ON_CANCEL = 'release-provisioning-on-cancel';
/**
 * Patch id: pooled demo ids come from an activity (node:crypto). The workflow's uuid4() is a PRNG
 * seeded from the run, so ids made with it could be predicted from a run id (issue 10, item 5).
 */
const DEMO_IDS_FROM_CRYPTO = 'demo-ids-from-crypto';
/** Continue-as-new past this many events (well below Temporal's 50k limit; replay stays fast). */
const HISTORY_LIMIT = 5_000;
/** A provision that never reported back (terminated by hand, say) stops counting after this. */
const PROVISION_STALE_MS = 10 * 60_000;

export async function templatePool(input: PoolInput): Promise<void> {
  if (!isTemplateName(input.template)) throw ApplicationFailure.nonRetryable(`invalid template name ${input.template}`, FAILURE_TYPES.invalidInput);
  const { describeTemplate } = proxyActivities<SharedActivities>({
    taskQueue: taskQueuesFor(queuePrefixOf(workflowInfo().taskQueue)).shared,
    startToCloseTimeout: '10s',
    retry: { initialInterval: '1s', maximumInterval: '30s', maximumAttempts: 5 },
  });

  // Local: a few random bytes need no task queue round trip; the result is recorded in history.
  const { generateDemoIds } = proxyLocalActivities<SharedActivities>({
    startToCloseTimeout: '5s',
    retry: { initialInterval: '100ms', maximumInterval: '2s', maximumAttempts: 10 },
  });

  const c: PoolCarriedState = input.carried ?? {
    ready: [],
    provisioning: [],
    counters: { started: 0, claimed: 0, failed: 0, recycled: 0, noCapacity: 0 },
    claimWaitBuckets: Array(CLAIM_WAIT_BUCKETS_MS.length + 1).fill(0),
    consecutiveFailures: 0,
  };
  let target = input.target;
  let waitingClaims = 0;
  let needTemplate = c.templateVersion === undefined;
  let wakeups = 0;
  const wake = () => void wakeups++;

  const stats = (): PoolStats => ({
    ...input,
    carried: undefined,
    target,
    templateVersion: c.templateVersion,
    ready: c.ready.length,
    readyDemoIds: c.ready.map((d) => d.demoId),
    provisioning: c.provisioning.length,
    waitingClaims,
    counters: { ...c.counters },
    consecutiveFailures: c.consecutiveFailures,
    backoffUntil: c.backoffUntil,
    lastError: c.lastError,
    claimWait: c.claimWaitBuckets.map((count, i) => ({ le: i < CLAIM_WAIT_BUCKETS_MS.length ? CLAIM_WAIT_BUCKETS_MS[i]! : '+Inf' as const, count })),
  } as PoolStats);

  setHandler(poolStatsQuery, stats);

  setHandler(demoPooledSignal, (demo: DemoState) => {
    c.provisioning = c.provisioning.filter((p) => p.demoId !== demo.demoId);
    c.consecutiveFailures = 0;
    c.backoffUntil = undefined;
    c.ready.push(demo);
    // A demo of a version this pool has not heard of: a new checkpoint was taken without telling
    // the pool. Re-read the template rather than recycle the new demos as outdated.
    if (demo.templateVersion !== c.templateVersion) needTemplate = true;
    wake();
  });

  setHandler(demoEndedSignal, (e) => {
    const wasProvisioning = c.provisioning.some((p) => p.demoId === e.demoId);
    c.provisioning = c.provisioning.filter((p) => p.demoId !== e.demoId);
    c.ready = c.ready.filter((d) => d.demoId !== e.demoId);
    if (e.outcome === 'failed' && !e.wasReady && wasProvisioning) {
      c.counters.failed++;
      c.consecutiveFailures++;
      c.lastError = e.error ?? 'provisioning failed';
      // Back off exponentially while provisioning keeps failing: 2 s, 4 s, ... up to 5 min.
      c.backoffUntil = new Date(Date.now() + Math.min(300_000, 1_000 * 2 ** c.consecutiveFailures)).toISOString();
    }
    wake();
  });

  setHandler(refreshTemplateSignal, () => {
    needTemplate = true;
    wake();
  });

  setHandler(setPoolTargetUpdate, ({ target: t }) => {
    target = t;
    wake();
    return stats();
  }, {
    validator: (req) => {
      if (!req || !Number.isInteger(req.target) || req.target < 0 || req.target > MAX_POOL_TARGET) {
        throw ApplicationFailure.nonRetryable(`target must be an integer from 0 to ${MAX_POOL_TARGET}`, FAILURE_TYPES.invalidInput);
      }
    },
  });

  setHandler(claimDemoUpdate, async (req: ClaimDemoRequest) => {
    const started = Date.now();
    const deadline = started + (req.waitSeconds ?? 0) * 1000;
    waitingClaims++;
    wake();
    try {
      for (;;) {
        if (c.ready.length === 0) {
          const remaining = deadline - Date.now();
          if (remaining <= 0 || !(await condition(() => c.ready.length > 0, remaining))) {
            c.counters.noCapacity++;
            throw noCapacity(req);
          }
          // Several waiting claims wake for the same demo: look again before taking it.
          continue;
        }
        // Oldest first: every pooled demo gets handed out before it ages out.
        const demo = c.ready.shift()!;
        const claimedAt = Date.now();
        const expiresAt = new Date(claimedAt + req.ttlSeconds * 1000).toISOString();
        const maxExpiresAt = new Date(claimedAt + input.maxLifetimeSeconds * 1000).toISOString();
        const claimSignal = getExternalWorkflowHandle(demoWorkflowId(demo.demoId))
          .signal(demoClaimedSignal, { expiresAt, maxExpiresAt, requestedBy: req.requestedBy });
        if (patched(CLAIM_WITHOUT_WAITING)) {
          // Answer at once: waiting for the signal's delivery cost two workflow tasks (~150 ms) per
          // claim. A pooled demo ends unclaimed only when an operator cancels it, and its
          // demoEnded signal takes it out of `ready` within milliseconds; a claim inside that
          // window gets a demo that is being torn down (logged here), a risk judged smaller than
          // making every claim wait.
          claimSignal.catch((err) => log.warn('claim signal not delivered: the demo had ended', { demoId: demo.demoId, error: String(err) }));
        } else {
          try {
            await claimSignal;
          } catch (err) {
            // The demo ended meanwhile (operator cancel): not handed out; try the next one.
            log.warn('pooled demo gone at claim time', { demoId: demo.demoId, error: String(err) });
            wake();
            continue;
          }
        }
        c.counters.claimed++;
        observeClaimWait(Date.now() - started);
        wake();
        return { ...demo, status: 'ready' as const, expiresAt, maxExpiresAt };
      }
    } finally {
      waitingClaims--;
    }
  }, {
    validator: (req: ClaimDemoRequest) => {
      if (!req || !Number.isInteger(req.ttlSeconds) || req.ttlSeconds < input.minTtlSeconds || req.ttlSeconds > input.maxTtlSeconds) {
        throw ApplicationFailure.nonRetryable(`ttlSeconds must be an integer from ${input.minTtlSeconds} to ${input.maxTtlSeconds}`, FAILURE_TYPES.invalidInput);
      }
      if (req.waitSeconds !== undefined && (!Number.isInteger(req.waitSeconds) || req.waitSeconds < 0 || req.waitSeconds > MAX_CLAIM_WAIT_SECONDS)) {
        throw ApplicationFailure.nonRetryable(`waitSeconds must be an integer from 0 to ${MAX_CLAIM_WAIT_SECONDS}`, FAILURE_TYPES.invalidInput);
      }
      if (!req.waitSeconds && c.ready.length === 0) {
        // Refused before it is accepted: nothing is written to the history, so a burst of claims
        // against an empty pool costs the pool almost nothing. (Not counted here: a validator must
        // not change state; the API counts these answers.)
        throw noCapacity(req);
      }
    },
  });

  function noCapacity(req: ClaimDemoRequest): ApplicationFailure {
    return ApplicationFailure.create({
      type: FAILURE_TYPES.noCapacity,
      nonRetryable: true,
      message: `no ready ${input.template} demo${req.waitSeconds ? ` within ${req.waitSeconds} s` : ''}`,
      details: [{ retryAfterSeconds: retryAfterSeconds() }],
    });
  }

  function observeClaimWait(ms: number): void {
    const i = CLAIM_WAIT_BUCKETS_MS.findIndex((le) => ms <= le);
    c.claimWaitBuckets[i === -1 ? CLAIM_WAIT_BUCKETS_MS.length : i]!++;
  }

  function retryAfterSeconds(): number {
    if (c.backoffUntil) return Math.max(1, Math.ceil((Date.parse(c.backoffUntil) - Date.now()) / 1000));
    return c.provisioning.length > 0 ? 2 : 5;
  }

  function recycle(demo: DemoState, why: string): void {
    c.ready = c.ready.filter((d) => d.demoId !== demo.demoId);
    c.counters.recycled++;
    log.info('recycling a pooled demo', { demoId: demo.demoId, why });
    // Fire and forget: the demo tears itself down; a failed signal means it is gone already.
    getExternalWorkflowHandle(demoWorkflowId(demo.demoId))
      .signal(releaseDemoSignal, { reason: `recycled: ${why}` })
      .catch((err) => log.warn('recycle signal failed', { demoId: demo.demoId, error: String(err) }));
  }

  /** Only to replay histories recorded before DEMO_IDS_FROM_CRYPTO. */
  function predictableDemoId(): string {
    const hex = uuid4().replace(/-/g, '');
    const bytes = Array.from({ length: 16 }, (_, i) => parseInt(hex.slice(i * 2, i * 2 + 2), 16));
    return demoIdFromBytes(bytes);
  }

  async function provision(count: number): Promise<void> {
    const ids = patched(DEMO_IDS_FROM_CRYPTO)
      ? await generateDemoIds({ count })
      : Array.from({ length: count }, () => predictableDemoId());
    for (const demoId of ids) c.provisioning.push({ demoId, startedAt: new Date().toISOString() });
    c.counters.started += ids.length;
    await Promise.all(ids.map(async (demoId) => {
      try {
        await startChild(demoLifecycle, {
          workflowId: demoWorkflowId(demoId),
          taskQueue: workflowInfo().taskQueue,
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
            requestedBy: workflowInfo().workflowId, pool: { workflowId: workflowInfo().workflowId },
          }],
        });
      } catch (err) {
        c.provisioning = c.provisioning.filter((p) => p.demoId !== demoId);
        c.lastError = `could not start demo ${demoId}: ${String(err)}`;
        log.error('starting a pooled demo failed', { demoId, error: String(err) });
      }
    }));
  }

  try {
    await maintain();
  } catch (err) {
    if (!isCancellation(err)) throw err;
    // An operator cancelled the pool: recycle what it holds. Demos still provisioning find the
    // pool gone when they report, and release themselves.
    await CancellationScope.nonCancellable(async () => {
      const held = [...c.ready];
      // Demos still provisioning are released too: one whose "pooled" signal crosses the cancel
      // would otherwise wait for a claim that never comes.
      if (patched(RELEASE_PROVISIONING_ON_CANCEL)) held.push(...c.provisioning.map((p) => ({ demoId: p.demoId }) as DemoState));
      await Promise.all(held.map((d) => getExternalWorkflowHandle(demoWorkflowId(d.demoId))
        .signal(releaseDemoSignal, { reason: 'pool cancelled' })
        .catch((e) => log.warn('release on pool cancel failed', { demoId: d.demoId, error: String(e) }))));
      c.ready = [];
      c.counters.recycled += held.length;
    });
    throw err;
  }

  async function maintain(): Promise<never> {
    for (;;) {
      const now = Date.now();
      if (needTemplate) {
        needTemplate = false;
        try {
          const t = await describeTemplate(input.template);
          if (t.version !== c.templateVersion) log.info('pool template version', { template: input.template, version: t.version });
          c.templateVersion = t.version;
        } catch (err) {
          c.lastError = `template ${input.template}: ${String(err)}`;
          c.backoffUntil = new Date(Date.now() + 30_000).toISOString();
          needTemplate = true;
        }
      }
      // Fresh and current only: recycle what aged out or belongs to an older checkpoint.
      for (const d of [...c.ready]) {
        // Only against a version read just now (needTemplate is false after a successful read).
        if (c.templateVersion && !needTemplate && d.templateVersion !== c.templateVersion) recycle(d, `template version ${d.templateVersion} replaced by ${c.templateVersion}`);
        else if (now - Date.parse(d.readyAt!) > input.unclaimedMaxAgeSeconds * 1000) recycle(d, 'unclaimed too long');
      }
      // Shrink when the target went down (oldest first).
      while (c.ready.length > target + waitingClaims) recycle(c.ready[0]!, `pool target lowered to ${target}`);
      c.provisioning = c.provisioning.filter((p) => now - Date.parse(p.startedAt) < PROVISION_STALE_MS);

      const backingOff = c.backoffUntil !== undefined && Date.parse(c.backoffUntil) > now;
      const deficit = target + waitingClaims - c.ready.length - c.provisioning.length;
      const room = input.maxConcurrentProvisions - c.provisioning.length;
      if (!backingOff && c.templateVersion && deficit > 0 && room > 0) {
        // Start the replacements in the next workflow task: the server writes a child workflow per
        // start before it completes the task, and the claim that caused them waits for that task.
        if (patched(PROVISION_AFTER_ANSWER)) await sleep(1);
        await provision(Math.min(deficit, room));
      }

      if (workflowInfo().historyLength > HISTORY_LIMIT || workflowInfo().continueAsNewSuggested) {
        // Updates cannot cross a continue-as-new: let running claims finish first.
        await condition(allHandlersFinished);
        await continueAsNew<typeof templatePool>({ ...input, target, carried: c });
      }

      // Sleep until something changes, the next pooled demo ages out, or a backoff ends.
      const timers = [60_000];
      if (c.backoffUntil) timers.push(Date.parse(c.backoffUntil) - Date.now());
      for (const d of c.ready) timers.push(Date.parse(d.readyAt!) + input.unclaimedMaxAgeSeconds * 1000 - Date.now() + 1);
      const seen = wakeups;
      await condition(() => wakeups !== seen, Math.max(10, Math.min(...timers)));
    }
  }
}
