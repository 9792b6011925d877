/**
 * 4. Teardown lag: demos claimed with a short TTL; from `expiresAt` to the moment the last trace
 * (Caddy route, database + account, container, Valkey key) is gone, observed by polling the same
 * checks as test/helpers/leaks.ts, and as the workflow records it (`endedAt` − `expiresAt`). Once
 * on a quiet host, once under load: fresh demos provisioned and released beside the samples.
 */
import { loadavg } from 'node:os';
import { demoHandle } from '../client';
import { statusThroughCaddy } from '../adapters/footprint';
import { demoTraces, isClean, releaseDemos, sleep, until, type BenchContext, type DemoState } from './context';
import { acquireRound } from './acquire';
import { coldProvision } from './cold';
import { fillPool, settle } from './pool';
import type { Row } from './report';
import { summarize } from './stats';

export interface TeardownSample { demoId: string; hung?: string[]; lastRouteStatus?: number; observedMs: number; workflowMs: number; teardownStepMs?: number; routeGoneMs?: number }

export async function teardownSample(ctx: BenchContext, ttlSeconds: number): Promise<TeardownSample> {
  const r = await acquireRound(ctx, 1, 1, ttlSeconds);
  const demoId = r.ids[0];
  if (!demoId) throw new Error(`claim failed: ${JSON.stringify(r.failed)}`);
  const handle = demoHandle(ctx.client, demoId);
  // The claim is a Valkey script; the demo learns of it (and of its expiry) a moment later.
  const { expiresAt } = await until(`demo ${demoId} to learn of its claim`, () => handle.query<DemoState>('demoState'), (d) => Boolean(d.expiresAt), 10_000, 20);
  const expiresMs = Date.parse(expiresAt!);
  if (process.env.DMX_BENCH_DEBUG) process.stderr.write(`  teardown sample ${demoId}: expires in ${expiresMs - Date.now()} ms\n`);
  await sleep(Math.max(0, expiresMs - Date.now() - 50));
  const deadline = expiresMs + 60_000;
  const hung: string[] = [];
  /**
   * Polls one check until `gone`; returns ms after expiry, sampled when the poll that saw it gone
   * started. The route and the rest are polled apart: a request for a gone route takes 500 ms
   * (Caddy retries the lookup before its 404), which would otherwise coarsen every other check.
   */
  async function goneAt(check: () => Promise<boolean>): Promise<number> {
    while (Date.now() < deadline) {
      const now = Date.now();
      try {
        if (await check()) return now - expiresMs;
      } catch (err) {
        hung.push(`${demoId}: ${(err as Error).message} after ${Date.now() - now} ms`);
      }
      await sleep(25);
    }
    return Number.NaN;
  }
  // A fresh connection per request: a kept-alive one that Caddy dropped on a config reload was seen to hang.
  let lastRouteStatus: number | undefined;
  const routeGone = goneAt(async () => (lastRouteStatus = await statusThroughCaddy(ctx.deps, demoId)) === 404);
  const restGone = goneAt(async () => isClean({ ...(await demoTraces(ctx, demoId, { route: false })), routeStatus: 404 }));
  const [routeGoneMs, restGoneMs] = await Promise.all([routeGone, restGone]);
  const observedMs = Math.max(routeGoneMs, restGoneMs);
  const final = (await handle.result()) as DemoState;
  if (hung.length) process.stderr.write(`  teardown sample ${demoId}: checks that failed: ${hung.join('; ')}\n`);
  if (Number.isNaN(routeGoneMs)) process.stderr.write(`  teardown sample ${demoId}: the route still answered ${lastRouteStatus} 60 s after expiry\n`);
  return { demoId, hung, lastRouteStatus, observedMs, workflowMs: Date.parse(final.endedAt!) - Date.parse(final.expiresAt!), teardownStepMs: final.stepMs.teardown, routeGoneMs };
}

/** Provisions at a time in the load beside the loaded samples: the pool's default refill concurrency. */
const LOAD_PROVISIONS = 2;

/**
 * A host busy the way a pool under churn keeps it: `parallel` loops, each provisioning a fresh demo
 * (restore, data, check) and releasing it once ready (removal, drop), until stopped.
 */
function churn(ctx: BenchContext, parallel: number): { stop(): Promise<{ cycles: number; seconds: number }> } {
  let stopped = false;
  let cycles = 0;
  const t0 = performance.now();
  const loops = Array.from({ length: parallel }, async () => {
    while (!stopped) {
      try {
        const s = await coldProvision(ctx);
        await releaseDemos(ctx, [s.demoId]);
        cycles++;
      } catch (err) {
        ctx.errors.push(`teardown load: ${(err as Error).message}`);
        await sleep(1_000);
      }
    }
  });
  return {
    async stop() {
      stopped = true;
      await Promise.all(loops);
      return { cycles, seconds: (performance.now() - t0) / 1000 };
    },
  };
}

function teardownRows(samples: TeardownSample[], label: string, note: string): Row[] {
  const observed = summarize(samples.map((s) => s.observedMs));
  return [
    { group: 'teardown', name: `expiry → last trace gone (polled)${label}`, unit: 'ms', summary: observed, target: 'p99 ≤ 1000', met: observed.p99 <= 1000, note },
    { group: 'teardown', name: '  expiry → workflow endedAt', unit: 'ms', summary: summarize(samples.map((s) => s.workflowMs)) },
    { group: 'teardown', name: '  teardown steps (stepMs.teardown)', unit: 'ms', summary: summarize(samples.map((s) => s.teardownStepMs ?? Number.NaN)) },
    { group: 'teardown', name: '  expiry → route answers 404', unit: 'ms', summary: summarize(samples.flatMap((s) => (s.routeGoneMs === undefined ? [] : [s.routeGoneMs]))) },
  ];
}

export async function measureTeardown(ctx: BenchContext): Promise<{ rows: Row[]; details: unknown }> {
  const n = ctx.opts.teardownSamples;
  if (process.env.DMX_BENCH_DEBUG) process.stderr.write(`  teardown: filling the pool to ${Math.max(n, 2)}\n`);
  await fillPool(ctx, Math.max(n, 2));
  if (process.env.DMX_BENCH_DEBUG) process.stderr.write('  teardown: pool full\n');
  const samples: TeardownSample[] = [];
  for (let i = 0; i < n; i++) samples.push(await teardownSample(ctx, 2));

  const loadBefore = loadavg()[0]!;
  const load = churn(ctx, LOAD_PROVISIONS);
  const loaded: TeardownSample[] = [];
  let churned: { cycles: number; seconds: number };
  try {
    for (let i = 0; i < n; i++) loaded.push(await teardownSample(ctx, 2));
  } finally {
    churned = await load.stop();
  }
  const loadAfter = loadavg()[0]!;
  await settle(ctx);
  const perMinute = (churned.cycles / churned.seconds) * 60;
  return {
    rows: [
      ...teardownRows(samples, '', 'quiet host; sampled at each poll\'s start; polls ~every 25 ms + the poll itself'),
      ...teardownRows(loaded, `, under load (fresh demos provisioned and released ${LOAD_PROVISIONS} at a time beside it)`,
        `${perMinute.toFixed(0)} demos/min provisioned and released beside it; load ${loadBefore.toFixed(1)} → ${loadAfter.toFixed(1)}`),
    ],
    details: { samples, loaded, load: { provisionsAtATime: LOAD_PROVISIONS, ...churned, perMinute } },
  };
}
