/** Reading Temporal client errors: gRPC codes, "the workflow is gone", and the claim's retry hint. */
import { WorkflowNotFoundError } from '@temporalio/common';
import { applicationFailureOf, causeChain } from '../contract';

/** gRPC status codes (numbers, to avoid depending on @grpc/grpc-js directly). */
export const GRPC = { CANCELLED: 1, DEADLINE_EXCEEDED: 4, NOT_FOUND: 5, ALREADY_EXISTS: 6, FAILED_PRECONDITION: 9, RESOURCE_EXHAUSTED: 8, ABORTED: 10, UNAVAILABLE: 14 } as const;

/** The first numeric gRPC code in the cause chain. */
export function grpcCode(err: unknown): number | undefined {
  for (const e of causeChain(err, 5)) if (typeof e.code === 'number') return e.code;
  return undefined;
}

/** True when the error says the workflow has already closed (an update or signal came too late). */
export function isWorkflowClosed(err: unknown): boolean {
  for (const e of causeChain(err)) {
    if (e instanceof WorkflowNotFoundError) return false;
    if (typeof e.message === 'string' && /already completed|workflow execution already completed|execution has completed/i.test(e.message)) return true;
  }
  return false;
}

/** The workflow is not there (never started, or closed): updates, signals and describes answer "not found". */
export function isWorkflowGone(err: unknown): boolean {
  return err instanceof WorkflowNotFoundError || isWorkflowClosed(err);
}

/** `retryAfterSeconds` from a NoCapacity failure's details, clamped to something sensible. */
export function retryAfterOf(err: unknown, fallback = 5): number {
  const failure = applicationFailureOf(err);
  const v = (failure?.details?.[0] as { retryAfterSeconds?: unknown } | undefined)?.retryAfterSeconds;
  if (typeof v === 'number' && Number.isFinite(v)) return Math.min(3600, Math.max(1, Math.ceil(v)));
  return fallback;
}
