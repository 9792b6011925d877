/**
 * One demo's state and the messages it answers (the shape of Temporal's safe-message-handlers
 * sample): the state, the handlers that read or change it, and the waits the lifecycle's phases use.
 * Handlers only change state and wake the waits; the phases in demo-lifecycle.ts do the work.
 */
import {
  ApplicationFailure, condition, getExternalWorkflowHandle, log, setHandler, upsertSearchAttributes, workflowInfo, type SignalDefinition,
} from '@temporalio/workflow';
import type { NotificationActivities } from '../activities';
import type { WebhookEvent } from '../activities/notifications';
import {
  awaitDemoReadyUpdate, chainMessage, demoClaimedSignal, demoStateQuery, extendDemoUpdate, FAILURE_TYPES, MAX_REASON_LENGTH, releaseDemoSignal,
  releaseDemoUpdate, REQUEST_ID_FORMAT, REQUEST_ID_PATTERN, resetDemoUpdate, SEARCH_ATTRIBUTES,
  type DemoClaim, type DemoLifecycleInput, type DemoState, type DemoStatus, type ExtendDemoRequest, type ResetDemoRequest,
} from '../contract';

export class DemoRun {
  readonly state: DemoState;
  /** Set by `release` (update or signal), or when the owning pool is gone. */
  released = false;
  releaseReason = '';
  /** A pooled demo someone claimed (in Valkey, then signalled here): its TTL runs from the claim. */
  claimed = false;
  /** The claim applied (re-deliveries of the same claim id are ignored). */
  claim?: DemoClaim;
  /** Off the ready list (or teardown began): no claim applies after that. */
  withdrawn = false;
  /** The only release asked for is a recycle (pool's recycle, pool gone): a claim recorded before the withdraw overrides it. */
  private recycleOnly = false;
  /** Lifecycle webhooks, when configured (decided by describeTemplate, recorded in history). */
  webhooks?: { expiringSeconds: number };
  private expiresMs = 0;
  /** Bumped on every change the TTL wait must notice. */
  private wakeups = 0;
  private readonly deliveries: Promise<unknown>[] = [];
  /** Reset request ids accepted and not yet carried out (the hold phase does them, in order). */
  private readonly pendingResets: string[] = [];
  private resetting = false;
  private deliveriesSent = 0;

  constructor(readonly input: DemoLifecycleInput, private readonly notifier: NotificationActivities) {
    const createdMs = Date.now();
    this.state = {
      demoId: input.demoId,
      template: input.template,
      status: 'provisioning',
      createdAt: new Date(createdMs).toISOString(),
      maxExpiresAt: new Date(createdMs + input.maxLifetimeSeconds * 1000).toISOString(),
      stepMs: {},
      extendRequests: [],
    };
    setHandler(demoStateQuery, () => this.state);
    setHandler(awaitDemoReadyUpdate, async () => {
      await condition(() => this.state.status !== 'provisioning');
      return this.state;
    });
    setHandler(extendDemoUpdate, (req) => this.extend(req), { validator: (req) => this.validateExtend(req) });
    setHandler(releaseDemoUpdate, (req) => {
      this.release(req?.reason, req?.recycle);
      return this.state;
    });
    setHandler(releaseDemoSignal, (req) => this.release(req?.reason, req?.recycle));
    setHandler(resetDemoUpdate, (req) => this.reset(req), { validator: (req) => this.validateReset(req) });
    setHandler(demoClaimedSignal, (claim) => this.onClaimed(claim));
    upsertSearchAttributes([
      { key: SEARCH_ATTRIBUTES.kind, value: 'demo' },
      { key: SEARCH_ATTRIBUTES.template, value: input.template },
    ]);
    this.publish();
  }

  get isPooled(): boolean {
    return this.input.pool !== undefined;
  }

  /** Whether someone holds the demo (not a pooled demo nobody claimed). */
  get isHeld(): boolean {
    return !this.isPooled || this.claimed;
  }

  /** `recycle`: the pool takes back an unclaimed demo; a claim recorded in Valkey before the withdraw wins over it. */
  release(reason?: string, recycle = false): void {
    // The pool hears of a claim only once the demo acknowledges it: a recycle it sent in between
    // (age-out, target lowered, new version) must not end a demo someone holds.
    if (recycle && this.claimed) {
      log.info('recycle ignored: the demo was claimed', { demoId: this.input.demoId, reason });
      return;
    }
    if (this.released) {
      // A real release (the holder, an operator) after a recycle stands even against a claim.
      if (!recycle) this.recycleOnly = false;
      return;
    }
    this.released = true;
    this.recycleOnly = recycle;
    this.releaseReason = (reason ?? 'released').slice(0, MAX_REASON_LENGTH);
    this.wakeups++;
  }

  /** Synchronous: the SDK ignores a promise returned by a validator. */
  private validateExtend(req: ExtendDemoRequest): void {
    const { state } = this;
    if (!req || !Number.isInteger(req.seconds) || req.seconds < 1) {
      throw ApplicationFailure.nonRetryable('seconds must be a positive integer', FAILURE_TYPES.invalidInput);
    }
    if (req.requestId !== undefined && !REQUEST_ID_PATTERN.test(req.requestId)) {
      throw ApplicationFailure.nonRetryable(`requestId must match ${REQUEST_ID_FORMAT}`, FAILURE_TYPES.invalidInput);
    }
    if (req.requestId && state.extendRequests.includes(req.requestId)) return; // a retry: answered as before
    if (state.status !== 'ready' || this.released) {
      throw ApplicationFailure.nonRetryable(`demo ${state.demoId} is ${this.released ? 'released' : state.status}, not ready`, FAILURE_TYPES.notReady);
    }
    const wanted = this.expiresMs + req.seconds * 1000;
    if (wanted > Date.parse(state.maxExpiresAt)) {
      throw ApplicationFailure.nonRetryable(
        `extending by ${req.seconds} s would end the demo at ${new Date(wanted).toISOString()}, past its maximum lifetime (${state.maxExpiresAt})`,
        FAILURE_TYPES.maxLifetimeExceeded,
      );
    }
  }

  private validateReset(req: ResetDemoRequest): void {
    if (!req || typeof req.requestId !== 'string' || !REQUEST_ID_PATTERN.test(req.requestId)) {
      throw ApplicationFailure.nonRetryable(`requestId must match ${REQUEST_ID_FORMAT}`, FAILURE_TYPES.invalidInput);
    }
    if (this.state.resetRequests?.includes(req.requestId) || this.pendingResets.includes(req.requestId)) return; // a retry
    if ((this.state.status !== 'ready' && this.state.status !== 'resetting') || this.released) {
      throw ApplicationFailure.nonRetryable(`demo ${this.state.demoId} is ${this.released ? 'released' : this.state.status}, not ready`, FAILURE_TYPES.notReady);
    }
  }

  /** Queues the reset for the hold phase and answers once it is done (or the demo ended first). */
  private async reset(req: ResetDemoRequest): Promise<DemoState> {
    const done = () => this.state.resetRequests?.includes(req.requestId) ?? false;
    if (!done() && !this.pendingResets.includes(req.requestId)) {
      this.pendingResets.push(req.requestId);
      this.wakeups++;
    }
    await condition(() => done() || this.released || this.state.status === 'tearing_down');
    if (!done()) throw ApplicationFailure.nonRetryable(`demo ${this.state.demoId} ended before its reset`, FAILURE_TYPES.notReady);
    return this.state;
  }

  /** The next reset to carry out, if any. */
  takeReset(): string | undefined {
    return this.released ? undefined : this.pendingResets[0];
  }

  beginReset(): void {
    this.resetting = true;
    this.setStatus('resetting');
  }

  resetDone(requestId: string): void {
    this.pendingResets.splice(this.pendingResets.indexOf(requestId), 1);
    (this.state.resetRequests ??= []).push(requestId);
    this.resetting = false;
    this.setStatus('ready');
  }

  /** Resets carried out or under way: the back-office password's generation. */
  get generation(): number {
    return (this.state.resetRequests?.length ?? 0) + (this.resetting ? 1 : 0);
  }

  private extend(req: ExtendDemoRequest): { expiresAt: string } {
    const { state } = this;
    if (req.requestId && state.extendRequests.includes(req.requestId)) return { expiresAt: state.expiresAt! };
    this.setExpiry(this.expiresMs + req.seconds * 1000);
    if (req.requestId) state.extendRequests.push(req.requestId);
    this.publish();
    return { expiresAt: state.expiresAt! };
  }

  /**
   * A claim recorded in Valkey, delivered or re-delivered (idempotent by claim id). Invariant (with
   * adapters/claim-store.ts): claim and withdraw scripts are atomic against each other, so a claim
   * only comes if recorded before this demo's withdraw; it wins over a recycle (never `recycled`).
   */
  private onClaimed(claim: DemoClaim): void {
    if (this.claim?.claimId === claim.claimId) return; // a re-delivery of the claim already applied
    if (!this.isPooled || this.claimed || this.withdrawn || this.state.status !== 'pooled') {
      log.warn('ignoring a claim', { demoId: this.input.demoId, status: this.state.status, claimed: this.claimed, withdrawn: this.withdrawn });
      return;
    }
    this.applyClaim(claim);
  }

  /** Held from now on by whoever claimed it in Valkey; the TTL runs from the claim, not from this delivery. */
  applyClaim(claim: DemoClaim): void {
    this.claimed = true;
    this.claim = claim;
    if (this.recycleOnly) {
      this.released = false;
      this.recycleOnly = false;
    }
    this.state.maxExpiresAt = claim.maxExpiresAt;
    this.setExpiry(Date.parse(claim.expiresAt));
    this.setStatus('ready');
  }

  private setExpiry(ms: number): void {
    this.expiresMs = ms;
    this.state.expiresAt = new Date(ms).toISOString();
    this.wakeups++;
  }

  /** Ready for its holder: the TTL runs from now, bounded by the lifetime cap. */
  startTtl(): void {
    this.setExpiry(Math.min(Date.now() + this.input.ttlSeconds * 1000, Date.parse(this.state.maxExpiresAt)));
    this.setStatus('ready');
  }

  /** Owned by the pool until claimed: no TTL runs, only the lifetime cap bounds a forgotten demo. */
  becomePooled(): void {
    this.expiresMs = Date.parse(this.state.maxExpiresAt);
    this.setStatus('pooled');
  }

  async waitForClaim(): Promise<void> {
    await condition(() => this.claimed || this.released, Math.max(0, this.expiresMs - Date.now()));
  }

  /** Until released, expired, or a reset is asked for; sends demo.expiring ahead of each expiry (an extension re-arms it). */
  async untilExpiredOrReleased(): Promise<void> {
    let warnedFor = 0;
    for (;;) {
      const seen = this.wakeups;
      const remaining = this.expiresMs - Date.now();
      if (this.released || remaining <= 0 || this.pendingResets.length > 0) return;
      let wait = remaining;
      if (this.webhooks && this.isHeld && warnedFor !== this.expiresMs) {
        const untilWarning = remaining - this.webhooks.expiringSeconds * 1000;
        if (untilWarning <= 0) {
          warnedFor = this.expiresMs;
          this.notify('demo.expiring');
        } else {
          wait = untilWarning;
        }
      }
      await condition(() => this.wakeups !== seen, wait);
    }
  }

  /** How a demo that reached the end of its hold ended. */
  get holdOutcome(): DemoStatus {
    if (!this.released) return 'expired';
    return this.isHeld ? 'released' : 'recycled';
  }

  publish(): void {
    const { state } = this;
    upsertSearchAttributes([
      { key: SEARCH_ATTRIBUTES.status, value: state.status },
      ...(state.host ? [{ key: SEARCH_ATTRIBUTES.host, value: state.host }] : []),
      ...(state.expiresAt ? [{ key: SEARCH_ATTRIBUTES.expiresAt, value: new Date(state.expiresAt) }] : []),
    ]);
  }

  setStatus(status: DemoStatus): void {
    this.state.status = status;
    this.publish();
  }

  /** Runs one provisioning step and records how long it took. */
  async step<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const t0 = Date.now();
    const out = await fn();
    this.state.stepMs[name] = Date.now() - t0;
    return out;
  }

  /** Signals the owning pool; false when it is gone (the demo then does not wait for a claim). */
  async notifyPool<T extends unknown[]>(signal: SignalDefinition<T>, ...args: T): Promise<boolean> {
    const pool = this.input.pool!.workflowId;
    try {
      await getExternalWorkflowHandle(pool).signal(signal, ...args);
      return true;
    } catch (err) {
      log.warn('could not signal the pool', { demoId: this.input.demoId, pool, error: chainMessage(err) });
      return false;
    }
  }

  /** A lifecycle webhook, when configured; delivered in the background, awaited at the end. */
  notify(event: WebhookEvent, outcome?: DemoStatus): void {
    if (!this.webhooks) return;
    const { state } = this;
    const deliveryId = `${workflowInfo().workflowId}:${event}:${++this.deliveriesSent}`;
    this.deliveries.push(this.notifier.sendWebhook({
      event, deliveryId,
      demo: { id: state.demoId, template: state.template, status: state.status, url: state.url, expiresAt: state.expiresAt, endedAt: state.endedAt, outcome },
    }).catch((err) => log.warn('webhook not delivered', { demoId: state.demoId, event, error: chainMessage(err) })));
  }

  /** Every delivery has ended (each is bounded by its schedule-to-close timeout). */
  async notificationsDone(): Promise<void> {
    await Promise.all(this.deliveries);
  }
}
