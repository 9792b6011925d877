/**
 * `npm run bench [-- --quick] [flags]`: benchmarks against the real stack (the profile's
 * configuration via loadConfig(), dev by default) with the stand-in template. Writes
 * bench/results/latest.json (quick runs: latest-quick.json) and prints a Markdown table.
 * Cleans up after itself: every demo it got is released and leak-checked, the pool is put back to
 * the size it had, and the throwaway containers, network, image and Caddy are removed.
 */
import { execa } from 'execa';
import { demoHandle, refreshPoolTemplate, resizePool } from '../client';
import { readTemplateSpec } from '../templates/spec';
import { measureAcquire } from './acquire';
import { measureCold } from './cold';
import { measureKnee } from './knee';
import { closeContext, createContext, demoTraces, isClean, releaseDemos, stats, until, type BenchContext } from './context';
import { environment } from './env';
import { parseOptions } from './options';
import { settle } from './pool';
import { renderReport, type BenchResult, type Row } from './report';
import { measureRoutes } from './routes';
import { saveFinal, saveProgress } from './save';
import { measureScaling } from './scaling';
import { measureTeardown } from './teardown';
import { measureVisitor } from './visitor';

const SECTIONS: Array<[string, (ctx: BenchContext) => Promise<{ rows: Row[]; details: unknown }>]> = [
  ['acquire', measureAcquire],
  ['cold', measureCold],
  ['teardown', measureTeardown],
  ['knee', measureKnee],
  ['scaling', measureScaling],
  ['routes', measureRoutes],
  ['visitor', measureVisitor],
];

/** Releases whatever of ours still runs, puts the pool back and checks that nothing of ours is left. */
async function cleanUp(ctx: BenchContext, poolTarget: number, result: BenchResult): Promise<void> {
  const ids = [...ctx.demos];
  const running: string[] = [];
  for (const id of ids) {
    const d = await demoHandle(ctx.client, id).describe().catch(() => undefined);
    if (d?.status.name === 'RUNNING') running.push(id);
  }
  await releaseDemos(ctx, running, 'bench cleanup');
  await resizePool(ctx.client, ctx.config, ctx.opts.template, poolTarget);
  await until(`pool back at ${poolTarget}`, () => stats(ctx), (s) => s.ready === poolTarget && s.provisioning === 0, 10 * 60_000, 500)
    .catch((err: Error) => result.errors.push(err.message));
  await settle(ctx);
  const leaks: string[] = [];
  // Several at once: each check is six lookups and a request through Caddy, and one at a time took
  // ~17 min after a scaling run that had taken 2,000 demos (then with Caddy's 0.5 s lookup retries).
  let next = 0;
  await Promise.all(Array.from({ length: 16 }, async () => {
    while (next < ids.length) {
      const id = ids[next++]!;
      const t = await demoTraces(ctx, id);
      if (!isClean(t)) leaks.push(`${id}: ${JSON.stringify(t)}`);
    }
  }));
  const env = { PATH: `${ctx.config.podman.criuBinDir}:${process.env.PATH ?? ''}` };
  const left = (await execa('podman', ['ps', '-a', '--format', '{{.Names}}', '--filter', 'name=^dmx-bench-'], { env })).stdout.trim();
  const nets = (await execa('podman', ['network', 'ls', '--format', '{{.Name}}', '--filter', 'name=^dmx-bench-'], { env })).stdout.trim();
  if (left) leaks.push(`containers: ${left.replace(/\n/g, ' ')}`);
  if (nets) leaks.push(`networks: ${nets.replace(/\n/g, ' ')}`);
  result.details.cleanup = { demosChecked: ids.length, released: running.length, poolTarget, leaks };
  if (leaks.length) result.errors.push(`left behind: ${leaks.join('; ')}`);
  else result.notes.push(`clean-up: ${ids.length} demos released and leak-checked (container, database, account, Valkey key, name, route), pool back at ${poolTarget}, no bench container or network left`);
}

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  const ctx = await createContext(opts);
  const env = await environment(ctx.config, opts.quick ? 'quick' : 'full');
  const result: BenchResult = { env, rows: [], details: { options: opts }, notes: [], errors: [] };
  let found = await stats(ctx);
  // A pool that missed a re-checkpoint recycles every new demo as "outdated" for ever: tell it.
  const spec = readTemplateSpec(ctx.config.stateDir, opts.template);
  if (spec && found.templateVersion !== spec.version) {
    await refreshPoolTemplate(ctx.client, ctx.config, opts.template);
    result.notes.push(`pre-flight: pool ${opts.template} believed template version ${found.templateVersion} but the checkpoint on disk is ${spec.version} (recycled counter ${found.counters.recycled}): sent refreshTemplate`);
    found = await until('pool on the current template version', () => stats(ctx), (s) => s.templateVersion === spec.version, 60_000, 500);
  }
  process.stderr.write(`dmx bench (${env.mode}) on ${ctx.config.profile}: pool ${opts.template} target ${found.target}, API ${ctx.api.url}\n`);
  const planned = SECTIONS.filter(([name]) => !opts.only || opts.only.includes(name));
  try {
    for (const [i, [name, fn]] of planned.entries()) {
      const t0 = performance.now();
      process.stderr.write(`- ${name} …\n`);
      try {
        const r = await fn(ctx);
        result.rows.push(...r.rows);
        result.details[name] = r.details;
        const notes = (r.details as { notes?: string[] } | undefined)?.notes;
        if (notes) result.notes.push(...notes);
        const capped = (r.details as { podman?: { capped?: string } } | undefined)?.podman?.capped;
        if (capped) result.notes.push(capped);
      } catch (err) {
        result.errors.push(`${name}: ${(err as Error).stack ?? String(err)}`.slice(0, 2000));
      }
      process.stderr.write(`  ${name} done in ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);
      saveProgress(opts.out, result, [...planned.slice(i + 1).map(([n]) => n), 'clean-up']);
    }
  } finally {
    process.stderr.write('- clean-up …\n');
    await cleanUp(ctx, found.target, result).catch((err: Error) => result.errors.push(`cleanup: ${err.message}`));
    await closeContext(ctx);
  }
  env.finishedAt = new Date().toISOString();
  saveFinal(opts.out, result);
  process.stdout.write(`${renderReport(result)}\n\nwritten: ${opts.out}\n`);
  process.exitCode = result.errors.length ? 1 : 0;
}

main().catch((err) => {
  process.stderr.write(`dmx bench failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
