/**
 * A template's warm pool as everyone else sees it: settings, stats, the claim, and the signals
 * between the pool and its demos. Deterministic-safe.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
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
}

export interface PoolInput extends PoolSettings {
  /** State carried across continue-as-new. */
  carried?: PoolCarriedState;
}

export interface PoolCarriedState {
  ready: DemoState[];
  provisioning: Array<{ demoId: string; startedAt: string }>;
  templateVersion?: string;
  counters: PoolCounters;
  claimWaitBuckets: number[];
  consecutiveFailures: number;
  backoffUntil?: string;
  lastError?: string;
}

export interface PoolCounters { started: number; claimed: number; failed: number; recycled: number; noCapacity: number }

/** Upper bounds (ms) of the claim wait histogram buckets; the last bucket is everything above. */
export const CLAIM_WAIT_BUCKETS_MS = [1, 10, 100, 1_000, 5_000, 30_000] as const;

export interface PoolStats extends PoolSettings {
  templateVersion?: string;
  ready: number;
  /** Ids of the pooled (ready, unclaimed) demos, oldest first. */
  readyDemoIds: string[];
  provisioning: number;
  waitingClaims: number;
  counters: PoolCounters;
  consecutiveFailures: number;
  backoffUntil?: string;
  lastError?: string;
  /** Claim wait (from the claim reaching the pool to its answer) per bucket, `le` in ms. */
  claimWait: Array<{ le: number | '+Inf'; count: number }>;
}

export interface ClaimDemoRequest {
  ttlSeconds: number;
  /** How long to wait for a cold provision when nothing is ready; 0 answers NoCapacity at once. */
  waitSeconds?: number;
  requestedBy?: string;
}

export interface PoolDemoEnded { demoId: string; outcome: DemoStatus; error?: string; wasReady: boolean }

/** Hands one ready demo to one caller, starting its TTL. Fails with NoCapacity when none is ready in time. */
export const claimDemoUpdate = defineUpdate<DemoState, [ClaimDemoRequest]>('claimDemo');
export const setPoolTargetUpdate = defineUpdate<PoolStats, [{ target: number }]>('setPoolTarget');
export const poolStatsQuery = defineQuery<PoolStats>('poolStats');
/** Demo -> pool: provisioned and waiting to be claimed. */
export const demoPooledSignal = defineSignal<[DemoState]>('demoPooled');
/** Demo -> pool: it is being torn down (claimed or not). */
export const demoEndedSignal = defineSignal<[PoolDemoEnded]>('demoEnded');
/** Pool -> demo: claimed; the TTL runs until `expiresAt`. */
export const demoClaimedSignal = defineSignal<[{ expiresAt: string; maxExpiresAt: string; requestedBy?: string }]>('demoClaimed');
/** `dmx checkpoint` -> pool: a new template version may exist. */
export const refreshTemplateSignal = defineSignal('refreshTemplate');
