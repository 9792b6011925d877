/**
 * One workflow per demo: restore -> identity (data, domain, secrets, caches) -> route -> ready ->
 * TTL (extendable, releasable) -> remove route -> drop data -> remove container. Teardown runs
 * whatever happened before (failure, release, expiry, operator cancel) in a non-cancellable
 * scope; every step is idempotent, so a repeated or resumed teardown is harmless.
 */
import {
  ApplicationFailure,
  CancellationScope,
  condition,
  getExternalWorkflowHandle,
  isCancellation,
  log,
  patched,
  setHandler,
  workflowInfo,
  upsertSearchAttributes,
  type SignalDefinition,
} from '@temporalio/workflow';
import type { WebhookEvent } from '../activities/notifications';
import {
  awaitDemoReadyUpdate,
  chainMessage,
  demoClaimedSignal,
  demoEndedSignal,
  demoPooledSignal,
  demoStateQuery,
  extendDemoUpdate,
  FAILURE_TYPES,
  isDemoId,
  isTemplateName,
  releaseDemoSignal,
  releaseDemoUpdate,
  REQUEST_ID_FORMAT,
  REQUEST_ID_PATTERN,
  SEARCH_ATTRIBUTES,
  type DemoLifecycleInput,
  type DemoState,
  type DemoStatus,
  type ExtendDemoRequest,
} from '../contract';
import { activityQueues } from './demo-activity-proxies';

/** Patch id of the provisioning speed-ups (local describeTemplate, DB identity beside the restore). */
const FASTER_PROVISIONING = 'faster-provisioning-v1';
/** Patch id: route connected beside the app's configuration; the pool told during teardown, not before. */
const FASTER_PROVISIONING_V2 = 'faster-provisioning-v2';

export async function demoLifecycle(input: DemoLifecycleInput): Promise<DemoState> {
  if (!isDemoId(input.demoId) || !isTemplateName(input.template) || !(input.ttlSeconds > 0) || !(input.maxLifetimeSeconds >= input.ttlSeconds)) {
    throw ApplicationFailure.nonRetryable(`invalid demo input ${JSON.stringify(input).slice(0, 300)}`, FAILURE_TYPES.invalidInput);
  }
  const { shared, local, sharedTeardown, restore, restoreTeardown, onHost, onHostTeardown, notifier } = activityQueues();
  const createdMs = Date.now();
  const state: DemoState = {
    demoId: input.demoId,
    template: input.template,
    status: 'provisioning',
    createdAt: new Date(createdMs).toISOString(),
    maxExpiresAt: new Date(createdMs + input.maxLifetimeSeconds * 1000).toISOString(),
    stepMs: {},
    extendRequests: [],
  };
  let expiresMs = 0;
  let released = false;
  let releaseReason = '';
  /** Bumped on every change the TTL wait must notice. */
  let wakeups = 0;

  setHandler(demoStateQuery, () => state);
  setHandler(awaitDemoReadyUpdate, async () => {
    await condition(() => state.status !== 'provisioning');
    return state;
  });

  setHandler(
    extendDemoUpdate,
    (req: ExtendDemoRequest) => {
      if (req.requestId && state.extendRequests.includes(req.requestId)) return { expiresAt: state.expiresAt! };
      expiresMs += req.seconds * 1000;
      state.expiresAt = new Date(expiresMs).toISOString();
      if (req.requestId) state.extendRequests.push(req.requestId);
      wakeups++;
      publish();
      return { expiresAt: state.expiresAt };
    },
    {
      // Synchronous: the SDK ignores a promise returned by a validator.
      validator: (req: ExtendDemoRequest) => {
        if (!req || !Number.isInteger(req.seconds) || req.seconds < 1) {
          throw ApplicationFailure.nonRetryable('seconds must be a positive integer', FAILURE_TYPES.invalidInput);
        }
        if (req.requestId !== undefined && !REQUEST_ID_PATTERN.test(req.requestId)) {
          throw ApplicationFailure.nonRetryable(`requestId must match ${REQUEST_ID_FORMAT}`, FAILURE_TYPES.invalidInput);
        }
        if (req.requestId && state.extendRequests.includes(req.requestId)) return; // a retry: answered as before
        if (state.status !== 'ready' || released) {
          throw ApplicationFailure.nonRetryable(`demo ${state.demoId} is ${released ? 'released' : state.status}, not ready`, FAILURE_TYPES.notReady);
        }
        const wanted = expiresMs + req.seconds * 1000;
        if (wanted > Date.parse(state.maxExpiresAt)) {
          throw ApplicationFailure.nonRetryable(
            `extending by ${req.seconds} s would end the demo at ${new Date(wanted).toISOString()}, past its maximum lifetime (${state.maxExpiresAt})`,
            FAILURE_TYPES.maxLifetimeExceeded,
          );
        }
      },
    },
  );

  const release = (reason?: string) => {
    if (!released) {
      released = true;
      releaseReason = (reason ?? 'released').slice(0, 200);
      wakeups++;
    }
  };
  setHandler(releaseDemoUpdate, (req) => {
    release(req?.reason);
    return state;
  });
  setHandler(releaseDemoSignal, (req) => release(req?.reason));

  let claimed = false;
  setHandler(demoClaimedSignal, (claim) => {
    // Only the pool claims, and only demos it holds as pooled; anything else is a stale signal.
    if (!input.pool || claimed || released || state.status !== 'pooled') {
      log.warn('ignoring a claim', { demoId: input.demoId, status: state.status, released });
      return;
    }
    claimed = true;
    expiresMs = Date.parse(claim.expiresAt);
    state.expiresAt = claim.expiresAt;
    state.maxExpiresAt = claim.maxExpiresAt;
    wakeups++;
    setStatus('ready');
  });

  /** Signals the owning pool; false when it is gone (the demo then does not wait for a claim). */
  async function notifyPool<T extends unknown[]>(signal: SignalDefinition<T>, ...args: T): Promise<boolean> {
    try {
      await getExternalWorkflowHandle(input.pool!.workflowId).signal(signal, ...args);
      return true;
    } catch (err) {
      log.warn('could not signal the pool', { demoId: input.demoId, pool: input.pool!.workflowId, error: chainMessage(err) });
      return false;
    }
  }

  function publish(): void {
    upsertSearchAttributes([
      { key: SEARCH_ATTRIBUTES.status, value: state.status },
      ...(state.host ? [{ key: SEARCH_ATTRIBUTES.host, value: state.host }] : []),
      ...(state.expiresAt ? [{ key: SEARCH_ATTRIBUTES.expiresAt, value: new Date(state.expiresAt) }] : []),
    ]);
  }
  function setStatus(status: DemoStatus): void {
    state.status = status;
    publish();
  }
  async function step<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const t0 = Date.now();
    const out = await fn();
    state.stepMs[name] = Date.now() - t0;
    return out;
  }

  /** Lifecycle webhooks, when configured (decided by describeTemplate, recorded in history). */
  let webhooks: { expiringSeconds: number } | undefined;
  const deliveries: Promise<unknown>[] = [];
  let deliveriesSent = 0;
  function notify(event: WebhookEvent, outcome?: DemoStatus): void {
    if (!webhooks) return;
    const deliveryId = `${workflowInfo().workflowId}:${event}:${++deliveriesSent}`;
    deliveries.push(notifier.sendWebhook({
      event, deliveryId,
      demo: { id: state.demoId, template: state.template, status: state.status, url: state.url, expiresAt: state.expiresAt, endedAt: state.endedAt, outcome },
    }).catch((err) => log.warn('webhook not delivered', { demoId: state.demoId, event, error: chainMessage(err) })));
  }

  upsertSearchAttributes([
    { key: SEARCH_ATTRIBUTES.kind, value: 'demo' },
    { key: SEARCH_ATTRIBUTES.template, value: input.template },
  ]);
  publish();

  const id = { demoId: input.demoId, template: input.template };
  let outcome: DemoStatus = 'expired';
  let failure: unknown;
  try {
    // Versioned change: runs started before it replay on the old path (test/histories).
    const faster = patched(FASTER_PROVISIONING);
    const template = await step('describeTemplate', () =>
      (faster ? local.describeTemplate(input.template) : shared.describeTemplate(input.template)));
    state.templateVersion = template.version;
    webhooks = template.webhooks;
    let access: { url: string; adminPassword: string } | undefined;
    // Container and data do not depend on each other: restore and clone at the same time. On the
    // faster path the data's identity (domain, password, caches) is applied in the data branch
    // too, so only the container's own step waits for the restore.
    const [restored] = await step('restoreAndCloneData', () =>
      Promise.all([
        restore.restoreDemoContainer(id).then((r) => {
          // Recorded as soon as it is known, so teardown reaches the right host even if cloning fails.
          state.host = r.host;
          state.container = r.container;
          return r;
        }),
        shared.createDemoData(id).then(async (d) => {
          state.database = d.database;
          if (faster) access = await shared.applyDemoIdentityInDatabase(id);
          return d;
        }),
      ]),
    );
    state.restoreMethod = restored.method;
    publish();
    const host = onHost(restored.host);
    if (faster && patched(FASTER_PROVISIONING_V2) && restored.method === 'criu') {
      // The route goes up while the app is configured: nobody knows the demo's name yet, and the
      // check through Caddy below is the same Host check as verifyDemoServes, end to end.
      await step('applyIdentityAndRoute', () => Promise.all([host.configureDemoApp(id), host.connectDemoRoute({ demoId: input.demoId })]));
      if (!access) throw ApplicationFailure.nonRetryable('identity was not applied', FAILURE_TYPES.provisioningFailed);
    } else {
      if (faster) {
        await step('applyIdentity', () => host.configureDemoApp(id));
      } else {
        [, access] = await step('applyIdentity', () => Promise.all([host.configureDemoApp(id), shared.applyDemoIdentityInDatabase(id)]));
      }
      if (!access) throw ApplicationFailure.nonRetryable('identity was not applied', FAILURE_TYPES.provisioningFailed);
      // A cold boot (podman run) may take a while before its first answer.
      await step('verifyDemoServes', () => host.verifyDemoServes({ demoId: input.demoId, bootSeconds: restored.method === 'run' ? 60 : 10 }));
      await step('connectDemoRoute', () => host.connectDemoRoute({ demoId: input.demoId }));
    }
    await step('verifyDemoRouted', () => shared.verifyDemoRouted({ demoId: input.demoId }));

    const readyMs = Date.now();
    state.readyAt = new Date(readyMs).toISOString();
    state.url = access.url;
    state.adminUrl = `${access.url.replace(/\/$/, '')}${template.adminPath}/`;
    state.credentials = { email: template.adminEmail, password: access.adminPassword };
    if (input.pool) {
      // Owned by the pool until claimed: no TTL runs, only the lifetime cap bounds a forgotten demo.
      expiresMs = Date.parse(state.maxExpiresAt);
      setStatus('pooled');
      if (!(await notifyPool(demoPooledSignal, { ...state }))) release('pool gone');
      await condition(() => claimed || released, Math.max(0, expiresMs - Date.now()));
      if (claimed) {
        await shared.recordDemo({ demoId: input.demoId, url: access.url, expiresAt: state.expiresAt!, template: input.template });
        log.info('pooled demo claimed', { demoId: input.demoId, expiresAt: state.expiresAt });
        notify('demo.ready');
      }
    } else {
      expiresMs = Math.min(readyMs + input.ttlSeconds * 1000, Date.parse(state.maxExpiresAt));
      state.expiresAt = new Date(expiresMs).toISOString();
      setStatus('ready');
      await shared.recordDemo({ demoId: input.demoId, url: access.url, expiresAt: state.expiresAt, template: input.template });
      log.info('demo ready', { demoId: input.demoId, url: access.url, expiresAt: state.expiresAt, stepMs: state.stepMs });
      notify('demo.ready');
    }

    /** The expiry a demo.expiring warning was last sent for (an extension re-arms it). */
    let warnedFor = 0;
    for (;;) {
      const seen = wakeups;
      const remaining = expiresMs - Date.now();
      if (released || remaining <= 0) break;
      let wait = remaining;
      if (webhooks && (!input.pool || claimed) && warnedFor !== expiresMs) {
        const untilWarning = remaining - webhooks.expiringSeconds * 1000;
        if (untilWarning <= 0) {
          warnedFor = expiresMs;
          notify('demo.expiring');
        } else {
          wait = untilWarning;
        }
      }
      await condition(() => wakeups !== seen, wait);
    }
    outcome = released ? (input.pool && !claimed ? 'recycled' : 'released') : 'expired';
  } catch (err) {
    failure = err;
    if (isCancellation(err)) {
      outcome = 'cancelled';
    } else {
      outcome = 'failed';
      state.error = chainMessage(err);
      log.error('provisioning failed; cleaning up', { demoId: input.demoId, error: state.error });
    }
  }

  await CancellationScope.nonCancellable(async () => {
    const wasReady = state.readyAt !== undefined;
    setStatus('tearing_down');
    const ended = { demoId: input.demoId, outcome, error: state.error, wasReady };
    // Tell the pool while the route comes down, not before: a busy pool must not delay teardown.
    const poolTold = input.pool && patched(FASTER_PROVISIONING_V2) ? notifyPool(demoEndedSignal, ended) : undefined;
    if (input.pool && !poolTold) await notifyPool(demoEndedSignal, ended);
    const t0 = Date.now();
    const { demoId } = input;
    if (state.host) await onHostTeardown(state.host).disconnectDemoRoute({ demoId });
    await poolTold;
    await sharedTeardown.dropDemoData({ demoId });
    // Without a recorded host the restore may still have created the container on the host that
    // took it; the restore queue reaches a host that can remove it (single-host installs: this one).
    const containerActs = state.host ? onHostTeardown(state.host) : restoreTeardown;
    await containerActs.removeDemoContainer({ demoId });
    await sharedTeardown.forgetDemo({ demoId });
    state.stepMs.teardown = Date.now() - t0;
    state.endedAt = new Date().toISOString();
    if (outcome === 'released') log.info('demo released', { demoId, reason: releaseReason });
    setStatus(outcome);
    // Someone held this demo: tell them it is gone, and wait (bounded) for every delivery.
    if (wasReady && (!input.pool || claimed)) notify('demo.expired', outcome);
    await Promise.all(deliveries);
  });

  if (outcome === 'cancelled') {
    // Rethrown after the cleanup above, so the run shows as "Canceled" in the Web UI and CLI.
    throw failure;
  }
  if (outcome === 'failed') {
    throw ApplicationFailure.create({ type: FAILURE_TYPES.provisioningFailed, message: `demo ${input.demoId} could not be provisioned: ${state.error}`, nonRetryable: true, cause: failure as Error });
  }
  return state;
}
