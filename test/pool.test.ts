/**
 * Warm pools on the real stack: claims (from the Valkey ready list) are atomic (one demo, one
 * caller), the pool refills, ages out unclaimed demos, follows template versions and target
 * changes, and cleans up when cancelled.
 */
import { WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkpointTemplate } from '../templates/checkpoint';
import { readTemplateSpec } from '../templates/spec';
import { demoWorkflowId, demoStateQuery, releaseDemoSignal, type DemoState, type PoolSettings, type PoolStats } from '../contract';
import { createClaimer, ensurePool, poolHandle, poolSettings, poolStats, refreshPoolTemplate, resizePool, type Claimer } from '../client';
import { createSecretDeriver, loadOrCreateMasterKey } from '../lib/secrets';
import { expectNoTraces } from './helpers/leaks';
import { startHarness, testConfig, type Harness } from './helpers/stack';

async function until<T>(what: string, fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    try {
      last = await fn();
      if (ok(last)) return last;
    } catch (err) {
      if (Date.now() > deadline) throw err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(last)?.slice(0, 500)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function viaCaddy(h: Harness, url: string): Promise<number> {
  const u = new URL(url);
  const res = await request(`http://127.0.0.1:${h.config.caddy.httpPort}/`, { reset: true, headers: { host: u.host } });
  await res.body.dump();
  return res.statusCode;
}

class NoDemo extends Error {}
let claimer: Claimer;

async function claim(template: string, ttlSeconds: number, waitSeconds = 0): Promise<DemoState> {
  const out = await claimer.claim({ template, ttlSeconds, owner: 'test', requestedBy: 'test', waitMs: waitSeconds * 1000 });
  if (out.kind !== 'claimed') throw new NoDemo(out.kind);
  return out.state;
}

async function releaseAndCheck(h: Harness, demoIds: string[]): Promise<void> {
  await Promise.all(demoIds.map(async (id) => {
    const handle = h.client.workflow.getHandle(demoWorkflowId(id));
    await handle.signal(releaseDemoSignal, { reason: 'test done' }).catch(() => undefined); // may have ended already
    await handle.result().catch(() => undefined);
  }));
  for (const id of demoIds) await expectNoTraces(h.deps, id);
}

/** Ids of every demo the pool workflow started (from the demos' own search attributes). */
async function demosOfPool(client: Client, template: string, prefix: string): Promise<string[]> {
  const ids: string[] = [];
  for await (const wf of client.workflow.list({ query: `DmxKind = 'demo' AND DmxTemplate = '${template}' AND TaskQueue = '${prefix}dmx-shared'` })) {
    ids.push(wf.workflowId.replace(/^demo-/, ''));
  }
  return ids;
}

async function stopPool(h: Harness, template: string): Promise<void> {
  const handle = poolHandle(h.client, h.config, template);
  await handle.cancel().catch(() => undefined);
  await handle.result().catch(() => undefined);
  await until('pool closed', () => handle.describe().then((d) => d.status.name).catch(() => 'NOT_FOUND'), (s) => s !== 'RUNNING', 30_000);
}

describe('warm pool', () => {
  let h: Harness;
  const settings = (over: Partial<PoolSettings> = {}) => poolSettings(h.config, 'standin', 10, { maxConcurrentProvisions: 4, ...over });

  beforeAll(async () => {
    h = await startHarness('t-pool-', { config: testConfig({ DMX_TASK_QUEUE_PREFIX: 't-pool-' }) });
    const secrets = createSecretDeriver(loadOrCreateMasterKey(join(h.config.stateDir, 'secret.key')));
    claimer = createClaimer({ client: h.client, config: h.config, valkey: h.deps.valkey, secrets });
  });
  afterAll(async () => {
    await stopPool(h, 'standin').catch(() => undefined);
    await h?.stop();
  });

  it('hands each of 200 concurrent claims at most one demo: exactly the 10 ready ones, never twice; then refills', async () => {
    expect(await ensurePool(h.client, h.config, settings())).toBe(true);
    expect(await ensurePool(h.client, h.config, settings())).toBe(false); // already running: no-op
    const full = await until('10 ready', () => poolStats(h.client, h.config, 'standin'), (s) => s.ready === 10);

    const t0 = performance.now();
    const results = await Promise.allSettled(Array.from({ length: 200 }, () => claim('standin', 60)));
    const burstMs = performance.now() - t0;
    const won = results.filter((r): r is PromiseFulfilledResult<DemoState> => r.status === 'fulfilled').map((r) => r.value);
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason);
    console.info(`200 claims in ${burstMs.toFixed(0)} ms: ${won.length} won, ${lost.length} no capacity`);
    // The 10 demos ready when the burst began all went out, each to one caller; the pool refills
    // while the burst runs, so a few more may have been claimed: never one demo twice.
    expect(won.map((d) => d.demoId)).toEqual(expect.arrayContaining(full.readyDemoIds));
    expect(new Set(won.map((d) => d.demoId)).size).toBe(won.length);
    expect(won.length).toBeGreaterThanOrEqual(10);
    expect(won.length + lost.length).toBe(200);
    for (const e of lost) expect(e).toBeInstanceOf(NoDemo);
    // Each demo acknowledges its claim, and the pool counts it (after the answers: never on their path).
    await until('claims acknowledged', () => poolStats(h.client, h.config, 'standin'), (s) => s.counters.claimed === won.length, 30_000);
    // Every claimed demo is really ready, in the claimer's hands, with the TTL of the claim, and answers through Caddy.
    for (const d of won) {
      expect(d.status).toBe('ready');
      // The claim answers before its signal reaches the demo (by design: claims do not wait for it).
      const live = await until(`demo ${d.demoId} claimed`, () => h.client.workflow.getHandle(demoWorkflowId(d.demoId)).query(demoStateQuery), (s) => s.status !== 'pooled', 10_000);
      expect(live.status).toBe('ready');
      expect(live.expiresAt).toBe(d.expiresAt);
      expect(live.credentials).toEqual(d.credentials);
      expect(live.url).toBe(d.url);
      expect(await viaCaddy(h, d.url!)).toBe(200);
    }
    const refilled = await until('refilled', () => poolStats(h.client, h.config, 'standin'), (s) => s.ready === 10);
    expect(refilled.counters.claimed).toBe(won.length);

    // Callers that agree to wait get a cold-provisioned demo once the ready ones are gone.
    const waited = await Promise.all(Array.from({ length: 12 }, () => claim('standin', 60, 90)));
    expect(new Set(waited.map((d) => d.demoId)).size).toBe(12);
    for (const d of waited) expect(await viaCaddy(h, d.url!)).toBe(200);

    await releaseAndCheck(h, [...won, ...waited].map((d) => d.demoId));
    // The pool's code never failed a workflow task on the way (a failing task retries silently).
    const history = await poolHandle(h.client, h.config, 'standin').fetchHistory();
    expect(history.events?.filter((e) => e.workflowTaskFailedEventAttributes)).toEqual([]);
  });

  it('refuses bad targets with clear errors, and shrinks to zero on request', async () => {
    const badTarget = await resizePool(h.client, h.config, 'standin', -1).catch((e) => e);
    expect((badTarget as WorkflowUpdateFailedError).cause?.message).toMatch(/target must be an integer/);

    const before = await poolStats(h.client, h.config, 'standin');
    const shrunk = await resizePool(h.client, h.config, 'standin', 0);
    expect(shrunk.target).toBe(0);
    // Recycles are counted as the demos end (a recycle that a claim beat is a claim).
    const after = await until('empty', () => poolStats(h.client, h.config, 'standin'),
      (s) => s.ready === 0 && s.provisioning === 0 && s.counters.recycled >= before.ready);
    expect(after.counters.recycled).toBeGreaterThanOrEqual(before.ready);
    // A demo that was still provisioning is recycled a moment later: it takes itself off the list.
    await until('ready list empty', () => claimer.store.readyCount('standin'), (n) => n === 0, 30_000);
  });

  it('recycles unclaimed demos of an old template version, keeps claimed ones running', async () => {
    await resizePool(h.client, h.config, 'standin', 2);
    const s0 = await until('2 ready', () => poolStats(h.client, h.config, 'standin'), (s) => s.ready === 2);
    const claimed = await claim('standin', 120);
    const oldVersion = s0.templateVersion;
    // The claim acknowledged and its replacement pooled (the refill waits a second after a claim): a
    // replacement still provisioning when the new checkpoint lands would be of the new version.
    await until('2 ready again', () => poolStats(h.client, h.config, 'standin'),
      (s) => s.ready === 2 && s.provisioning === 0 && s.counters.claimed === s0.counters.claimed + 1);

    // A new checkpoint of the same template: the pool is told, as `dmx checkpoint` does. Archives of
    // versions before the one it replaces go (two planted ones stand for them); the replaced one stays.
    const dir = join(h.config.stateDir, 'templates', 'standin');
    const ancient = ['000000000000-20200101000000.tar', '000000000000-20200101000000.pair-1.tar'];
    for (const f of ancient) writeFileSync(join(dir, f), 'old');
    const spec = await checkpointTemplate({ ...h.deps, log: h.deps.log }, { name: 'standin', kind: 'standin', force: true });
    expect(spec.version).not.toBe(oldVersion);
    const archives = readdirSync(dir);
    for (const f of ancient) expect(archives).not.toContain(f);
    expect(archives).toContain(`${oldVersion}.tar`);
    expect(archives).toContain(`${spec.version}.tar`);
    expect(readTemplateSpec(h.config.stateDir, 'standin')?.version).toBe(spec.version);
    expect(await refreshPoolTemplate(h.client, h.config, 'standin')).toBe(true);

    const s1: PoolStats = await until('new version pooled', () => poolStats(h.client, h.config, 'standin'),
      (s) => s.templateVersion === spec.version && s.ready === 2 && s.counters.recycled >= s0.counters.recycled + 2);
    expect(s1.templateVersion).toBe(spec.version);
    const fresh = await claim('standin', 60);
    expect(fresh.templateVersion).toBe(spec.version);
    // The claimed demo of the old version is untouched.
    const old = await h.client.workflow.getHandle(demoWorkflowId(claimed.demoId)).query(demoStateQuery);
    expect(old.status).toBe('ready');
    expect(old.templateVersion).toBe(oldVersion);
    expect(await viaCaddy(h, claimed.url!)).toBe(200);
    await releaseAndCheck(h, [claimed.demoId, fresh.demoId]);
  });

  it('ages out demos nobody claims, and recycles everything when the pool is cancelled', async () => {
    await stopPool(h, 'standin');
    expect(await ensurePool(h.client, h.config, settings({ target: 1, unclaimedMaxAgeSeconds: 3 }))).toBe(true);
    const first = await until('1 ready', () => poolStats(h.client, h.config, 'standin'), (s) => s.ready === 1 && s.unclaimedMaxAgeSeconds === 3);
    expect(first.counters.recycled).toBe(0);
    const aged = await until('aged out', () => poolStats(h.client, h.config, 'standin'), (s) => s.counters.recycled >= 1 && s.ready === 1, 30_000);
    expect(aged.readyDemoIds).not.toEqual(first.readyDemoIds);

    await stopPool(h, 'standin');
    const all = await demosOfPool(h.client, 'standin', 't-pool-');
    await until('all demos ended', async () => {
      const open: string[] = [];
      for (const id of all) if ((await h.client.workflow.getHandle(demoWorkflowId(id)).describe()).status.name === 'RUNNING') open.push(id);
      return open;
    }, (open) => open.length === 0, 90_000);
    for (const id of all) await expectNoTraces(h.deps, id);
    // The aged-out demos say so.
    const recycled = await Promise.all(all.map((id) => h.client.workflow.getHandle(demoWorkflowId(id)).result().catch(() => undefined)));
    expect(recycled.some((r) => (r as DemoState | undefined)?.status === 'recycled')).toBe(true);
  });
});
