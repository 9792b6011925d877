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

export type DemoStatus = 'provisioning' | 'ready' | 'tearing_down' | 'expired' | 'released' | 'cancelled' | 'failed';

export interface DemoLifecycleInput {
  demoId: string;
  template: string;
  /** Seconds from ready to expiry. */
  ttlSeconds: number;
  /** Hard cap on created -> expiry, extensions included. */
  maxLifetimeSeconds: number;
  /** Who asked (API client id / CLI), for the operators' view only. */
  requestedBy?: string;
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

/** Application failure types the API maps to HTTP answers. */
export const FAILURE_TYPES = {
  maxLifetimeExceeded: 'MaxLifetimeExceeded',
  notReady: 'DemoNotReady',
  invalidInput: 'InvalidInput',
  templateMissing: 'TemplateMissing',
  provisioningFailed: 'ProvisioningFailed',
} as const;
