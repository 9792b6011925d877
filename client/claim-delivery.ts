/**
 * The loops that bring claims to their demos: the worker process's deliverer (each claim signalled
 * once its delivery hold has passed) and the API processes' re-delivery of claims left
 * unacknowledged. What a delivery does, and its guarantees, are in ./claims.ts.
 */
import type { Redis } from 'iovalkey';
import type { Claimer, ClaimerDeps } from './claims';

/**
 * Claims one deliverer holds (waiting out their hold, or being signalled) before it takes more; the
 * rest wait in Valkey's queue, and `redeliver` would send them if this deliverer died.
 */
const MAX_HELD_DELIVERIES = 2_000;

/**
 * The claim signals, off the API's event loop: the worker process runs this loop, which takes the
 * claims the claim script queued (`deliveries`, in claim order) as soon as they are queued and
 * signals each demo once its claim is the delivery hold old. The API answers without any Temporal
 * call; a deliverer that dies with claims in hand leaves them pending, and `redeliver` sends them.
 * Returns a stop function.
 */
export function startClaimDelivery(claimer: Claimer, valkey: Redis, log?: ClaimerDeps['log']): () => Promise<void> {
  const blocking = valkey.duplicate();
  // Connection errors surface as failed passes below; without a listener ioredis prints them raw.
  blocking.on('error', (err: Error) => log?.warn({ err: err.message }, 'valkey connection error (claim delivery)'));
  let running = true;
  // Claims taken and waiting out their hold (or being signalled): the loop goes on taking the
  // next ones meanwhile, so the hold delays each claim without slowing the stream of them.
  const held = new Set<Promise<void>>();
  const loop = (async () => {
    while (running) {
      try {
        while (held.size >= MAX_HELD_DELIVERIES) await Promise.race(held);
        for (const demoId of await claimer.takeQueued(blocking, 1)) {
          const p: Promise<void> = claimer.deliverTaken(demoId).finally(() => held.delete(p));
          held.add(p);
        }
      } catch (err) {
        log?.warn({ err: (err as Error).message }, 'claim delivery pass failed; retrying');
        await new Promise((r) => setTimeout(r, 1_000));
      }
    }
  })();
  return async () => {
    running = false;
    await loop;
    await Promise.all(held);
    blocking.disconnect();
  };
}

/**
 * Re-delivers unacknowledged claims now and every `everyMs` (the API runs it; every replica may:
 * deliveries are idempotent). Returns a stop function.
 */
export function startRedelivery(claimer: Claimer, everyMs: number, log?: ClaimerDeps['log']): () => void {
  let running = false;
  const pass = async () => {
    if (running) return;
    running = true;
    try {
      await claimer.redeliver();
    } catch (err) {
      log?.warn({ err: (err as Error).message }, 'claim re-delivery pass failed');
    } finally {
      running = false;
    }
  };
  void pass();
  const timer = setInterval(() => void pass(), everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
