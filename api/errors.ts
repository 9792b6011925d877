/**
 * API errors: one class carrying the HTTP status, a stable code and a message, and the mapping of
 * Temporal client errors onto it. Anything unexpected becomes a 500 `internal` whose message says
 * nothing about internals (the details go to the log).
 */
import { ServiceError, WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError, isGrpcDeadlineError } from '@temporalio/client';
import { ApplicationFailure, WorkflowNotFoundError } from '@temporalio/common';
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { FAILURE_TYPES } from '../workflows/definitions';
import type { ErrorCode } from './schemas';

export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: ErrorCode,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }

  static notFound(what: string): ApiError {
    return new ApiError(404, 'not_found', `${what} not found`);
  }

  static unavailable(code: ErrorCode, message: string, retryAfterSeconds = 5): ApiError {
    return new ApiError(503, code, message, { 'Retry-After': String(retryAfterSeconds) });
  }
}

export function errorBody(code: ErrorCode, message: string) {
  return { error: { code, message } };
}

export function sendError(c: Context, err: ApiError): Response {
  for (const [k, v] of Object.entries(err.headers)) c.header(k, v);
  c.header('Cache-Control', 'no-store');
  return c.json(errorBody(err.code, err.message), err.status);
}

/** gRPC status codes (numbers, to avoid depending on @grpc/grpc-js directly). */
const GRPC = { CANCELLED: 1, DEADLINE_EXCEEDED: 4, NOT_FOUND: 5, ALREADY_EXISTS: 6, FAILED_PRECONDITION: 9, RESOURCE_EXHAUSTED: 8, UNAVAILABLE: 14 } as const;

function grpcCode(err: unknown): number | undefined {
  let e = err as { code?: unknown; cause?: unknown } | undefined;
  for (let i = 0; e && i < 5; i++, e = e.cause as typeof e) {
    if (typeof e.code === 'number') return e.code;
  }
  return undefined;
}

/** The ApplicationFailure type behind an update/workflow failure, if there is one. */
export function failureType(err: unknown): string | undefined {
  let e = err as { cause?: unknown } | undefined;
  for (let i = 0; e && i < 6; i++, e = e.cause as typeof e) {
    if (e instanceof ApplicationFailure) return e.type ?? undefined;
  }
  return undefined;
}

function messageOf(err: unknown): string {
  let e = err as { message?: string; cause?: unknown } | undefined;
  for (let i = 0; e && i < 6; i++, e = e.cause as typeof e) {
    if (e instanceof ApplicationFailure && e.message) return e.message;
  }
  return (err as Error)?.message ?? String(err);
}

/**
 * Maps an error from a Temporal call about one demo to an ApiError. Returns undefined for errors
 * that are not Temporal's (the caller rethrows them).
 */
export function temporalToApiError(err: unknown, demoId?: string): ApiError | undefined {
  if (err instanceof ApiError) return err;
  if (err instanceof WorkflowNotFoundError) return ApiError.notFound(demoId ? `demo ${demoId}` : 'demo');
  const type = failureType(err);
  if (type === FAILURE_TYPES.maxLifetimeExceeded) return new ApiError(409, 'max_lifetime_exceeded', messageOf(err));
  if (type === FAILURE_TYPES.notReady) return new ApiError(409, 'demo_not_ready', messageOf(err));
  if (type === FAILURE_TYPES.invalidInput) return new ApiError(400, 'bad_request', messageOf(err));
  if (err instanceof WorkflowUpdateFailedError) return new ApiError(409, 'update_rejected', `the demo refused the change: ${messageOf(err)}`.slice(0, 300));
  const code = grpcCode(err);
  if (err instanceof WorkflowUpdateRPCTimeoutOrCancelledError || isGrpcDeadlineError(err) || code === GRPC.DEADLINE_EXCEEDED || code === GRPC.CANCELLED) {
    return ApiError.unavailable('temporal_unavailable', 'Temporal did not answer in time; try again');
  }
  if (code === GRPC.UNAVAILABLE) return ApiError.unavailable('temporal_unavailable', 'Temporal is unreachable; try again shortly');
  if (code === GRPC.RESOURCE_EXHAUSTED) return ApiError.unavailable('temporal_unavailable', 'Temporal is overloaded; try again shortly');
  if (code === GRPC.NOT_FOUND) return ApiError.notFound(demoId ? `demo ${demoId}` : 'demo');
  if (err instanceof ServiceError) return ApiError.unavailable('temporal_unavailable', `Temporal call failed: ${err.message}`);
  return undefined;
}

/** True when the error says the workflow has already closed (an update or signal came too late). */
export function isWorkflowClosed(err: unknown): boolean {
  let e = err as { message?: string; cause?: unknown } | undefined;
  for (let i = 0; e && i < 6; i++, e = e.cause as typeof e) {
    if (e instanceof WorkflowNotFoundError) return false;
    if (typeof e.message === 'string' && /already completed|workflow execution already completed|execution has completed/i.test(e.message)) return true;
  }
  return false;
}
