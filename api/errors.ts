/**
 * API errors: one class carrying the HTTP status, a stable code and a message, and the mapping of
 * Temporal client errors onto it. Anything unexpected becomes a 500 `internal` whose message says
 * nothing about internals (the details go to the log).
 */
import { ServiceError, WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError, isGrpcDeadlineError } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/common';
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { GRPC, grpcCode } from '../client';
import { FAILURE_TYPES, failureMessage, failureType } from '../contract';
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

/**
 * Maps an error from a Temporal call about one demo to an ApiError. Returns undefined for errors
 * that are not Temporal's (the caller rethrows them).
 */
export function temporalToApiError(err: unknown, demoId?: string): ApiError | undefined {
  if (err instanceof ApiError) return err;
  if (err instanceof WorkflowNotFoundError) return ApiError.notFound(demoId ? `demo ${demoId}` : 'demo');
  const type = failureType(err);
  if (type === FAILURE_TYPES.maxLifetimeExceeded) return new ApiError(409, 'max_lifetime_exceeded', failureMessage(err));
  if (type === FAILURE_TYPES.notReady) return new ApiError(409, 'demo_not_ready', failureMessage(err));
  if (type === FAILURE_TYPES.invalidInput) return new ApiError(400, 'bad_request', failureMessage(err));
  if (err instanceof WorkflowUpdateFailedError) return new ApiError(409, 'update_rejected', `the demo refused the change: ${failureMessage(err)}`.slice(0, 300));
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
