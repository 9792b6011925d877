/**
 * One demo's workflow as everyone else sees it: its input, its state, and the updates, signals
 * and queries it answers. Deterministic-safe (no Node builtins): workflows, activities, the client,
 * the API and the CLI all import it.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';

/** The workflow type name (clients start it by name). */
export const DEMO_WORKFLOW_TYPE = 'demoLifecycle';

/**
 * `pooled`: ready and waiting in a warm pool, not yet handed to anyone (no TTL running).
 * `recycled`: a pooled demo nobody claimed in time, or of an outdated template version.
 */
/** `resetting`: a ready demo going back to its template's state (same URL and expiry); ready again after. */
export const DEMO_STATUSES = ['provisioning', 'pooled', 'ready', 'resetting', 'tearing_down', 'expired', 'released', 'recycled', 'cancelled', 'failed'] as const;
export type DemoStatus = (typeof DEMO_STATUSES)[number];

export function isDemoStatus(value: unknown): value is DemoStatus {
  return typeof value === 'string' && (DEMO_STATUSES as readonly string[]).includes(value);
}

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
  /** Applied reset request ids (a retried reset is answered, not repeated); the count is the password generation. */
  resetRequests?: string[];
  error?: string;
}

export interface ExtendDemoRequest { seconds: number; requestId?: string }
export interface ExtendDemoResult { expiresAt: string }
export interface ReleaseDemoRequest {
  reason?: string;
  /** The pool recycling an unclaimed demo: a claim recorded before the demo's withdraw wins over it. */
  recycle?: boolean;
}
export interface ResetDemoRequest { requestId: string }

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
/**
 * Back to the template's state: same URL and expiry; container and data restored anew, a new
 * back-office password. Answers when the demo is ready again; a repeated request id is answered, not redone.
 */
export const resetDemoUpdate = defineUpdate<DemoState, [ResetDemoRequest]>('resetDemo');
/** Fire-and-forget variant of release (for operators' `temporal workflow signal`). */
export const releaseDemoSignal = defineSignal<[ReleaseDemoRequest]>('releaseDemo');
