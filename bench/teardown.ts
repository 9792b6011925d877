/**
 * 4. Teardown lag: demos claimed with a short TTL; from `expiresAt` to the moment the last trace
 * (Caddy route, database + account, container, Valkey key) is gone, observed by polling the same
 * checks as test/helpers/leaks.ts, and as the workflow records it (`endedAt` − `expiresAt`).
 */
import { demoHandle } from '../client';
import { demoTraces, isClean, sleep, type BenchContext, type DemoState } from './context';
import { acquireRound } from './acquire';
import { fillPool } from './pool';
import type { Row } from './report';
import { summarize } from './stats';

export interface TeardownSample { demoId: string; observedMs: number; workflowMs: number; teardownStepMs?: number; routeGoneMs?: number }

export async function teardownSample(ctx: BenchContext, ttlSeconds: number): Promise<TeardownSample> {
  const r = await acquireRound(ctx, 1, 1, ttlSeconds);
  const demoId = r.ids[0];
  if (!demoId) throw new Error(`claim failed: ${JSON.stringify(r.failed)}`);
  const handle = demoHandle(ctx.client, demoId);
  const { expiresAt } = await handle.query<DemoState>('demoState');
  const expiresMs = Date.parse(expiresAt!);
  await sleep(Math.max(0, expiresMs - Date.now() - 50));
  let routeGoneMs: number | undefined;
  let observedMs = Number.NaN;
  const deadline = expiresMs + 60_000;
  while (Date.now() < deadline) {
    const t = await demoTraces(ctx, demoId);
    const now = Date.now();
    if (routeGoneMs === undefined && t.routeStatus === 404) routeGoneMs = now - expiresMs;
    if (isClean(t)) {
      observedMs = now - expiresMs;
      break;
    }
    await sleep(25);
  }
  const final = (await handle.result()) as DemoState;
  return { demoId, observedMs, workflowMs: Date.parse(final.endedAt!) - Date.parse(final.expiresAt!), teardownStepMs: final.stepMs.teardown, routeGoneMs };
}

export async function measureTeardown(ctx: BenchContext): Promise<{ rows: Row[]; details: unknown }> {
  const n = ctx.opts.teardownSamples;
  await fillPool(ctx, Math.max(n, 2));
  const samples: TeardownSample[] = [];
  for (let i = 0; i < n; i++) samples.push(await teardownSample(ctx, 2));
  const observed = summarize(samples.map((s) => s.observedMs));
  return {
    rows: [
      { group: 'teardown', name: 'expiry → last trace gone (polled)', unit: 'ms', summary: observed, target: 'p99 ≤ 2000', met: observed.p99 <= 2000 },
      { group: 'teardown', name: '  expiry → workflow endedAt', unit: 'ms', summary: summarize(samples.map((s) => s.workflowMs)) },
      { group: 'teardown', name: '  teardown steps (stepMs.teardown)', unit: 'ms', summary: summarize(samples.map((s) => s.teardownStepMs ?? Number.NaN)) },
      { group: 'teardown', name: '  expiry → route answers 404', unit: 'ms', summary: summarize(samples.flatMap((s) => (s.routeGoneMs === undefined ? [] : [s.routeGoneMs]))) },
    ],
    details: { samples },
  };
}
