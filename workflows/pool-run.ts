/**
 * One template pool's state and the messages it answers (the shape of Temporal's
 * safe-message-handlers sample): ready and provisioning demos, counters, backoff; the resize
 * Update, the stats Query, and the signals its demos and the API send. Handlers change state and
 * wake the pool's loop (template-pool.ts), which does the provisioning and recycling.
 *
 * Claims never go through this workflow: each pooled demo lists itself in Valkey, a claim pops it
 * there (client/claims.ts) and signals the demo, and the demo tells the pool afterwards
 * (demoClaimAcked) so stats and refill follow. A recycle is a release signal to the demo, which
 * takes itself off the ready list first; when a claim got there first, the claim wins.
 */
import { ApplicationFailure, condition, getExternalWorkflowHandle, log, setHandler } from '@temporalio/workflow';
import {
  CLAIM_WAIT_BUCKETS_MS, demoClaimAckedSignal, demoEndedSignal, demoPooledSignal, demoWorkflowId, FAILURE_TYPES,
  MAX_POOL_TARGET, POOL_REFILL_HOLD_MS, poolDemandSignal, poolStatsQuery, refreshTemplateSignal, releaseDemoSignal, setPoolTargetUpdate,
  type DemoState, type PoolCarriedState, type PoolCounters, type PoolDemoEnded, type PoolInput, type PoolStats,
} from '../contract';

/**
 * Demos provisioned together age out together: one due within this much of the first is recycled
 * on the same wake, not on a timer of its own a few milliseconds later (one workflow task instead of
 * one per demo; such a timer also fired while the first recycle's signals came in).
 */
const AGE_OUT_BATCH_MS = 5_000; // at most a tenth of the age-out itself (tests use seconds)
/** Backoff while provisioning keeps failing: 2 s, 4 s, ... up to 5 min. */
const MAX_BACKOFF_MS = 300_000;

export class PoolRun {
  /** Pooled demos, oldest first: every one gets handed out before it ages out. */
  ready: DemoState[];
  provisioning: Array<{ demoId: string; startedAt: string }>;
  templateVersion?: string;
  readonly counters: PoolCounters;
  private readonly claimWaitBuckets: number[];
  consecutiveFailures: number;
  backoffUntil?: string;
  lastError?: string;
  target: number;
  /** Demos told to recycle and not ended yet: counted as recycled when they end so (a claim may beat the recycle). */
  recycling: string[];
  /** Requests waiting for a demo (request id -> until ms), announced by the API; not carried (they are seconds long). */
  private readonly demand = new Map<string, number>();
  /** The template must be (re-)read before provisioning: at start, or told a new checkpoint exists. */
  needTemplate: boolean;
  private wakeups = 0;
  /**
   * Refill after a claim waits until then (ms) while the pool still holds enough (refillHeld): the
   * claimed demo's first pages and a restore would share the CPU. Not carried (a second or so).
   */
  refillHoldUntil?: number;
  /** Release signals sent and not yet delivered (see releasesDelivered). */
  private readonly releasesInFlight = new Set<Promise<void>>();

  constructor(readonly input: PoolInput) {
    const carried = input.carried;
    this.ready = carried?.ready ?? [];
    this.provisioning = carried?.provisioning ?? [];
    this.recycling = carried?.recycling ?? [];
    this.templateVersion = carried?.templateVersion;
    this.counters = carried?.counters ?? { started: 0, claimed: 0, failed: 0, recycled: 0, noCapacity: 0 };
    this.claimWaitBuckets = carried?.claimWaitBuckets ?? Array(CLAIM_WAIT_BUCKETS_MS.length + 1).fill(0);
    this.consecutiveFailures = carried?.consecutiveFailures ?? 0;
    this.backoffUntil = carried?.backoffUntil;
    this.lastError = carried?.lastError;
    this.target = input.target;
    this.needTemplate = this.templateVersion === undefined;

    setHandler(poolStatsQuery, () => this.stats());
    setHandler(demoPooledSignal, (demo) => this.onPooled(demo));
    setHandler(demoEndedSignal, (ended) => this.onEnded(ended));
    setHandler(refreshTemplateSignal, () => {
      this.needTemplate = true;
      this.wake();
    });
    setHandler(setPoolTargetUpdate, ({ target }) => {
      this.target = target;
      this.wake();
      return this.stats();
    }, {
      validator: (req) => {
        if (!req || !Number.isInteger(req.target) || req.target < 0 || req.target > MAX_POOL_TARGET) {
          throw ApplicationFailure.nonRetryable(`target must be an integer from 0 to ${MAX_POOL_TARGET}`, FAILURE_TYPES.invalidInput);
        }
      },
    });
    setHandler(demoClaimAckedSignal, ({ demoId, deliveryMs }) => {
      this.ready = this.ready.filter((d) => d.demoId !== demoId);
      this.recycling = this.recycling.filter((id) => id !== demoId);
      this.counters.claimed++;
      this.observeClaimDelivery(deliveryMs);
      // From the first claim not yet refilled: a stream of claims cannot push the refill back. Counted
      // from the claim, not from its acknowledgement, which comes after the claim's delivery hold.
      const now = Date.now();
      if (this.refillHoldUntil === undefined || this.refillHoldUntil <= now) this.refillHoldUntil = now - deliveryMs + (this.input.refillHoldMs ?? POOL_REFILL_HOLD_MS.default);
      this.wake();
    });
    setHandler(poolDemandSignal, ({ requestId, until, done, served }) => {
      if (done) {
        if (this.demand.delete(requestId) && !served) this.counters.noCapacity++;
      } else if (until !== undefined) {
        this.demand.set(requestId, until);
      }
      this.wake();
    });
  }

  /** Requests waiting for a demo now (expired announcements dropped). */
  get waitingClaims(): number {
    return this.demand.size;
  }

  /** Drops the waits whose time is up; answers the earliest still running (ms), if any. */
  expireDemand(now: number): number | undefined {
    let next: number | undefined;
    for (const [requestId, until] of this.demand) {
      if (until <= now) this.demand.delete(requestId);
      else next = Math.min(next ?? until, until);
    }
    return next;
  }

  /**
   * The refill waits: a claim was just handed out, nobody waits for a demo and at least half the
   * target is still ready (fewer, and the next visitors' claims come before the hold's end).
   */
  refillHeld(now: number): boolean {
    return this.refillHoldUntil !== undefined && this.refillHoldUntil > now && this.waitingClaims === 0 && this.ready.length * 2 >= this.target;
  }

  wake(): void {
    this.wakeups++;
  }

  /** Until a handler changes something, or `timeoutMs` passes. */
  async untilWoken(timeoutMs: number): Promise<void> {
    const seen = this.wakeups;
    await condition(() => this.wakeups !== seen, timeoutMs);
  }

  stats(): PoolStats {
    const { carried: _carried, ...settings } = this.input;
    return {
      ...settings,
      target: this.target,
      templateVersion: this.templateVersion,
      ready: this.ready.length,
      readyDemoIds: this.ready.map((d) => d.demoId),
      provisioning: this.provisioning.length,
      waitingClaims: this.waitingClaims,
      counters: { ...this.counters },
      consecutiveFailures: this.consecutiveFailures,
      backoffUntil: this.backoffUntil,
      lastError: this.lastError,
      claimWait: this.claimWaitBuckets.map((count, i) => ({ le: i < CLAIM_WAIT_BUCKETS_MS.length ? CLAIM_WAIT_BUCKETS_MS[i]! : '+Inf' as const, count })),
    };
  }

  /** What continue-as-new carries into the next run. */
  toCarried(): PoolCarriedState {
    return {
      ready: this.ready, provisioning: this.provisioning, recycling: this.recycling, templateVersion: this.templateVersion, counters: this.counters,
      claimWaitBuckets: this.claimWaitBuckets, consecutiveFailures: this.consecutiveFailures, backoffUntil: this.backoffUntil, lastError: this.lastError,
    };
  }

  private onPooled(demo: DemoState): void {
    this.provisioning = this.provisioning.filter((p) => p.demoId !== demo.demoId);
    this.consecutiveFailures = 0;
    this.backoffUntil = undefined;
    this.ready.push(demo);
    // A demo of a version this pool has not heard of: a new checkpoint was taken without telling
    // the pool. Re-read the template rather than recycle the new demos as outdated.
    if (demo.templateVersion !== this.templateVersion) this.needTemplate = true;
    this.wake();
  }

  private onEnded(e: PoolDemoEnded): void {
    // Counted when it ends: a recycle that a claim beat is a claim, not a recycle. Only this
    // pool's recycles (an earlier run's demos may still report to this workflow id).
    if (this.recycling.includes(e.demoId)) {
      this.recycling = this.recycling.filter((id) => id !== e.demoId);
      if (e.outcome === 'recycled') this.counters.recycled++;
    }
    const wasProvisioning = this.provisioning.some((p) => p.demoId === e.demoId);
    this.provisioning = this.provisioning.filter((p) => p.demoId !== e.demoId);
    this.ready = this.ready.filter((d) => d.demoId !== e.demoId);
    if (e.outcome === 'failed' && !e.wasReady && wasProvisioning) {
      this.counters.failed++;
      this.consecutiveFailures++;
      this.lastError = e.error ?? 'provisioning failed';
      this.backoffUntil = new Date(Date.now() + Math.min(MAX_BACKOFF_MS, 1_000 * 2 ** this.consecutiveFailures)).toISOString();
    }
    this.wake();
  }

  /** From the claim in Valkey to the demo's acknowledgement. */
  private observeClaimDelivery(ms: number): void {
    const i = CLAIM_WAIT_BUCKETS_MS.findIndex((le) => ms <= le);
    this.claimWaitBuckets[i === -1 ? CLAIM_WAIT_BUCKETS_MS.length : i]!++;
  }

  /**
   * Tells an unclaimed demo to tear itself down (fire and forget: a failed signal means it is gone
   * already). The demo takes itself off the ready list first; a claim recorded before that wins.
   */
  release(demoId: string, reason: string): Promise<void> {
    const sent = getExternalWorkflowHandle(demoWorkflowId(demoId))
      .signal(releaseDemoSignal, { reason, recycle: true })
      .catch((err) => log.warn('release signal failed', { demoId, reason, error: String(err) }))
      .finally(() => this.releasesInFlight.delete(sent));
    this.releasesInFlight.add(sent);
    return sent;
  }

  /**
   * Until every release signal sent is delivered. A run that continues-as-new with signals still in
   * flight loses them (the server drops a closed run's pending signals): after the benchmark lowered
   * a pool from 500 to 3 in the same workflow task as a continue-as-new, 154 recycled demos never
   * heard of it and stayed listed, unknown to the pool.
   */
  async releasesDelivered(): Promise<void> {
    while (this.releasesInFlight.size) await Promise.all([...this.releasesInFlight]);
  }

  recycle(demo: DemoState, why: string): void {
    this.ready = this.ready.filter((d) => d.demoId !== demo.demoId);
    this.recycling.push(demo.demoId);
    log.info('recycling a pooled demo', { demoId: demo.demoId, why });
    void this.release(demo.demoId, `recycled: ${why}`);
  }

  /**
   * Recycles what aged out or belongs to an older checkpoint (only against a version read just
   * now), then the oldest beyond the target.
   */
  recycleStaleAndSurplus(now: number): void {
    const maxAgeMs = this.input.unclaimedMaxAgeSeconds * 1000;
    for (const d of [...this.ready]) {
      if (this.templateVersion && !this.needTemplate && d.templateVersion !== this.templateVersion) {
        this.recycle(d, `template version ${d.templateVersion} replaced by ${this.templateVersion}`);
      } else if (now - Date.parse(d.readyAt!) > maxAgeMs - Math.min(AGE_OUT_BATCH_MS, maxAgeMs / 10)) {
        this.recycle(d, 'unclaimed too long');
      }
    }
    while (this.ready.length > this.target + this.waitingClaims) this.recycle(this.ready[0]!, `pool target lowered to ${this.target}`);
  }

  /** Cancelled: every demo it holds or is still provisioning is released (claimed ones keep running). */
  async releaseAll(reason: string): Promise<void> {
    // Provisioning demos too: one whose "pooled" signal crosses the cancel would wait for ever.
    const held = [...this.ready.map((d) => d.demoId), ...this.provisioning.map((p) => p.demoId)];
    await Promise.all(held.map((demoId) => this.release(demoId, reason)));
    this.ready = [];
    this.counters.recycled += held.length;
  }
}
