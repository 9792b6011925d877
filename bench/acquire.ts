/**
 * 1. Acquire latency: `POST /v1/demos` against our API process with a full warm pool, at several
 * concurrency levels. Each round starts with the pool full and idle; claimed demos are released
 * (DELETE) after the round and the pool refilled before the next.
 */
import { request } from 'undici';
import { claimFromPool, poolHandle } from '../client';
import { setPoolTargetUpdate } from '../contract';
import { deleteDemos, releaseDemos, stats, type BenchContext } from './context';
import { fillPool, settle } from './pool';
import type { Row } from './report';
import { summarize, type Summary } from './stats';

export interface RoundResult {
  concurrency: number;
  claims: number;
  ok: number;
  failed: Record<string, number>;
  wallSeconds: number;
  claimsPerSecond: number;
  latency: Summary;
  samples: number[];
}

/** `claims` POSTs spread over `concurrency` clients, each sending its next request when the last answered. */
export async function acquireRound(ctx: BenchContext, concurrency: number, claims: number, ttlSeconds = 900): Promise<RoundResult & { ids: string[] }> {
  const samples: number[] = [];
  const ids: string[] = [];
  const failed: Record<string, number> = {};
  let next = 0;
  const body = JSON.stringify({ template: ctx.opts.template, ttlSeconds });
  const client = async () => {
    while (next < claims) {
      next++;
      const t0 = performance.now();
      try {
        const r = await request(`${ctx.api.url}/v1/demos`, {
          method: 'POST', body, headers: { 'content-type': 'application/json' }, dispatcher: ctx.http,
        });
        const text = await r.body.text();
        const ms = performance.now() - t0;
        if (r.statusCode === 201) {
          samples.push(ms);
          const id = (JSON.parse(text) as { id: string }).id;
          ids.push(id);
          ctx.demos.add(id);
        } else {
          const code = `${r.statusCode} ${(/"code":"([a-z_]+)"/.exec(text) ?? [])[1] ?? ''}`.trim();
          failed[code] = (failed[code] ?? 0) + 1;
        }
      } catch (err) {
        const code = (err as Error).name;
        failed[code] = (failed[code] ?? 0) + 1;
      }
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, client));
  const wallSeconds = (performance.now() - t0) / 1000;
  return { concurrency, claims, ok: samples.length, failed, wallSeconds, claimsPerSecond: samples.length / wallSeconds, latency: summarize(samples), samples, ids };
}

export async function measureAcquire(ctx: BenchContext): Promise<{ rows: Row[]; details: unknown }> {
  const { acquireConcurrency: levels, acquireClaims: claims } = ctx.opts;
  const rounds: RoundResult[] = [];
  const rows: Row[] = [];
  // One warm-up claim (connection set-up, first gRPC call), not counted.
  await fillPool(ctx, Math.max(...claims) + 1);
  const warm = await acquireRound(ctx, 1, 1);
  await deleteDemos(ctx, warm.ids);
  for (let i = 0; i < levels.length; i++) {
    const c = levels[i]!;
    const n = claims[i] ?? claims[claims.length - 1]!;
    await fillPool(ctx, Math.max(...claims) + 1);
    await settle(ctx);
    const r = await acquireRound(ctx, c, n);
    const { ids, ...rest } = r;
    rounds.push(rest);
    await deleteDemos(ctx, ids);
    const target = c === 10 ? 'p50 ≤ 30, p99 ≤ 100' : undefined;
    const failures = Object.entries(r.failed).map(([k, v]) => `${v}× ${k}`).join(', ');
    rows.push({
      group: 'acquire', name: `POST /v1/demos, warm pool, ${c} concurrent`, unit: 'ms', summary: r.latency, target,
      met: target ? r.latency.p50 <= 30 && r.latency.p99 <= 100 : undefined,
      note: `${r.claimsPerSecond.toFixed(1)} claims/s over ${r.wallSeconds.toFixed(2)} s${failures ? `; failed: ${failures}` : ''}`,
    });
  }
  // Where a claim's time goes: one Temporal round trip to the pool's worker (query), one workflow
  // task (no-op update), the claim Update itself (two workflow tasks: it awaits the demoClaimed
  // signal's delivery), and the HTTP API on top (the rounds above).
  const n = Math.min(20, Math.max(...claims));
  await fillPool(ctx, Math.max(...claims) + 1);
  await settle(ctx);
  const b = await claimBreakdown(ctx, n);
  rows.push(
    { group: 'acquire', name: '  breakdown: poolStats query (Temporal → worker → back)', unit: 'ms', summary: b.query },
    { group: 'acquire', name: '  breakdown: no-op setPoolTarget Update (1 workflow task)', unit: 'ms', summary: b.noopUpdate },
    { group: 'acquire', name: '  breakdown: claimDemo Update, Temporal client, 1 concurrent', unit: 'ms', summary: b.claimUpdate },
  );
  return { rows, details: { rounds, breakdown: b } };
}

export async function claimBreakdown(ctx: BenchContext, n: number) {
  const handle = poolHandle(ctx.client, ctx.config, ctx.opts.template);
  const time = async (fn: () => Promise<unknown>) => {
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      await fn();
      out.push(performance.now() - t0);
    }
    return summarize(out);
  };
  const target = (await stats(ctx)).target;
  const query = await time(() => stats(ctx));
  const noopUpdate = await time(() => handle.executeUpdate(setPoolTargetUpdate, { args: [{ target }] }));
  const ids: string[] = [];
  const claimUpdate = await time(async () => {
    const d = await claimFromPool(ctx.client, ctx.config, ctx.opts.template, { ttlSeconds: 900, waitSeconds: 0, requestedBy: 'bench' });
    ids.push(d.demoId);
    ctx.demos.add(d.demoId);
  });
  await releaseDemos(ctx, ids);
  return { query, noopUpdate, claimUpdate };
}
