/**
 * A template's warm pool as everyone else sees it: settings, stats, the claim, and the signals
 * between the pool and its demos. Deterministic-safe.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { DemoClaim } from './claims';
import type { DemoState, DemoStatus } from './demo';

/** The workflow type name (clients start it by name). */
export const POOL_WORKFLOW_TYPE = 'templatePool';

/** One pool per template and deployment (the task queue prefix keeps test suites apart). */
export const poolWorkflowId = (template: string, queuePrefix = '') => `${queuePrefix}pool-${template}`;

export interface PoolSettings {
  template: string;
  /** Ready, unclaimed demos to keep. */
  target: number;
  /** Provisions running at once. */
  maxConcurrentProvisions: number;
  /** A pooled demo older than this is recycled, so what users get is fresh. */
  unclaimedMaxAgeSeconds: number;
  /** Claim TTL bounds and the lifetime cap given to the demos (from claim on). */
  minTtlSeconds: number;
  maxTtlSeconds: number;
  maxLifetimeSeconds: number;
  /**
   * Continue-as-new once a run's history passes this many events (POOL_HISTORY_LIMIT.default when
   * unset). An operational knob: lower keeps replays shorter; the pool tests lower it to reach a
   * continue-as-new in seconds.
   */
  historyLimit?: number;
  /** How long a refill waits after a claim while the pool still holds half its target (POOL_REFILL_HOLD_MS.default when unset). */
  refillHoldMs?: number;
}

/**
 * Bounds of PoolSettings.refillHoldMs. A restore takes a core for most of a second; started the
 * moment a demo is claimed, it shares a small host's CPU with that visitor's first pages (on 2
 * cores: click → landing page 351 ms beside a refill, 194 ms without one).
 */
export const POOL_REFILL_HOLD_MS = { default: 1_000, min: 0, max: 10_000 } as const;

/**
 * Bounds of PoolSettings.historyLimit. The default is well below Temporal's 51,200-event limit,
 * so a replay stays fast. The minimum lets a run do more than a pass or two (filling 4 demos takes
 * about 70 events); the maximum leaves room for the pass that ends a run (recycling 500 demos adds
 * 1,000 events).
 */
export const POOL_HISTORY_LIMIT = { default: 5_000, min: 100, max: 50_000 } as const;

export interface PoolInput extends PoolSettings {
  /** State carried across continue-as-new. */
  carried?: PoolCarriedState;
}

export interface PoolCarriedState {
  ready: DemoState[];
  provisioning: Array<{ demoId: string; startedAt: string }>;
  /** Demos told to recycle and not ended yet: counted as recycled when they end so (a claim may beat it). */
  recycling?: string[];
  templateVersion?: string;
  counters: PoolCounters;
  claimWaitBuckets: number[];
  consecutiveFailures: number;
  backoffUntil?: string;
  lastError?: string;
}

/** `noCapacity`: waiting claims (`wait: true` on an empty pool) that got no demo in time, as the API reports them. */
export interface PoolCounters { started: number; claimed: number; failed: number; recycled: number; noCapacity: number }

/** Upper bounds (ms) of the claim delivery histogram buckets; the last bucket is everything above. */
export const CLAIM_WAIT_BUCKETS_MS = [1, 10, 100, 1_000, 5_000, 30_000] as const;

export interface PoolStats extends PoolSettings {
  templateVersion?: string;
  ready: number;
  /** Ids of the pooled (ready, unclaimed) demos, oldest first. */
  readyDemoIds: string[];
  provisioning: number;
  /** Requests waiting for a demo (`wait: true` on an empty list), as the API announced them. */
  waitingClaims: number;
  counters: PoolCounters;
  consecutiveFailures: number;
  backoffUntil?: string;
  lastError?: string;
  /** Claim delivery (from the claim in Valkey to the demo's acknowledgement) per bucket, `le` in ms. */
  claimWait: Array<{ le: number | '+Inf'; count: number }>;
}

export interface PoolDemoEnded { demoId: string; outcome: DemoStatus; error?: string; wasReady: boolean }

export const setPoolTargetUpdate = defineUpdate<PoolStats, [{ target: number }]>('setPoolTarget');
export const poolStatsQuery = defineQuery<PoolStats>('poolStats');
/** Demo -> pool: provisioned and waiting to be claimed. */
export const demoPooledSignal = defineSignal<[DemoState]>('demoPooled');
/** Demo -> pool: it is being torn down (claimed or not). */
export const demoEndedSignal = defineSignal<[PoolDemoEnded]>('demoEnded');
/**
 * Claimer (API, or whoever re-delivers) -> demo: claimed in Valkey; the TTL runs until `expiresAt`.
 * Never sent to the pool: claims do not go through a workflow task of the pool.
 */
export const demoClaimedSignal = defineSignal<[DemoClaim]>('demoClaimed');
/** Demo -> pool: it applied its claim (out of the pool's ready demos; refill follows). */
export const demoClaimAckedSignal = defineSignal<[{ demoId: string; deliveryMs: number }]>('demoClaimAcked');
/**
 * API -> pool: a request waits for a demo of this template (`until` ms), or stopped waiting
 * (`done`, `served` or not), so the pool provisions for the demand beyond its target.
 */
export const poolDemandSignal = defineSignal<[{ requestId: string; until?: number; done?: boolean; served?: boolean }]>('poolDemand');
/** `dmx checkpoint` -> pool: a new template version may exist. */
export const refreshTemplateSignal = defineSignal('refreshTemplate');
