/**
 * 1. Acquire latency: `POST /v1/demos` against our API process at several concurrency levels while
 * the pool refills, with the floors of the same moment (GET /healthz at the same concurrency, a
 * Valkey round trip) and the claim's breakdown (Valkey script, signal). Claimed demos are released
 * after each round and the pool refilled before the next.
 */
import { join } from 'node:path';
import { loadavg } from 'node:os';
import { request } from 'undici';
import { createClaimer } from '../client';
import { createSecretDeriver, loadOrCreateMasterKey } from '../lib/secrets';
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

/** The same concurrency against `GET /healthz`: the API's own HTTP floor on this machine, now. */
async function healthzRound(ctx: BenchContext, concurrency: number, requests: number): Promise<Summary & { perSecond: number }> {
  const samples: number[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < requests) {
      next++;
      const t = performance.now();
      const r = await request(`${ctx.api.url}/healthz`, { dispatcher: ctx.http });
      await r.body.dump();
      samples.push(performance.now() - t);
    }
  }));
  return { ...summarize(samples), perSecond: samples.length / ((performance.now() - t0) / 1000) };
}

/** One Valkey round trip (PING), one at a time: the store's floor. */
async function valkeyRoundTrip(ctx: BenchContext, n = 200): Promise<Summary> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await ctx.deps.valkey.ping();
    out.push(performance.now() - t0);
  }
  return summarize(out);
}

const load = () => loadavg()[0]!.toFixed(2);

/**
 * Claims through the HTTP API at each concurrency while the pool refills in the same run: a few
 * demos are claimed just before each round, so provisioning runs throughout it (checked: the
 * pool's `provisioning` at the start and end). Beside them, the floors of the same moment.
 */
export async function measureAcquire(ctx: BenchContext): Promise<{ rows: Row[]; details: unknown }> {
  const { acquireConcurrency: levels, acquireClaims: claims } = ctx.opts;
  const rounds: Array<RoundResult & { refill: { provisioningAtStart: number; provisioningAtEnd: number }; loadavg: string; healthz: Summary & { perSecond: number } }> = [];
  const rows: Row[] = [];
  const size = Math.max(...claims) + 10;
  await fillPool(ctx, size);
  const warm = await acquireRound(ctx, 1, 1);
  await deleteDemos(ctx, warm.ids);
  for (let i = 0; i < levels.length; i++) {
    const c = levels[i]!;
    const n = claims[i] ?? claims[claims.length - 1]!;
    await fillPool(ctx, size);
    await settle(ctx);
    // Start the refill: claim ten and wait until the pool provisions their replacements (it hears
    // of a claim when the demo acknowledges it), so the round runs while it refills.
    const kick = await acquireRound(ctx, 10, 10);
    const refilling = Date.now() + 15_000;
    while ((await stats(ctx)).provisioning === 0 && Date.now() < refilling) await new Promise((r) => setTimeout(r, 100));
    const atStart = (await stats(ctx)).provisioning;
    const loadAtStart = load();
    const r = await acquireRound(ctx, c, n);
    const atEnd = (await stats(ctx)).provisioning;
    const healthz = await healthzRound(ctx, c, Math.max(200, n));
    const { ids, ...rest } = r;
    rounds.push({ ...rest, refill: { provisioningAtStart: atStart, provisioningAtEnd: atEnd }, loadavg: loadAtStart, healthz });
    await deleteDemos(ctx, [...ids, ...kick.ids]);
    const target = c === 10 ? 'p50 ≤ 5, p99 ≤ 25' : c === 50 ? '≥ 1,000 claims/s' : undefined;
    const met = c === 10 ? r.latency.p50 <= 5 && r.latency.p99 <= 25 : c === 50 ? r.claimsPerSecond >= 1000 : undefined;
    const failures = Object.entries(r.failed).map(([k, v]) => `${v}× ${k}`).join(', ');
    rows.push({
      group: 'acquire', name: `POST /v1/demos, ${c} concurrent, pool refilling`, unit: 'ms', summary: r.latency, target, met,
      note: `${r.claimsPerSecond.toFixed(0)} claims/s over ${r.wallSeconds.toFixed(2)} s; provisioning ${atStart}→${atEnd}; load ${loadAtStart}${failures ? `; not handed out: ${failures}` : ''}`,
    });
    rows.push({ group: 'acquire', name: `  floor: GET /healthz, ${c} concurrent`, unit: 'ms', summary: healthz, note: `${healthz.perSecond.toFixed(0)} requests/s` });
  }
  // Where a claim's time goes, measured in this process on the same store: the claim script
  // (one Valkey round trip), the demoClaimed signal (sent after the answer, off its path).
  await fillPool(ctx, size);
  await settle(ctx);
  const b = await claimBreakdown(ctx, Math.min(50, size - 1));
  const valkey = await valkeyRoundTrip(ctx);
  rows.push(
    { group: 'acquire', name: '  breakdown: claim script in Valkey (1 at a time)', unit: 'ms', summary: b.script },
    {
      group: 'acquire', name: '  breakdown: claim → acknowledged by the demo (worker\'s deliverer signals; off the answer\'s path)', unit: 'ms', summary: b.delivery,
      note: b.undelivered ? `${b.undelivered} not acknowledged within 30 s` : undefined,
    },
    { group: 'acquire', name: '  floor: Valkey round trip (PING)', unit: 'ms', summary: valkey },
  );
  return { rows, details: { rounds, breakdown: b, valkeyRoundTrip: valkey, loadavgAtEnd: load() } };
}

/**
 * Where a claim's time goes, measured in this process on the same store: the claim script (one
 * Valkey round trip, the whole of the answer's work outside HTTP), then, off the answer's path,
 * the delivery: the worker's deliverer signals the demo and the demo acknowledges the claim.
 */
export async function claimBreakdown(ctx: BenchContext, n: number) {
  const secrets = createSecretDeriver(loadOrCreateMasterKey(join(ctx.config.stateDir, 'secret.key')));
  const claimer = createClaimer({ client: ctx.client, config: ctx.config, valkey: ctx.deps.valkey, secrets });
  const script: number[] = [];
  const claimedAt = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const out = await claimer.claim({ template: ctx.opts.template, ttlSeconds: 900, owner: 'bench', requestedBy: 'bench' });
    if (out.kind !== 'claimed') break;
    script.push(out.valkeyMs);
    claimedAt.set(out.state.demoId, performance.now());
    ctx.demos.add(out.state.demoId);
  }
  const delivery: number[] = [];
  const open = new Set(claimedAt.keys());
  for (const deadline = Date.now() + 30_000; open.size > 0 && Date.now() < deadline;) {
    for (const id of [...open]) {
      if ((await claimer.store.read(id))?.acknowledged) {
        delivery.push(performance.now() - claimedAt.get(id)!);
        open.delete(id);
      }
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  await releaseDemos(ctx, [...claimedAt.keys()]);
  return { script: summarize(script), delivery: summarize(delivery), undelivered: open.size };
}
