/**
 * Demo ids are the secret of an unclaimed demo (its subdomain): they come from node:crypto, never
 * from a workflow's PRNG (seeded per run, so ids made with it were predicted from a run id).
 */
import type { temporal } from '@temporalio/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_ID_ALPHABET, DEMO_ID_PATTERN } from '../../contract';
import { ensurePool, poolHandle, poolSettings, poolStats } from '../../client';
import { releaseDemoSignal } from '../../contract';
import { decodeHistoryPayloads } from '../helpers/history';
import { realActivities, startHarness, testConfig, type Harness } from '../helpers/stack';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('t-ids-', { config: testConfig({ DMX_TASK_QUEUE_PREFIX: 't-ids-' }) });
});
afterAll(async () => {
  await h?.stop();
});

/** Pearson's chi-square of symbol counts against a uniform distribution. */
function chiSquare(counts: number[], total: number): number {
  const expected = total / counts.length;
  return counts.reduce((sum, c) => sum + (c - expected) ** 2 / expected, 0);
}

describe('demo ids', () => {
  it('1,000 ids from the id activity are unique, well-formed and uniform in every position', async () => {
    const { activities } = realActivities(h.deps);
    const ids = await activities.generateDemoIds({ count: 1000 });
    expect(ids).toHaveLength(1000);
    expect(new Set(ids).size).toBe(1000);
    for (const id of ids) expect(id).toMatch(DEMO_ID_PATTERN);
    // 31 degrees of freedom: 70 is exceeded with probability < 1e-4 by uniform symbols; a PRNG
    // seeded per run would still pass this, which is why the pool's history is checked below.
    for (let pos = 0; pos < 16; pos++) {
      const counts = Array(DEMO_ID_ALPHABET.length).fill(0);
      for (const id of ids) counts[DEMO_ID_ALPHABET.indexOf(id[pos]!)]++;
      expect(chiSquare(counts, ids.length), `position ${pos}`).toBeLessThan(70);
    }
    // A second batch shares nothing with the first (no reproducible sequence).
    const again = await activities.generateDemoIds({ count: 1000 });
    expect(again.filter((id) => ids.includes(id))).toEqual([]);
    await expect(activities.generateDemoIds({ count: 0 })).rejects.toThrow(/count must be 1-1000/);
  });

  it("a pool's demo ids are the id activity's results recorded in its history, not the workflow's uuid4()", async () => {
    const settings = poolSettings(h.config, 'standin', 2, { maxConcurrentProvisions: 2 });
    await ensurePool(h.client, h.config, settings);
    const handle = poolHandle(h.client, h.config, 'standin');
    try {
      const deadline = Date.now() + 90_000;
      let stats = await poolStats(h.client, h.config, 'standin');
      while (stats.ready < 2 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 300));
        stats = await poolStats(h.client, h.config, 'standin');
      }
      expect(stats.ready).toBe(2);
      const history = await handle.fetchHistory();
      const events = history.events ?? [];
      const markers = events.filter((e) => e.markerRecordedEventAttributes);
      const generated: string[] = [];
      for (const m of markers) {
        const decoded = await decodeHistoryPayloads(h.client, Object.values(m.markerRecordedEventAttributes!.details ?? {}).flatMap((p) => p.payloads ?? []));
        if (!JSON.stringify(decoded).includes('generateDemoIds')) continue;
        for (const v of decoded) if (Array.isArray(v)) generated.push(...(v as string[]));
      }
      const started = events
        .map((e: temporal.api.history.v1.IHistoryEvent) => e.startChildWorkflowExecutionInitiatedEventAttributes?.workflowId)
        .filter((id): id is string => Boolean(id))
        .map((id) => id.replace(/^demo-/, ''));
      expect(started.length).toBeGreaterThanOrEqual(2);
      expect(generated).toEqual(expect.arrayContaining(started));
      expect(stats.readyDemoIds.every((id) => generated.includes(id))).toBe(true);
    } finally {
      const ids = (await poolStats(h.client, h.config, 'standin').catch(() => undefined))?.readyDemoIds ?? [];
      await handle.cancel();
      await handle.result().catch(() => undefined);
      for (const id of ids) await h.client.workflow.getHandle(`demo-${id}`).signal(releaseDemoSignal, { reason: 'test done' }).catch(() => undefined);
      for (const id of ids) await h.client.workflow.getHandle(`demo-${id}`).result().catch(() => undefined);
    }
  }, 150_000);
});
