/**
 * 2. Cold provisioning: a fresh demo (no pool: the API's fresh source, Update-with-Start of
 * `demoLifecycle` awaiting `awaitDemoReady`) until it answers 200 on its subdomain through Caddy,
 * with the workflow's per-step timings, interleaved with a raw `podman container restore --import`
 * of the same checkpoint (removed at once) for comparison.
 */
import { execa } from 'execa';
import { readTemplateSpec } from '../templates/spec';
import { releaseDemos, viaCaddy, type BenchContext } from './context';
import type { Row } from './report';
import { summarize, type Summary } from './stats';

export interface RawRestore { ms: number; runtimeRestoreMs?: number; criuRestoreMs?: number }

/** `podman container restore --import` of the template's checkpoint under a throwaway name, then removed. */
export async function rawRestore(ctx: BenchContext, name: string): Promise<RawRestore> {
  const spec = readTemplateSpec(ctx.config.stateDir, ctx.opts.template);
  if (!spec?.checkpointArchive) throw new Error(`template ${ctx.opts.template} has no checkpoint`);
  const env = { PATH: `${ctx.config.podman.criuBinDir}:${process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'}` };
  const t0 = performance.now();
  try {
    const r = await execa('podman', ['--runtime', 'runc', 'container', 'restore', '--import', spec.checkpointArchive, '--name', name,
      '--ignore-static-ip', '--ignore-static-mac', '--print-stats'], { env });
    const ms = performance.now() - t0;
    const out = String(r.stdout);
    try {
      const st = JSON.parse(out.slice(out.indexOf('{'))) as { container_statistics?: Array<{ runtime_restore_duration?: number; criu_statistics?: { restore_time?: number } }> };
      const e = st.container_statistics?.[0];
      return { ms, runtimeRestoreMs: e?.runtime_restore_duration !== undefined ? e.runtime_restore_duration / 1000 : undefined, criuRestoreMs: e?.criu_statistics?.restore_time !== undefined ? e.criu_statistics.restore_time / 1000 : undefined };
    } catch {
      return { ms };
    }
  } finally {
    await execa('podman', ['--runtime', 'runc', 'rm', '--force', '--time', '0', name], { env, reject: false });
  }
}

export interface ColdSample { demoId: string; totalMs: number; apiMs: number; firstGetMs: number; stepMs: Record<string, number> }

export async function coldProvision(ctx: BenchContext, ttlSeconds = 600): Promise<ColdSample> {
  const t0 = performance.now();
  const { state } = await ctx.fresh.acquire({ template: ctx.opts.template, ttlSeconds, wait: true, requestedBy: 'bench' });
  ctx.demos.add(state.demoId);
  const apiMs = performance.now() - t0;
  let status = 0;
  while (status !== 200 && performance.now() - t0 < 30_000) status = await viaCaddy(ctx, state.demoId);
  const totalMs = performance.now() - t0;
  if (status !== 200) throw new Error(`cold demo ${state.demoId} answered ${status} through Caddy`);
  return { demoId: state.demoId, totalMs, apiMs, firstGetMs: totalMs - apiMs, stepMs: state.stepMs };
}

export interface ColdResult { total: Summary; raw: Summary; rawRuntime: Summary; rawCriu: Summary; steps: Record<string, Summary>; samples: ColdSample[]; rawSamples: RawRestore[] }

/** `n` cold provisions and `n` raw restores, alternating, one at a time; each demo released before the next. */
export async function coldRounds(ctx: BenchContext, n: number): Promise<ColdResult> {
  const samples: ColdSample[] = [];
  const rawSamples: RawRestore[] = [];
  for (let i = 0; i < n; i++) {
    rawSamples.push(await rawRestore(ctx, `dmx-bench-raw-${process.pid}-${i}`));
    const s = await coldProvision(ctx);
    samples.push(s);
    await releaseDemos(ctx, [s.demoId]);
  }
  const stepNames = [...new Set(samples.flatMap((s) => Object.keys(s.stepMs)))];
  const steps = Object.fromEntries(stepNames.map((k) => [k, summarize(samples.map((s) => s.stepMs[k] ?? 0))]));
  return {
    total: summarize(samples.map((s) => s.totalMs)),
    raw: summarize(rawSamples.map((r) => r.ms)),
    rawRuntime: summarize(rawSamples.flatMap((r) => (r.runtimeRestoreMs === undefined ? [] : [r.runtimeRestoreMs]))),
    rawCriu: summarize(rawSamples.flatMap((r) => (r.criuRestoreMs === undefined ? [] : [r.criuRestoreMs]))),
    steps, samples, rawSamples,
  };
}

export async function measureCold(ctx: BenchContext): Promise<{ rows: Row[]; details: unknown }> {
  const r = await coldRounds(ctx, ctx.opts.coldSamples);
  const ratio = r.total.p50 / r.raw.p50;
  const rows: Row[] = [
    {
      group: 'cold', name: 'fresh demo → 200 through Caddy (no pool)', unit: 'ms', summary: r.total,
      target: 'p50 ≤ 1.25× raw restore (same run)', met: ratio <= 1.25, note: `${ratio.toFixed(2)}× raw restore (p50)`,
    },
    ...Object.entries(r.steps).map(([k, s]): Row => ({ group: 'cold', name: `  step ${k}`, unit: 'ms', summary: s })),
    { group: 'cold', name: 'raw `podman container restore --import`', unit: 'ms', summary: r.raw },
    { group: 'cold', name: '  of which runtime_restore (--print-stats)', unit: 'ms', summary: r.rawRuntime },
    { group: 'cold', name: '  of which CRIU restore_time', unit: 'ms', summary: r.rawCriu },
  ];
  return { rows, details: r };
}
