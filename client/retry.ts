/**
 * Retries of transient Temporal failures for the clients (API, CLI, main command). Seen in practice:
 * an Update sent while the pool continues-as-new or after a worker restart answers
 * `FAILED_PRECONDITION … unexpected workflow task failure`; a server restart answers UNAVAILABLE; a
 * burst answers RESOURCE_EXHAUSTED. None of these applied the call, and every call wrapped here is
 * idempotent (queries, signals that are idempotent in the workflow, Updates with an update id or whose
 * effect is a target value), so trying again with backoff is safe and saves the caller an error.
 */
import { isGrpcServiceError, WorkflowUpdateRPCTimeoutOrCancelledError, type Client } from '@temporalio/client';
import { causeChain } from '../contract';
import { withDeadline } from './connection';
import { GRPC } from './errors';

export function isTransientTemporalError(err: unknown): boolean {
  for (const e of causeChain(err, 8)) {
    if (e instanceof WorkflowUpdateRPCTimeoutOrCancelledError) return true;
    const code = isGrpcServiceError(e) ? e.code : e.code;
    if (code === GRPC.UNAVAILABLE || code === GRPC.RESOURCE_EXHAUSTED || code === GRPC.ABORTED) return true;
    if (code === GRPC.FAILED_PRECONDITION && /workflow task fail|in-flight|busy/i.test(String(e.message ?? ''))) return true;
  }
  return false;
}

export interface RetryOptions {
  /** Attempts in all (first try included). */
  attempts?: number;
  firstDelayMs?: number;
  maxDelayMs?: number;
  /** Told about each failed attempt that will be retried. */
  onRetry?: (info: { what: string; attempt: number; delayMs: number; error: string }) => void;
}

/** Runs `fn`, retrying transient Temporal failures with exponential backoff; other errors pass through at once. */
export async function retryTransient<T>(what: string, fn: () => Promise<T>, o: RetryOptions = {}): Promise<T> {
  const attempts = o.attempts ?? 6;
  let delay = o.firstDelayMs ?? 200;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= attempts || !isTransientTemporalError(err)) throw err;
      o.onRetry?.({ what, attempt, delayMs: delay, error: (err as Error).message?.slice(0, 200) ?? String(err) });
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, o.maxDelayMs ?? 3_000);
    }
  }
}

/** Per call: a gRPC deadline, and retries of transient Temporal failures (only for idempotent calls). */
export interface CallOptions { deadlineMs?: number; retry?: RetryOptions }

/** Runs one Temporal call with its options: the deadline bounds every retry. */
export function call<T>(client: Client, o: CallOptions, what: string, fn: () => Promise<T>): Promise<T> {
  return withDeadline(client, o.deadlineMs, () => (o.retry ? retryTransient(what, fn, o.retry) : fn()));
}
