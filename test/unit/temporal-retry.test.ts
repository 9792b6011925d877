/** Which Temporal failures the clients retry, and how (fast, no services: the real outages are in chaos/hardening). */
import { WorkflowUpdateRPCTimeoutOrCancelledError } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import { isTransientTemporalError, retryTransient } from '../../client/retry';

const grpc = (code: number, message: string) => Object.assign(new Error(message), { code, details: message, metadata: {} });
const wrapped = (cause: Error) => new Error('outer', { cause });

describe('transient Temporal failures', () => {
  it('recognises the ones seen in practice, anywhere in the cause chain', () => {
    expect(isTransientTemporalError(grpc(9, '9 FAILED_PRECONDITION: unexpected workflow task failure'))).toBe(true);
    expect(isTransientTemporalError(wrapped(grpc(14, 'UNAVAILABLE: connection refused')))).toBe(true);
    expect(isTransientTemporalError(grpc(8, 'RESOURCE_EXHAUSTED: too many in-flight updates'))).toBe(true);
    expect(isTransientTemporalError(new WorkflowUpdateRPCTimeoutOrCancelledError('timed out', { cause: new Error('deadline') }))).toBe(true);
  });
  it('leaves permanent ones alone', () => {
    expect(isTransientTemporalError(grpc(9, 'FAILED_PRECONDITION: workflow execution already completed'))).toBe(false);
    expect(isTransientTemporalError(grpc(5, 'NOT_FOUND: workflow not found'))).toBe(false);
    expect(isTransientTemporalError(new Error('NoCapacity'))).toBe(false);
  });
  it('retries with backoff until it works, and reports each retry', async () => {
    let calls = 0;
    const retries: number[] = [];
    const result = await retryTransient('op', async () => {
      calls++;
      if (calls < 3) throw grpc(9, 'unexpected workflow task failure');
      return 'done';
    }, { firstDelayMs: 5, onRetry: (r) => retries.push(r.delayMs) });
    expect(result).toBe('done');
    expect(calls).toBe(3);
    expect(retries).toEqual([5, 10]);
  });
  it('gives up after the attempts, and never retries a permanent error', async () => {
    let calls = 0;
    await expect(retryTransient('op', async () => { calls++; throw grpc(14, 'UNAVAILABLE'); }, { attempts: 3, firstDelayMs: 1 })).rejects.toThrow('UNAVAILABLE');
    expect(calls).toBe(3);
    calls = 0;
    await expect(retryTransient('op', async () => { calls++; throw grpc(5, 'NOT_FOUND'); }, { firstDelayMs: 1 })).rejects.toThrow('NOT_FOUND');
    expect(calls).toBe(1);
  });
});
