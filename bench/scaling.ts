/**
 * 5 + 6. Density, refill rate and the scaling curve: the pool is emptied, then filled to each level
 * of live demos in turn (timing the refill), and at each level we read the demos' memory and
 * measure acquire (10 concurrent) and cold provisioning with that many demos live.
 */
import { resizePool } from '../client';
import { MAX_POOL_TARGET } from '../contract';
import { BRIDGE_PORT_LIMIT, type NetworkPair } from '../lib/network-pairs';
import { acquireRound } from './acquire';
import { coldRounds } from './cold';
import { deleteDemos, stats, until, type BenchContext } from './context';
import { podmanLocks } from './env';
import { measureDensity, memAvailableMB, type DensityResult } from './density';
import { fillPool, settle, type FillResult } from './pool';
import type { Row } from './report';
import type { Summary } from './stats';

export interface ScaleLevel {
  live: number;
  fill: FillResult;
  memAvailableDeltaMB: number;
  density: DensityResult;
  acquire: { concurrency: number; claims: number; ok: number; failed: Record<string, number>; latency: Summary };
  cold: { total: Summary; steps: Record<string, Summary> };
}

/** Live demos the network pairs (addresses, and a bridge's ports) and podman's lock count allow (each container holds one lock). */
export function networkCap(pairs: NetworkPair[], locks = 2_048): number {
  const perPair = (p: NetworkPair) => Math.min(2 ** (32 - Number(p.subnet.split('/')[1])) - 3, BRIDGE_PORT_LIMIT);
  return Math.min(pairs.reduce((sum, p) => sum + perPair(p), 0), locks);
}

/**
 * What one more demo costs the host: the larger of the kernel's MemAvailable drop per added demo
 * (includes kernel memory: page tables, network namespace, sockets) and its cgroup + conmon. With
 * memory merging, a merged page is charged to one cgroup only and counted in every conmon's RSS,
 * so the two can differ either way.
 */
function hostMBPerDemo(level: ScaleLevel): number {
  const accounted = level.density.cgroupMB.p50 + level.density.conmonMB.p50;
  return Number.isFinite(level.memAvailableDeltaMB) ? Math.max(level.memAvailableDeltaMB, accounted) : accounted;
}

export async function measureScaling(ctx: BenchContext): Promise<{ rows: Row[]; details: unknown }> {
  const rows: Row[] = [];
  const levels: ScaleLevel[] = [];
  const wanted = ctx.opts.scaleLevels;
  const NETWORK_CAP = networkCap(ctx.config.podman.pairs, podmanLocks());
  const feasible = wanted.filter((l) => l + 15 <= NETWORK_CAP);
  const skipped = wanted.filter((l) => !feasible.includes(l));

  await resizePool(ctx.client, ctx.config, ctx.opts.template, 0);
  await until('pool empty', () => stats(ctx), (s) => s.ready === 0 && s.provisioning === 0, 5 * 60_000, 500);
  await settle(ctx);
  let memBefore = memAvailableMB();
  let liveBefore = 0;
  /** Memory kept free for everything else on the host (other stacks share it). */
  const RESERVE_MB = 4_096;
  const memSkipped: number[] = [];
  let failedLevel: { live: number; error: string } | undefined;
  /** Claimed demos that keep a level's live count above what one pool may hold (MAX_POOL_TARGET). */
  const held: string[] = [];
  for (const live of feasible) {
    // Never fill a shared host into swapless memory pressure: extrapolate from the last level.
    const perDemoMB = levels.length ? hostMBPerDemo(levels[levels.length - 1]!) : 12;
    if ((live - liveBefore) * perDemoMB > memAvailableMB() - RESERVE_MB) {
      memSkipped.push(live);
      continue;
    }
    // A level that cannot be reached ends the curve; the levels measured before it are kept.
    const fill = await reachLive(ctx, live, held).catch((err: Error) => {
      failedLevel = { live, error: err.message };
      return undefined;
    });
    if (!fill) break;
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
    await fillPool(ctx, live - held.length);
    await settle(ctx);
    const cold = await coldRounds(ctx, Math.max(2, Math.min(ctx.opts.coldSamples, 5)));
    levels.push({
      live, fill, memAvailableDeltaMB, density,
      acquire: { concurrency: Math.min(10, claims), claims, ok: a.ok, failed: a.failed, latency: a.latency },
      cold: { total: cold.total, steps: cold.steps },
    });
    rows.push(
      {
        group: 'scaling', name: `acquire, ${Math.min(10, claims)} concurrent, ${live} live demos`, unit: 'ms', summary: a.latency,
        note: `${a.ok} of ${claims} claims answered${Object.keys(a.failed).length ? `; failed: ${Object.entries(a.failed).map(([k, v]) => `${v}× ${k}`).join(', ')}` : ''}`,
      },
      { group: 'scaling', name: `cold provision, ${live} live demos`, unit: 'ms', summary: cold.total, note: `containerAndData p50 ${cold.steps.containerAndData?.p50.toFixed(0) ?? '?'} ms, verifyDemoRouted p50 ${cold.steps.verifyDemoRouted?.p50.toFixed(0) ?? '?'} ms` },
    );
  }
  const last = levels[levels.length - 1];
  const first = levels[0];
  if (first && last) {
    const perDemoMB = hostMBPerDemo(last);
    const fit = Math.floor(last.density.memAvailableMB / perDemoMB) + last.live;
    rows.push(
      { group: 'density', name: `memory per live demo (cgroup), ${last.density.demos} demos`, unit: 'MB', summary: last.density.cgroupMB, note: `rss p50 ${last.density.rssMB.p50.toFixed(1)} MB, page cache p50 ${last.density.cacheMB.p50.toFixed(1)} MB; + conmon ${last.density.conmonMB.p50.toFixed(1)} MB; database ${last.density.databaseMB.toFixed(2)} MB on disk` },
      { group: 'density', name: 'MemAvailable drop per added demo (system-wide, noisy)', unit: 'MB', value: last.memAvailableDeltaMB },
      { group: 'density', name: 'demos that fit in memory (EXTRAPOLATED)', unit: 'demos', value: fit, note: `${Math.round(last.density.memAvailableMB)} MB available / ${perDemoMB.toFixed(1)} MB per demo (the larger of the MemAvailable drop and cgroup + conmon) + ${last.live} live; addresses and podman locks cap a host at ${NETWORK_CAP}` },
      { group: 'density', name: `pool refill 0 → ${first.live}`, unit: 'ready/min', value: first.fill.perMinute, note: `${first.fill.seconds.toFixed(1)} s, maxConcurrentProvisions ${(await stats(ctx)).maxConcurrentProvisions}` },
    );
    for (const l of levels.slice(1)) rows.push({ group: 'density', name: `pool refill ${l.fill.from} → ${l.live}`, unit: 'ready/min', value: l.fill.perMinute, note: `${l.fill.seconds.toFixed(1)} s` });
  }
  await deleteDemos(ctx, held.splice(0));
  const notes = [
    ...(skipped.length ? [`scaling levels ${skipped.join(', ')} not measured: the ${ctx.config.podman.pairs.length} network pairs (${BRIDGE_PORT_LIMIT} containers per bridge) and podman's container locks allow ${NETWORK_CAP} containers on this host`] : []),
    ...(failedLevel ? [`scaling level ${failedLevel.live} FAILED while filling: ${failedLevel.error}`] : []),
    ...(memSkipped.length ? [`scaling levels ${memSkipped.join(', ')} not measured: they would leave less than ${RESERVE_MB} MB of memory available on this shared host`] : []),
  ];
  return { rows, details: { levels, skipped, memSkipped, failedLevel, notes } };
}


/**
 * Brings the live demos to `live`. One pool holds at most MAX_POOL_TARGET, so above that the pool
 * is filled to its cap and claimed empty (those demos stay live, held with the longest TTL, in
 * `held`) until the rest fits in the pool. The fill rate is over all of it.
 */
async function reachLive(ctx: BenchContext, live: number, held: string[]): Promise<FillResult> {
  const t0 = performance.now();
  const before = (await stats(ctx)).ready + held.length;
  const timeline: Array<[number, number]> = [];
  while (live - held.length > MAX_POOL_TARGET) {
    const batch = Math.min(MAX_POOL_TARGET, live - held.length - MAX_POOL_TARGET);
    await fillPool(ctx, batch, 60 * 60_000);
    const claimedBefore = (await stats(ctx)).counters.claimed;
    const a = await acquireRound(ctx, 10, batch, ctx.config.demos.maxTtlSeconds);
    held.push(...a.ids);
    timeline.push([Math.round((performance.now() - t0) / 100) / 10, held.length]);
    if (a.ids.length < batch) throw new Error(`holding demos for ${live} live: ${a.ids.length} of ${batch} claims succeeded (${JSON.stringify(a.failed)})`);
    // The pool counts a claim once its demo acknowledges it: until then it still reports the demo
    // ready, and the fill below would end at once (seen: a "1,000 live" level that had ~500, whose
    // claims then waited seconds for fresh demos).
    await until('the pool counts the held claims', () => stats(ctx), (s) => s.counters.claimed >= claimedBefore + a.ids.length, 10 * 60_000, 500);
  }
  await fillPool(ctx, live - held.length, 60 * 60_000);
  const seconds = (performance.now() - t0) / 1000;
  timeline.push([Math.round(seconds * 10) / 10, live]);
  return { from: before, to: live, seconds, perMinute: live > before ? ((live - before) / seconds) * 60 : Number.NaN, timeline };
}
