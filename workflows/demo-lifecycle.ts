/**
 * One workflow per demo, in three phases: provision (restore + configure + route beside data +
 * identity, then a check through Caddy) -> hold (a pooled demo waits for its claim; then the TTL,
 * extendable and releasable) -> teardown (container and with it the route, then data and index at
 * once). Teardown runs whatever happened before (failure, release, expiry, operator cancel) in a non-cancellable scope; every step is idempotent, so a repeated or resumed
 * teardown is harmless. State and message handlers live in DemoRun (demo-run.ts).
 */
import { ApplicationFailure, CancellationScope, isCancellation, log, workflowInfo } from '@temporalio/workflow';
import {
  chainMessage, demoClaimAckedSignal, demoEndedSignal, demoPooledSignal, FAILURE_TYPES, isDemoId, isTemplateName, queuePrefixOf,
  type DemoLifecycleInput, type DemoState, type DemoStatus,
} from '../contract';
import { activityQueues, type DemoActivityQueues } from './demo-activity-proxies';
import { DemoRun } from './demo-run';

export async function demoLifecycle(input: DemoLifecycleInput): Promise<DemoState> {
  if (!isDemoId(input.demoId) || !isTemplateName(input.template) || !(input.ttlSeconds > 0) || !(input.maxLifetimeSeconds >= input.ttlSeconds)) {
    throw ApplicationFailure.nonRetryable(`invalid demo input ${JSON.stringify(input).slice(0, 300)}`, FAILURE_TYPES.invalidInput);
  }
  const acts = activityQueues();
  const demo = new DemoRun(input, acts.notifier);
  let outcome: DemoStatus;
  let failure: unknown;
  try {
    await provision(demo, acts);
    await hold(demo, acts);
    outcome = demo.holdOutcome;
  } catch (err) {
    failure = err;
    outcome = isCancellation(err) ? 'cancelled' : 'failed';
    if (outcome === 'failed') {
      demo.state.error = chainMessage(err);
      log.error('provisioning failed; cleaning up', { demoId: input.demoId, error: demo.state.error });
    }
  }
  await CancellationScope.nonCancellable(() => teardown(demo, acts, outcome));
  // Rethrown after the cleanup, so the run shows as "Canceled" in the Web UI and CLI.
  if (outcome === 'cancelled') throw failure;
  if (outcome === 'failed') {
    throw ApplicationFailure.create({
      type: FAILURE_TYPES.provisioningFailed, message: `demo ${input.demoId} could not be provisioned: ${demo.state.error}`, nonRetryable: true, cause: failure as Error,
    });
  }
  return demo.state;
}

/**
 * Container and data in parallel, then a check through Caddy. The container's branch restores it,
 * configures its app and leaves it on the edge network (one activity on the host that holds it);
 * the data's branch takes a stocked copy of the template's data (or clones one) and applies the
 * demo's identity to it (one activity). Both start in the workflow's first task. The check is a
 * local activity: it runs in the workflow task that saw both branches end, and the demo is ready
 * in the task after it, with no task queue round trip between (~30 ms of a cold provision).
 */
async function provision(demo: DemoRun, acts: DemoActivityQueues): Promise<void> {
  const { input, state } = demo;
  const id = { demoId: input.demoId, template: input.template };
  const [restored, access] = await demo.step('containerAndData', () => bothEnded(
    acts.restore.restoreDemoContainer(id).then((r) => {
      // Recorded as soon as it is known, so teardown reaches the right host even if the data fails.
      state.host = r.host;
      state.container = r.container;
      return r;
    }),
    acts.shared.createDemoData({ ...id, generation: demo.generation }).then((d) => {
      state.database = d.database;
      return d;
    }),
  ));
  // The version of the checkpoint actually restored (a new one may have been taken meanwhile).
  state.templateVersion = restored.templateVersion;
  state.restoreMethod = restored.method;
  demo.publish();
  // A cold boot (podman run) may take a while before its first answer.
  if (restored.method === 'run') await demo.step('verifyDemoServes', () => acts.onHost(restored.host).verifyDemoServes({ demoId: input.demoId, bootSeconds: 60 }));
  // The template's back-office details are needed only now: read beside the check, in the same
  // workflow task (both local), not in front of the restore.
  const [template] = await Promise.all([
    demo.step('describeTemplate', () => acts.local.describeTemplate(input.template)),
    demo.step('verifyDemoRouted', () => acts.localProvisioning.verifyDemoRouted({ demoId: input.demoId })),
  ]);
  demo.webhooks = template.webhooks;
  state.readyAt = new Date().toISOString();
  state.url = access.url;
  state.adminUrl = `${access.url.replace(/\/$/, '')}${template.adminPath}/`;
  state.credentials = { email: template.adminEmail, password: access.adminPassword };
}

/**
 * Both results, like Promise.all, but a failure is thrown only once the other step has ended too:
 * teardown must not start while a step still runs (a restore finishing after its container was
 * removed would leak the container).
 */
async function bothEnded<A, B>(a: Promise<A>, b: Promise<B>): Promise<[A, B]> {
  const [ra, rb] = await Promise.allSettled([a, b]);
  if (ra.status === 'rejected') throw ra.reason;
  if (rb.status === 'rejected') throw rb.reason;
  return [ra.value, rb.value];
}

/**
 * A pooled demo is listed in Valkey, then waits for its claim (or its release); then, held by
 * someone, until expiry or release. Claims never reach the pool: the claimer pops the demo off the
 * ready list in Valkey and signals this workflow (demoClaimed); this workflow acknowledges it (no
 * more re-deliveries) and then tells the pool, whose stats and refill follow.
 */
async function hold(demo: DemoRun, acts: DemoActivityQueues): Promise<void> {
  const { state } = demo;
  if (demo.isPooled) {
    demo.becomePooled();
    // Listed first, then the pool is told: a demo the pool counts as ready is claimable. When the
    // pool is gone the demo withdraws itself below (a claim in between wins).
    await acts.claims.publishPooledDemo({
      queuePrefix: claimScope(), demoId: state.demoId, template: state.template, templateVersion: state.templateVersion,
      createdAt: state.createdAt, readyAt: state.readyAt!, maxExpiresAt: state.maxExpiresAt,
    });
    if (!(await demo.notifyPool(demoPooledSignal, { ...state }))) demo.release('pool gone', true);
    await demo.waitForClaim();
    // Released (recycled, pool gone) or at the lifetime cap while listed: off the list before
    // anything is torn down, so it is never handed out while being torn down.
    if (!demo.claimed) await withdrawFromReadyList(demo, acts);
    if (demo.claimed) {
      const claim = demo.claim!;
      await acts.claims.acknowledgeClaim({ queuePrefix: claimScope(), demoId: state.demoId, claimId: claim.claimId });
      await demo.notifyPool(demoClaimAckedSignal, { demoId: state.demoId, deliveryMs: Math.max(0, Date.now() - Date.parse(claim.claimedAt)) });
    }
  } else {
    demo.startTtl();
  }
  if (demo.isHeld) {
    await acts.shared.recordDemo({ demoId: state.demoId, url: state.url!, expiresAt: state.expiresAt!, template: state.template });
    log.info(demo.isPooled ? 'pooled demo claimed' : 'demo ready', { demoId: state.demoId, url: state.url, expiresAt: state.expiresAt, stepMs: state.stepMs });
    demo.notify('demo.ready');
  }
  for (;;) {
    await demo.untilExpiredOrReleased();
    const reset = demo.takeReset();
    if (!reset) return;
    await resetToTemplate(demo, acts, reset);
  }
}

/** The claim store's keys are this deployment's (test suites share one Valkey): its task queue prefix. */
function claimScope(): string {
  return queuePrefixOf(workflowInfo().taskQueue);
}

/**
 * Invariant withdraw-before-teardown: a pooled demo leaves the ready list (atomically, in Valkey)
 * before anything else happens to it. When a claim got there first it wins: the claim is applied.
 */
async function withdrawFromReadyList(demo: DemoRun, acts: DemoActivityQueues): Promise<void> {
  const w = await acts.claims.withdrawPooledDemo({ queuePrefix: claimScope(), demoId: demo.input.demoId, template: demo.input.template });
  if (w.state === 'claimed' && w.claim && !demo.claimed) demo.applyClaim(w.claim);
  demo.withdrawn = true;
}

/**
 * Back to the template's state for the same holder: container and data removed, then provisioned
 * again under the same id (same URL), with the next password generation; the expiry is unchanged.
 * The name stays published meanwhile: a visitor gets "one moment", never "this demo has ended".
 */
async function resetToTemplate(demo: DemoRun, acts: DemoActivityQueues, requestId: string): Promise<void> {
  const { demoId } = demo.input;
  demo.beginReset();
  await Promise.all([
    (demo.state.host ? acts.onHostTeardown(demo.state.host) : acts.restoreTeardown).removeDemoContainer({ demoId, keepName: true }),
    acts.sharedTeardown.dropDemoData({ demoId }),
  ]);
  await provision(demo, acts);
  demo.resetDone(requestId);
  log.info('demo reset', { demoId, generation: demo.generation });
}

/**
 * The container first: its name is withdrawn (out of routing: the ended page at once), then its
 * processes are killed while it is still on the edge network, which closes Caddy's kept-alive
 * connections to it. Taking it off the edge network first (`network disconnect`) left
 * those connections open towards an address that no longer answered, and a visitor's request on
 * one waited until the client gave up (the ~10 s hangs the benchmark saw). Then data and index at
 * once; the pool is told meanwhile. Each step is retried until it succeeds.
 */
async function teardown(demo: DemoRun, acts: DemoActivityQueues, outcome: DemoStatus): Promise<void> {
  const { input, state } = demo;
  const { demoId } = input;
  // Cancelled while listed (operator cancel): off the ready list first. The cancel counts as
  // acknowledged once the status leaves `pooled` below; no claim can take the demo after that.
  if (demo.isPooled && state.status === 'pooled' && !demo.withdrawn) await withdrawFromReadyList(demo, acts);
  demo.withdrawn = true;
  const wasReady = state.readyAt !== undefined;
  demo.setStatus('tearing_down');
  const poolTold = demo.isPooled ? demo.notifyPool(demoEndedSignal, { demoId, outcome, error: state.error, wasReady }) : undefined;
  const t0 = Date.now();
  // Out of routing at once on the host's routing queue, beside the container's removal (which
  // withdraws the name first too, but may wait behind other removals on the host's queue).
  const routedOut = state.host ? acts.routingTeardown(state.host).withdrawDemoName({ demoId }) : undefined;
  // Without a recorded host the restore may still have created the container on the host that
  // took it; the restore queue reaches a host that can remove it (single-host installs: this one).
  await (state.host ? acts.onHostTeardown(state.host) : acts.restoreTeardown).removeDemoContainer({ demoId });
  // The claim record and any pending delivery go with the demo (the leak check looks for them).
  const claimRecordGone = demo.isPooled ? acts.claims.forgetPooledDemo({ queuePrefix: claimScope(), demoId }) : undefined;
  await Promise.all([acts.sharedTeardown.dropDemoData({ demoId }), acts.sharedTeardown.forgetDemo({ demoId }), claimRecordGone, poolTold, routedOut]);
  state.stepMs.teardown = Date.now() - t0;
  state.endedAt = new Date().toISOString();
  if (outcome === 'released') log.info('demo released', { demoId, reason: demo.releaseReason });
  demo.setStatus(outcome);
  // Someone held this demo: tell them it is gone, and wait (bounded) for every delivery.
  if (wasReady && demo.isHeld) demo.notify('demo.expired', outcome);
  await demo.notificationsDone();
}
