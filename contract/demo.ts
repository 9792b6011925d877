/**
 * Everything the API, CLI, workers and workflows share about the demo lifecycle: task queues,
 * search attributes, updates, signals, queries and their payload types. Deterministic-safe (no
 * Node builtins); the API imports it for definitions and types only.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';

/**
 * Task queue names. A deployment (or a test suite) may prefix them all: workflows started on
 * `<prefix>dmx-shared` send their activities to `<prefix>dmx-restore` and `<prefix>dmx-host-*`.
 */
export const TASK_QUEUES = {
  /** Workflows and the shared activities (MariaDB, Caddy, Valkey). */
  shared: 'dmx-shared',
  /** Restores: any host with the template's checkpoint may take one. */
  restore: 'dmx-restore',
  /** Everything a demo's container needs after its restore runs on the host that holds it. */
  host: (hostId: string) => `dmx-host-${hostId}`,
} as const;

/** The prefix of a workflow's own task queue (empty in production). */
export function queuePrefixOf(sharedTaskQueue: string): string {
  return sharedTaskQueue.endsWith(TASK_QUEUES.shared) ? sharedTaskQueue.slice(0, -TASK_QUEUES.shared.length) : '';
}

export const SEARCH_ATTRIBUTES = {
  status: defineSearchAttributeKey('DmxStatus', SearchAttributeType.KEYWORD),
  template: defineSearchAttributeKey('DmxTemplate', SearchAttributeType.KEYWORD),
  expiresAt: defineSearchAttributeKey('DmxExpiresAt', SearchAttributeType.DATETIME),
  host: defineSearchAttributeKey('DmxHost', SearchAttributeType.KEYWORD),
  kind: defineSearchAttributeKey('DmxKind', SearchAttributeType.KEYWORD),
} as const;

/**
 * `pooled`: ready and waiting in a warm pool, not yet handed to anyone (no TTL running).
 * `recycled`: a pooled demo nobody claimed in time, or of an outdated template version.
 */
export type DemoStatus = 'provisioning' | 'pooled' | 'ready' | 'tearing_down' | 'expired' | 'released' | 'recycled' | 'cancelled' | 'failed';

export interface DemoLifecycleInput {
  demoId: string;
  template: string;
  /** Seconds from ready to expiry. */
  ttlSeconds: number;
  /** Hard cap on created -> expiry, extensions included. */
  maxLifetimeSeconds: number;
  /** Who asked (API client id / CLI), for the operators' view only. */
  requestedBy?: string;
  /** Set when a warm pool owns the demo until it is claimed: the pool's workflow id. */
  pool?: { workflowId: string };
}

export interface DemoCredentials { email: string; password: string }

export interface DemoState {
  demoId: string;
  template: string;
  templateVersion?: string;
  status: DemoStatus;
  url?: string;
  adminUrl?: string;
  /** Present once the demo is ready; the back-office login handed to the user. */
  credentials?: DemoCredentials;
  host?: string;
  container?: string;
  database?: string;
  restoreMethod?: 'criu' | 'run';
  createdAt: string;
  readyAt?: string;
  expiresAt?: string;
  maxExpiresAt: string;
  endedAt?: string;
  /** Step name -> milliseconds, in the order they ran. */
  stepMs: Record<string, number>;
  /** Applied extend request ids, so a retried request with a new update id is not applied twice. */
  extendRequests: string[];
  error?: string;
}

export interface ExtendDemoRequest { seconds: number; requestId?: string }
export interface ExtendDemoResult { expiresAt: string }
export interface ReleaseDemoRequest { reason?: string }

export const demoStateQuery = defineQuery<DemoState>('demoState');
/** Moves the expiry later; refused past the maximum lifetime or when the demo is not ready. */
export const extendDemoUpdate = defineUpdate<ExtendDemoResult, [ExtendDemoRequest]>('extendDemo');
/**
 * Waits until provisioning has ended (ready, or failed and torn down) and returns the state: with
 * `executeUpdateWithStart` the API starts a demo and gets it ready in one call.
 */
export const awaitDemoReadyUpdate = defineUpdate<DemoState>('awaitDemoReady');
/** Ends the demo now; returns the state at the start of teardown. */
export const releaseDemoUpdate = defineUpdate<DemoState, [ReleaseDemoRequest]>('releaseDemo');
/** Fire-and-forget variant of release (for operators' `temporal workflow signal`). */
export const releaseDemoSignal = defineSignal<[ReleaseDemoRequest]>('releaseDemo');

// ---- warm pool -------------------------------------------------------------------------------

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

/** Application failure types the API maps to HTTP answers. */
export const FAILURE_TYPES = {
  maxLifetimeExceeded: 'MaxLifetimeExceeded',
  notReady: 'DemoNotReady',
  invalidInput: 'InvalidInput',
  templateMissing: 'TemplateMissing',
  provisioningFailed: 'ProvisioningFailed',
  noCapacity: 'NoCapacity',
} as const;
