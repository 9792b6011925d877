/**
 * The limits a demo request spends before it is handed a demo (api/quotas.ts says which buckets):
 * one claim of each bucket's hourly budget and one live-demo slot each, taken atomically per bucket
 * in Valkey before the claim, given back only when nothing was handed out, bound to the demo after.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from '../lib/logger';
import { ApiError } from './errors';
import type { LimitBucket } from './quotas';
import type { Limiter } from './rate-limit';

export interface Spent {
  /** Nothing was handed out: the budgets and slots go back. */
  giveBack(): Promise<void>;
  /** The demo handed out holds the slots until its expiry (moved on extend, freed on DELETE). */
  bind(demoId: string, expiresAtMs: number): Promise<void>;
}

export async function spendLimits(limiter: Limiter, log: Logger, buckets: LimitBucket[], untilMs: number): Promise<Spent> {
  const slot = `pending:${randomUUID()}`;
  const spent: string[] = [];
  const reserved: string[] = [];
  const giveBack = async () => {
    await Promise.all([
      ...spent.map((b) => limiter.refundHourly(b)),
      ...reserved.map((b) => limiter.cancelSlot(b, slot)),
    ]).catch((err: Error) => log.warn({ err: err.message }, 'could not give back a limit'));
  };
  try {
    for (const b of buckets) {
      const hourly = await limiter.spendHourly(b.id, b.perHour);
      if (!hourly.allowed) {
        throw new ApiError(429, 'too_many_claims', `at most ${b.perHour} demos per hour for this client; ending a demo does not give one back`, {
          'Retry-After': String(hourly.retryAfterSeconds),
        });
      }
      if (b.perHour > 0) spent.push(b.id);
      if (b.maxLive <= 0) continue;
      const live = await limiter.reserveSlot(b.id, slot, untilMs, b.maxLive);
      if (!live.allowed) {
        throw new ApiError(429, 'too_many_live_demos', `at most ${b.maxLive} live demos for this client; end one (DELETE) or wait`, {
          'Retry-After': String(live.retryAfterSeconds),
        });
      }
      reserved.push(b.id);
    }
  } catch (err) {
    await giveBack();
    if (err instanceof ApiError) throw err;
    log.error({ err: (err as Error).message }, 'limits unavailable (Valkey)');
    throw ApiError.unavailable('unavailable', 'cannot check the limits now; try again shortly');
  }
  return {
    giveBack,
    async bind(demoId, expiresAtMs) {
      await Promise.all(reserved.map((b) => limiter.bindSlot(b, slot, demoId, expiresAtMs)))
        .catch((err: Error) => log.warn({ err: err.message, demoId }, 'could not record the live demo'));
    },
  };
}
