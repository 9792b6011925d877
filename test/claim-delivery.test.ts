/**
 * The claim deliverer (the worker process's, here in the harness) on the real stack: a claim is
 * signalled to its demo once it is DMX_POOL_CLAIM_DELIVERY_HOLD_MS old, not before (the rest of a
 * burst of claims and the visitor's first pages keep the CPU), each claim after its own hold
 * however many are waiting; an extend or release delivers the claim at once, and the held
 * delivery then sends nothing more.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensurePool, poolHandle, poolSettings, poolStats } from '../client';
import { CLAIM_DELIVERY_HOLD_MS, demoClaimedSignal, demoStateQuery, demoWorkflowId, releaseDemoSignal, type DemoClaim } from '../contract';
import { eventually } from './api/helpers';
import { expectNoTraces } from './helpers/leaks';
import { startHarness, testConfig, type Harness } from './helpers/stack';

const PREFIX = 't-deliver-';
const TEMPLATE = 'standin';
let h: Harness;
const claimed: string[] = [];

const handle = (id: string) => h.client.workflow.getHandle(demoWorkflowId(id));

/** Server times (ms) at which the demo's workflow received a claim signal. */
async function claimSignalTimes(id: string): Promise<number[]> {
  const times: number[] = [];
  for await (const e of (await handle(id).fetchHistory()).events ?? []) {
    if (e.workflowExecutionSignaledEventAttributes?.signalName === demoClaimedSignal.name) {
      const t = e.eventTime!;
      times.push(Number(t.seconds) * 1000 + Math.floor((t.nanos ?? 0) / 1e6));
    }
  }
  return times;
}

async function claimOne(): Promise<{ id: string; claim: DemoClaim }> {
  const out = await h.claimer.claim({ template: TEMPLATE, ttlSeconds: 120, owner: 'claim-delivery-test', requestedBy: 'test' });
  if (out.kind !== 'claimed') throw new Error(`no demo to claim: ${out.kind}`);
  claimed.push(out.state.demoId);
  return { id: out.state.demoId, claim: out.claim };
}

beforeAll(async () => {
  h = await startHarness(PREFIX, { config: testConfig({ DMX_TASK_QUEUE_PREFIX: PREFIX }) });
  expect(h.config.pool.claimDeliveryHoldMs).toBe(CLAIM_DELIVERY_HOLD_MS.default);
  await ensurePool(h.client, h.config, poolSettings(h.config, TEMPLATE, 4, { maxConcurrentProvisions: 4 }));
  await eventually(async () => {
    expect((await poolStats(h.client, h.config, TEMPLATE)).ready).toBeGreaterThanOrEqual(4);
    expect(await h.claimer.store.readyCount(TEMPLATE)).toBeGreaterThanOrEqual(4);
  }, { timeoutMs: 120_000, intervalMs: 500 });
});

afterAll(async () => {
  const pool = poolHandle(h.client, h.config, TEMPLATE);
  await pool.cancel().catch(() => undefined);
  await pool.result().catch(() => undefined);
  await h?.stop();
});

describe('claim delivery', () => {
  const hold = CLAIM_DELIVERY_HOLD_MS.default;

  it('signals each claim of a burst to its demo once the claim is the hold old, and then the demo is ready', async () => {
    const burst = await Promise.all([claimOne(), claimOne(), claimOne()]);
    // Before its hold has passed the demo does not know (a query answers from the workflow itself).
    expect((await handle(burst[0]!.id).query(demoStateQuery)).status).toBe('pooled');
    for (const { id, claim } of burst) {
      const live = await eventually(async () => {
        const s = await handle(id).query(demoStateQuery);
        expect(s.status).toBe('ready');
        return s;
      }, { timeoutMs: 20_000, intervalMs: 100 });
      expect(live.expiresAt).toBe(claim.expiresAt);
      const [signalled, ...again] = await claimSignalTimes(id);
      // Valkey's claim time is this host's clock, the event time the Temporal server's (same host).
      expect(signalled! - Date.parse(claim.claimedAt), id).toBeGreaterThanOrEqual(hold - 20);
      expect(again, id).toEqual([]);
      expect((await h.claimer.store.read(id))?.acknowledged, id).toBe(true);
    }
  });

  it('an extend or release delivers a claim at once; the held delivery then sends nothing more', async () => {
    const { id, claim } = await claimOne();
    await h.claimer.ensureDelivered(id);
    const [signalled] = await claimSignalTimes(id);
    expect(signalled! - Date.parse(claim.claimedAt)).toBeLessThan(hold);
    expect((await h.claimer.store.read(id))?.acknowledged).toBe(true);
    // Past the hold: the deliverer found it acknowledged.
    await new Promise((r) => setTimeout(r, hold + 500));
    expect(await claimSignalTimes(id)).toHaveLength(1);
  });

  it('every claimed demo ends and leaves nothing behind', async () => {
    for (const id of claimed) await handle(id).signal(releaseDemoSignal, { reason: 'claim delivery test' });
    for (const id of claimed) {
      await handle(id).result();
      await expectNoTraces(h.deps, id);
    }
  });
});
