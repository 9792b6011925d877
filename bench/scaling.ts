/**
 * 5 + 6. Density, refill rate and the scaling curve: the pool is emptied, then filled to each level
 * of live demos in turn (timing the refill), and at each level we read the demos' memory and
 * measure acquire (10 concurrent) and cold provisioning with that many demos live.
 */
import { resizePool } from '../client';
import { acquireRound } from './acquire';
import { coldRounds } from './cold';
import { deleteDemos, stats, until, type BenchContext } from './context';
import { measureDensity, memAvailableMB, type DensityResult } from './density';
import { fillPool, settle, type FillResult } from './pool';
import type { Row } from './report';
import type { Summary } from './stats';

export interface ScaleLevel {
  live: number;
  fill: FillResult;
  memAvailableDeltaMB: number;
  density: DensityResult;
  acquire: { concurrency: number; claims: number; ok: number; latency: Summary };
  cold: { total: Summary; steps: Record<string, Summary> };
}

/** Live demos the demo network allows (a /16 holds 65,533; podman's 2,048 container locks bind first). */
export function networkCap(subnet: string): number {
  const prefix = Number(subnet.split('/')[1] ?? 24);
  return Math.min(2 ** (32 - prefix) - 3, 2_048);
}

export async function measureScaling(ctx: BenchContext): Promise<{ rows: Row[]; details: unknown }> {
  const rows: Row[] = [];
  const levels: ScaleLevel[] = [];
  const wanted = ctx.opts.scaleLevels;
  const NETWORK_CAP = networkCap(ctx.config.podman.networkSubnet);
  const feasible = wanted.filter((l) => l + 15 <= NETWORK_CAP);
  const skipped = wanted.filter((l) => !feasible.includes(l));

  await resizePool(ctx.client, ctx.config, ctx.opts.template, 0);
  await until('pool empty', () => stats(ctx), (s) => s.ready === 0 && s.provisioning === 0, 5 * 60_000, 500);
  await settle(ctx);
  let memBefore = memAvailableMB();
  let liveBefore = 0;
  for (const live of feasible) {
    const fill = await fillPool(ctx, live, 30 * 60_000);
    await settle(ctx);
    const density = await measureDensity(ctx);
    const memNow = memAvailableMB();
    const memAvailableDeltaMB = (memBefore - memNow) / Math.max(1, live - liveBefore);
    memBefore = memNow;
    liveBefore = live;
    // Acquire at this level: 10 concurrent clients (fewer claims than live demos, released after).
    const claims = Math.min(live, 20);
    const a = await acquireRound(ctx, Math.min(10, claims), claims);
    await deleteDemos(ctx, a.ids);
    await fillPool(ctx, live);
    await settle(ctx);
    const cold = await coldRounds(ctx, Math.max(2, Math.min(ctx.opts.coldSamples, 5)));
    levels.push({
      live, fill, memAvailableDeltaMB, density,
      acquire: { concurrency: Math.min(10, claims), claims, ok: a.ok, latency: a.latency },
      cold: { total: cold.total, steps: cold.steps },
    });
    rows.push(
      { group: 'scaling', name: `acquire, ${Math.min(10, claims)} concurrent, ${live} live demos`, unit: 'ms', summary: a.latency },
      { group: 'scaling', name: `cold provision, ${live} live demos`, unit: 'ms', summary: cold.total, note: `connectDemoRoute p50 ${cold.steps.connectDemoRoute?.p50.toFixed(0) ?? '?'} ms, restoreAndCloneData p50 ${cold.steps.restoreAndCloneData?.p50.toFixed(0) ?? '?'} ms` },
    );
  }
  const last = levels[levels.length - 1];
  const first = levels[0];
  if (first && last) {
    const perDemoMB = last.density.cgroupMB.p50 + last.density.conmonMB.p50;
    const fit = Math.floor(last.density.memAvailableMB / perDemoMB) + last.live;
    rows.push(
      { group: 'density', name: `memory per live demo (cgroup), ${last.density.demos} demos`, unit: 'MB', summary: last.density.cgroupMB, note: `rss p50 ${last.density.rssMB.p50.toFixed(1)} MB, page cache p50 ${last.density.cacheMB.p50.toFixed(1)} MB; + conmon ${last.density.conmonMB.p50.toFixed(1)} MB; database ${last.density.databaseMB.toFixed(2)} MB on disk` },
      { group: 'density', name: 'MemAvailable drop per added demo (system-wide, noisy)', unit: 'MB', value: last.memAvailableDeltaMB },
      { group: 'density', name: 'demos that fit in memory (EXTRAPOLATED)', unit: 'demos', value: fit, note: `${Math.round(last.density.memAvailableMB)} MB available / ${perDemoMB.toFixed(1)} MB per demo + ${last.live} live; addresses and podman locks cap a host at ${NETWORK_CAP}` },
      { group: 'density', name: `pool refill 0 → ${first.live}`, unit: 'ready/min', value: first.fill.perMinute, note: `${first.fill.seconds.toFixed(1)} s, maxConcurrentProvisions ${(await stats(ctx)).maxConcurrentProvisions}` },
    );
    for (const l of levels.slice(1)) rows.push({ group: 'density', name: `pool refill ${l.fill.from} → ${l.live}`, unit: 'ready/min', value: l.fill.perMinute, note: `${l.fill.seconds.toFixed(1)} s` });
  }
  const notes = skipped.length
    ? [`scaling levels ${skipped.join(', ')} not measured: the demo network (${ctx.config.podman.networkSubnet}) and podman's container locks allow ${NETWORK_CAP} containers on this host`]
    : [];
  return { rows, details: { levels, skipped, notes } };
}

