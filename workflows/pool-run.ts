/**
 * One template pool's state and the messages it answers (the shape of Temporal's
 * safe-message-handlers sample): ready and provisioning demos, counters, backoff; the claim and
 * resize Updates, the stats Query, and the signals its demos send. Handlers change state and wake
 * the pool's loop (template-pool.ts), which does the provisioning and recycling.
 */
import { ApplicationFailure, condition, getExternalWorkflowHandle, log, setHandler } from '@temporalio/workflow';
import {
  CLAIM_WAIT_BUCKETS_MS, claimDemoUpdate, demoClaimedSignal, demoEndedSignal, demoPooledSignal, demoWorkflowId, FAILURE_TYPES, MAX_CLAIM_WAIT_SECONDS,
  MAX_POOL_TARGET, poolStatsQuery, refreshTemplateSignal, releaseDemoSignal, setPoolTargetUpdate,
  type ClaimDemoRequest, type DemoState, type PoolCarriedState, type PoolCounters, type PoolDemoEnded, type PoolInput, type PoolStats,
} from '../contract';

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
  waitingClaims = 0;
  /** The template must be (re-)read before provisioning: at start, or told a new checkpoint exists. */
  needTemplate: boolean;
  private wakeups = 0;

  constructor(readonly input: PoolInput) {
    const carried = input.carried;
    this.ready = carried?.ready ?? [];
    this.provisioning = carried?.provisioning ?? [];
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
    setHandler(claimDemoUpdate, (req) => this.claim(req), { validator: (req) => this.validateClaim(req) });
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
      ready: this.ready, provisioning: this.provisioning, templateVersion: this.templateVersion, counters: this.counters,
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

  /** Synchronous: the SDK ignores a promise returned by a validator. */
  private validateClaim(req: ClaimDemoRequest): void {
    const { minTtlSeconds, maxTtlSeconds } = this.input;
    if (!req || !Number.isInteger(req.ttlSeconds) || req.ttlSeconds < minTtlSeconds || req.ttlSeconds > maxTtlSeconds) {
      throw ApplicationFailure.nonRetryable(`ttlSeconds must be an integer from ${minTtlSeconds} to ${maxTtlSeconds}`, FAILURE_TYPES.invalidInput);
    }
    if (req.waitSeconds !== undefined && (!Number.isInteger(req.waitSeconds) || req.waitSeconds < 0 || req.waitSeconds > MAX_CLAIM_WAIT_SECONDS)) {
      throw ApplicationFailure.nonRetryable(`waitSeconds must be an integer from 0 to ${MAX_CLAIM_WAIT_SECONDS}`, FAILURE_TYPES.invalidInput);
    }
    if (!req.waitSeconds && this.ready.length === 0) {
      // Refused before it is accepted: nothing is written to the history, so a burst of claims
      // against an empty pool costs the pool almost nothing. (Not counted here: a validator must
      // not change state; the API counts these answers.)
      throw this.noCapacity(req);
    }
  }

  /**
   * Hands out the oldest ready demo, waiting up to `waitSeconds` for one. Answers at once: the
   * claim signal to the demo is not awaited (that cost two workflow tasks per claim). A pooled demo
   * ends unclaimed only when an operator cancels it, and its demoEnded signal takes it out of
   * `ready` within milliseconds; a claim inside that window gets a demo being torn down (logged).
   */
  private async claim(req: ClaimDemoRequest): Promise<DemoState> {
    const started = Date.now();
    const deadline = started + (req.waitSeconds ?? 0) * 1000;
    this.waitingClaims++;
    this.wake();
    try {
      // Several waiting claims wake for the same demo: each looks again before taking one.
      while (this.ready.length === 0) {
        const remaining = deadline - Date.now();
        if (remaining <= 0 || !(await condition(() => this.ready.length > 0, remaining))) {
          this.counters.noCapacity++;
          throw this.noCapacity(req);
        }
      }
      const demo = this.ready.shift()!;
      const claimedAt = Date.now();
      const expiresAt = new Date(claimedAt + req.ttlSeconds * 1000).toISOString();
      const maxExpiresAt = new Date(claimedAt + this.input.maxLifetimeSeconds * 1000).toISOString();
      getExternalWorkflowHandle(demoWorkflowId(demo.demoId))
        .signal(demoClaimedSignal, { expiresAt, maxExpiresAt, requestedBy: req.requestedBy })
        .catch((err) => log.warn('claim signal not delivered: the demo had ended', { demoId: demo.demoId, error: String(err) }));
      this.counters.claimed++;
      this.observeClaimWait(Date.now() - started);
      this.wake();
      return { ...demo, status: 'ready', expiresAt, maxExpiresAt };
    } finally {
      this.waitingClaims--;
    }
  }

  private noCapacity(req: ClaimDemoRequest): ApplicationFailure {
    return ApplicationFailure.create({
      type: FAILURE_TYPES.noCapacity,
      nonRetryable: true,
      message: `no ready ${this.input.template} demo${req.waitSeconds ? ` within ${req.waitSeconds} s` : ''}`,
      details: [{ retryAfterSeconds: this.retryAfterSeconds() }],
    });
  }

  private observeClaimWait(ms: number): void {
    const i = CLAIM_WAIT_BUCKETS_MS.findIndex((le) => ms <= le);
    this.claimWaitBuckets[i === -1 ? CLAIM_WAIT_BUCKETS_MS.length : i]!++;
  }

  private retryAfterSeconds(): number {
    if (this.backoffUntil) return Math.max(1, Math.ceil((Date.parse(this.backoffUntil) - Date.now()) / 1000));
    return this.provisioning.length > 0 ? 2 : 5;
  }

  /** Tells a demo to tear itself down (fire and forget: a failed signal means it is gone already). */
  release(demoId: string, reason: string): Promise<void> {
    return getExternalWorkflowHandle(demoWorkflowId(demoId))
      .signal(releaseDemoSignal, { reason })
      .catch((err) => log.warn('release signal failed', { demoId, reason, error: String(err) }));
  }

  recycle(demo: DemoState, why: string): void {
    this.ready = this.ready.filter((d) => d.demoId !== demo.demoId);
    this.counters.recycled++;
    log.info('recycling a pooled demo', { demoId: demo.demoId, why });
    void this.release(demo.demoId, `recycled: ${why}`);
  }

  /**
   * Recycles what aged out or belongs to an older checkpoint (only against a version read just
   * now), then the oldest beyond the target.
   */
  recycleStaleAndSurplus(now: number): void {
    for (const d of [...this.ready]) {
      if (this.templateVersion && !this.needTemplate && d.templateVersion !== this.templateVersion) {
        this.recycle(d, `template version ${d.templateVersion} replaced by ${this.templateVersion}`);
      } else if (now - Date.parse(d.readyAt!) > this.input.unclaimedMaxAgeSeconds * 1000) {
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
