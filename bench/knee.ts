/**
 * 7. The refill knee: ready demos per minute with N provisions at a time (fresh demos, no pool, so
 * only N changes), to pick the pool's default `DMX_POOL_MAX_CONCURRENT_PROVISIONS`: past the knee
 * more parallel provisions only queue on the 2 cores and each one takes longer.
 */
import { cpus } from 'node:os';
import { coldProvision } from './cold';
import { cpuBetween, cpuSnapshot, describePerDemo, type CpuUse } from './cpu';
import { releaseDemos, type BenchContext } from './context';
import { settle } from './pool';
import type { Row } from './report';
import { summarize, type Summary } from './stats';

export interface KneePoint { parallel: number; demos: number; seconds: number; perMinute: number; latency: Summary; failed: number; cpu: CpuUse }

/** `demos` cold provisions, `parallel` at a time; every demo released afterwards. */
export async function provisionsInParallel(ctx: BenchContext, parallel: number, demos: number): Promise<KneePoint> {
  const ids: string[] = [];
  const latencies: number[] = [];
  let failed = 0;
  let next = 0;
  const cpuBefore = cpuSnapshot(ctx.config);
  const t0 = performance.now();
  await Promise.all(Array.from({ length: parallel }, async () => {
    while (next < demos) {
      next++;
      try {
        const s = await coldProvision(ctx);
        ids.push(s.demoId);
        latencies.push(s.totalMs);
      } catch {
        failed++;
      }
    }
  }));
  const seconds = (performance.now() - t0) / 1000;
  const cpu = cpuBetween(cpuBefore, cpuSnapshot(ctx.config));
  await releaseDemos(ctx, ids);
  await settle(ctx);
  return { parallel, demos, seconds, perMinute: (ids.length / seconds) * 60, latency: summarize(latencies), failed, cpu };
}

export async function measureKnee(ctx: BenchContext): Promise<{ rows: Row[]; details: unknown }> {
  const points: KneePoint[] = [];
  for (const n of ctx.opts.kneeLevels) points.push(await provisionsInParallel(ctx, n, Math.max(ctx.opts.kneeDemos, 2 * n)));
  const best = points.reduce((a, b) => (b.perMinute > a.perMinute ? b : a), points[0]!);
  // The knee: the fewest parallel provisions within 10% of the best rate.
  const knee = points.find((p) => p.perMinute >= 0.9 * best.perMinute) ?? best;
  const rows: Row[] = points.map((p) => ({
    group: 'knee', name: `${p.parallel} provisions at a time (${p.demos} fresh demos)`, unit: 'ready/min', value: p.perMinute,
    target: p === knee ? '≥ 200 ready/min; knee' : undefined, met: p === knee ? p.perMinute >= 200 : undefined,
    note: `each → 200 through Caddy p50 ${p.latency.p50.toFixed(0)} ms, p99 ${p.latency.p99.toFixed(0)} ms${p.failed ? `, ${p.failed} FAILED` : ''}; `
      + `host CPU busy ${((p.cpu.busySeconds / p.seconds) * 100).toFixed(0)} % of ${cpus().length * 100} %; ${describePerDemo(p.cpu, p.demos - p.failed)}`,
  }));
  return { rows, details: { points, knee: knee.parallel, notes: [`refill knee: ${knee.parallel} provisions at a time (${knee.perMinute.toFixed(0)} ready/min; best ${best.perMinute.toFixed(0)} at ${best.parallel})`] } };
}
