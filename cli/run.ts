/**
 * dmx — the operator CLI. Human-readable output by default, `--json` for scripts; exits non-zero
 * with a message on failure. Demos are cancelled (never terminated) with `temporal workflow
 * cancel`, or released gracefully with `dmx release`. `run(argv)` runs one command line in this
 * process (cli/dmx.ts is the executable; tests call `run` directly, without a process per run).
 */
import { Argument, Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { createFirewall } from '../adapters/firewall';
import { createPodman } from '../adapters/podman';
import { createRealDeps } from '../adapters/real-deps';
import {
  ensurePool, extendDemo, listDemos, listPoolTemplates, poolSettings, poolStats, readDemo, refreshPoolTemplate, releaseDemo, resizePool, waitForReadyDemos, withClient,
} from '../client';
import {
  DEMO_ID_FORMAT, DEMO_STATUSES, isDemoId, isTemplateName, MAX_EXTEND_SECONDS, MAX_POOL_TARGET, MAX_REASON_LENGTH, REQUEST_ID_FORMAT, REQUEST_ID_PATTERN,
  TEMPLATE_NAME_FORMAT, type DemoStatus, type PoolStats,
} from '../contract';
import { loadConfig, type Config } from '../lib/config';
import { checkpointTemplate } from '../templates/checkpoint';
import { printResult, printTable } from './output';
import { readiness } from './readiness';
import { replayWorkflow, workflowIdFor } from './replay';

/** Where one run writes, and the environment it reads its configuration from. */
export interface CliIO {
  out(text: string): void;
  err(text: string): void;
  env?: NodeJS.ProcessEnv;
}

const processIO: CliIO = { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) };

/**
 * Argument checks run while the command line is parsed, before any connection or change: a hostile
 * value (quotes, paths, control characters, huge numbers, look-alike letters) stops here with a
 * message and exit code 1.
 */
const wholeNumber = (name: string, min: number, max: number) => (v: string) => {
  if (!/^\d+$/.test(v)) throw new InvalidArgumentError(`${name} must be a non-negative integer`);
  const n = Number(v);
  if (n < min || n > max) throw new InvalidArgumentError(`${name} must be between ${min} and ${max}`);
  return n;
};
const templateName = (v: string) => {
  if (!isTemplateName(v)) throw new InvalidArgumentError(`a template name is ${TEMPLATE_NAME_FORMAT}`);
  return v;
};
const demoId = (v: string) => {
  if (!isDemoId(v)) throw new InvalidArgumentError(`invalid demo id: expected ${DEMO_ID_FORMAT}`);
  return v;
};
const requestId = (v: string) => {
  if (!REQUEST_ID_PATTERN.test(v)) throw new InvalidArgumentError(`a request id is ${REQUEST_ID_FORMAT}`);
  return v;
};
const workflowOrDemoId = (v: string) => {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,199}$/.test(v)) throw new InvalidArgumentError('expected a demo id or a workflow id ([A-Za-z0-9_.:-], at most 200)');
  return v;
};
/** Free text recorded in the workflow: bounded, no control or bidirectional-override characters. */
const reasonText = (v: string) => {
  if (v.length === 0 || v.length > MAX_REASON_LENGTH || /[\p{Cc}\u202a-\u202e\u2066-\u2069]/u.test(v)) {
    throw new InvalidArgumentError(`a reason is 1-${MAX_REASON_LENGTH} characters without control characters`);
  }
  return v;
};
/** An image reference (registry/name:tag or @digest); never something podman could read as an option. */
const imageRef = (v: string) => {
  if (!/^[a-z0-9][A-Za-z0-9._/:@-]{0,254}$/.test(v)) throw new InvalidArgumentError('an image reference like docker.io/prestashop/prestashop-flashlight:8.2.0');
  return v;
};
/** What reaches the terminal: control and bidi characters from arguments or errors are shown escaped. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const printable = (s: string) => s.replace(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);

/** The command tree of one run (commander keeps parsed options on it, so each run builds its own). */
function buildProgram(io: CliIO, exitCode: { value: number }): Command {
  const program = new Command('dmx').description('demo-multiplexer operator CLI').option('--json', 'machine-readable output').exitOverride();
  const json = () => Boolean(program.opts().json);
  let cachedConfig: Config | undefined;
  const config = () => (cachedConfig ??= loadConfig(io.env ?? process.env));

  program.configureOutput({ writeOut: io.out, writeErr: io.err, outputError: (str, write) => write(printable(str)) });

  program
    .command('checkpoint')
    .description('start a template container, warm it, and export its CRIU checkpoint')
    .argument('[name]', 'template name', templateName, 'standin')
    .addOption(new Option('--kind <kind>', 'template kind').choices(['standin', 'flashlight']).default('standin'))
    .option('--image <ref>', 'image to use (flashlight: e.g. docker.io/prestashop/prestashop-flashlight:8.2.0)', imageRef)
    .option('--force', 'take a new checkpoint even if the current one matches the image')
    .option('--no-checkpoint', 'record the template without a checkpoint (demos boot with podman run)')
    .option('--rebuild', "re-read the image's package sources (stand-in: Debian security fixes), rebuild the image if they changed, and checkpoint it")
    .action(async (name: string, o: { kind: 'standin' | 'flashlight'; image?: string; force?: boolean; checkpoint: boolean; rebuild?: boolean }) => {
      const deps = createRealDeps(config(), 'dmx-checkpoint', 2);
      try {
        const spec = await checkpointTemplate(deps, { name, kind: o.kind, image: o.image, force: o.force, noCheckpoint: !o.checkpoint, rebuildImage: o.rebuild });
        // A running pool recycles its unclaimed demos of the previous version.
        const told = spec.reused ? false : await withClient(config(), (c) => refreshPoolTemplate(c, config(), name)).catch(() => false);
        printResult(io.out, json(), { ...spec, poolNotified: told }, [
          ['template', spec.name], ['kind', spec.kind], ['version', spec.version], ['image', spec.image],
          ['checkpoint', spec.checkpointArchive ?? '(none: demos use podman run)'],
          ['database', spec.database], ['reused', String(spec.reused)],
          ['checkpoint seconds', spec.checkpointSeconds?.toFixed(2) ?? '-'],
          ['archive MB', spec.archiveBytes ? (spec.archiveBytes / 1e6).toFixed(1) : '-'],
          ['pool notified', String(told)],
        ]);
      } finally {
        await deps.close();
      }
    });

  program
    .command('firewall')
    .description("apply (or remove) the profile's demo firewall, an nftables table; the reconciler re-applies it on every pass")
    .addArgument(new Argument('[action]', 'what to do').choices(['apply', 'remove', 'show']).default('apply'))
    .action(async (action: 'apply' | 'remove' | 'show') => {
      const firewall = createFirewall(config(), createPodman({ criuBinDir: config().podman.criuBinDir }));
      if (action === 'remove') await firewall.remove();
      if (action === 'show') return void io.out(await firewall.current());
      const changed = action === 'apply' ? (await firewall.ensure()).changed : true;
      printResult(io.out, json(), { table: firewall.table, action, changed }, [['table', `inet ${firewall.table}`], ['action', action], ['changed', String(changed)]]);
    });

  program
    .command('list')
    .description('list demos (running ones unless --all)')
    .addOption(new Option('--status <status>', 'only this status').choices(DEMO_STATUSES))
    .option('--template <name>', 'only this template', templateName)
    .option('--all', 'include ended demos')
    .option('--limit <n>', 'at most this many', wholeNumber('limit', 1, 10_000), 100)
    .action(async (o: { status?: DemoStatus; template?: string; all?: boolean; limit: number }) => {
      const { demos } = await withClient(config(), (c) => listDemos(c, config(), { ...o, runningOnly: !o.all }));
      const rows = demos.map((d) => ({
        id: d.id, status: d.status ?? '-', template: d.template ?? '-', host: d.host ?? '-', expiresAt: d.expiresAt ?? '-', workflowStatus: d.workflowStatus,
      }));
      if (json()) return printResult(io.out, true, rows, []);
      printTable(io.out, ['ID', 'STATUS', 'TEMPLATE', 'HOST', 'EXPIRES', 'WORKFLOW'], rows.map((r) => [r.id, r.status, r.template, r.host, r.expiresAt, r.workflowStatus]));
    });

  program
    .command('show')
    .description("a demo's state: URL, host, container, database, timestamps, step timings")
    .argument('<id>', 'demo id', demoId)
    .action(async (id: string) => {
      const s = await withClient(config(), (c) => readDemo(c, id));
      printResult(io.out, json(), s, [
        ['id', s.demoId], ['status', s.status], ['template', `${s.template} ${s.templateVersion ?? ''}`.trim()],
        ['url', s.url ?? '-'], ['admin', s.adminUrl ?? '-'], ['login', s.credentials ? `${s.credentials.email} / ${s.credentials.password}` : '-'],
        ['host', s.host ?? '-'], ['container', s.container ?? '-'], ['database', s.database ?? '-'], ['restore', s.restoreMethod ?? '-'],
        ['created', s.createdAt], ['ready', s.readyAt ?? '-'], ['expires', s.expiresAt ?? '-'], ['max expiry', s.maxExpiresAt], ['ended', s.endedAt ?? '-'],
        ['steps (ms)', Object.entries(s.stepMs).map(([k, v]) => `${k}=${v}`).join(' ') || '-'],
        ...(s.error ? [['error', s.error] as [string, string]] : []),
      ]);
    });

  program
    .command('extend')
    .description("move a demo's expiry later (refused past its maximum lifetime)")
    .argument('<id>', 'demo id', demoId)
    .argument('<seconds>', 'seconds to add', wholeNumber('seconds', 1, MAX_EXTEND_SECONDS))
    .option('--request-id <id>', 'makes a retried extend apply once', requestId)
    .action(async (id: string, seconds: number, o: { requestId?: string }) => {
      const r = await withClient(config(), (c) => extendDemo(c, id, seconds, o.requestId, { retry: {} }));
      printResult(io.out, json(), r, [['expires', r.expiresAt]]);
    });

  program
    .command('release')
    .description('end a demo now: route, data and container are removed')
    .argument('<id>', 'demo id', demoId)
    .option('--reason <text>', 'recorded in the workflow', reasonText, 'released by an operator')
    .action(async (id: string, o: { reason: string }) => {
      const status = await withClient(config(), (c) => releaseDemo(c, id, o.reason, { retry: {} }));
      printResult(io.out, json(), { id, status }, [['id', id], ['status', status.replace('_', ' ')]]);
    });

  const pool = program
    .command('pool')
    .description('warm pool stats (all pools, or one); `pool resize TEMPLATE N` changes a target')
    .argument('[template]', 'template name', templateName)
    .action(async (template?: string) => {
      const stats = await withClient(config(), async (c) => {
        const names = template ? [template] : await listPoolTemplates(c, config());
        return Promise.all(names.map((t) => poolStats(c, config(), t)));
      });
      if (json()) return printResult(io.out, true, template ? stats[0] : stats, []);
      printPools(io.out, stats);
    });

  pool
    .command('resize')
    .description("set a pool's target size (starts the pool when none runs)")
    .argument('<template>', 'template name', templateName)
    .argument('<target>', 'ready demos to keep', wholeNumber('target', 0, MAX_POOL_TARGET))
    .action(async (template: string, target: number) => {
      const stats = await withClient(config(), async (c) => {
        if (await ensurePool(c, config(), poolSettings(config(), template, target))) return poolStats(c, config(), template).catch(() => undefined);
        return resizePool(c, config(), template, target);
      });
      if (json()) return printResult(io.out, true, stats ?? { template, target }, []);
      if (stats) printPools(io.out, [stats]);
      else io.out(`pool ${template} started with target ${target}\n`);
    });

  pool
    .command('wait')
    .description('wait until a pool has N ready demos, showing progress; fails with the pool\'s last error')
    .argument('<template>', 'template name', templateName)
    .option('--ready <n>', 'ready demos to wait for', wholeNumber('ready', 1, MAX_POOL_TARGET), 1)
    .option('--timeout <seconds>', 'give up after this long', wholeNumber('timeout', 1, 3600), 300)
    .action(async (template: string, o: { ready: number; timeout: number }) => {
      const t0 = Date.now();
      let shown = '';
      const stats = await withClient(config(), (c) => waitForReadyDemos(c, config(), template, {
        minReady: o.ready, timeoutMs: o.timeout * 1000,
        onProgress: (s) => {
          const line = `pool ${template}: ready ${s.ready}/${o.ready} (target ${s.target}), provisioning ${s.provisioning}, failed ${s.counters.failed}`;
          if (line !== shown && !json()) io.err(`  ${line}  [${Math.round((Date.now() - t0) / 1000)} s]\n`);
          shown = line;
        },
      }));
      if (json()) return printResult(io.out, true, stats, []);
      io.out(`pool ${template}: ${stats.ready} ready after ${Math.round((Date.now() - t0) / 1000)} s\n`);
    });

  program
    .command('status')
    .description("the API's readiness: each backend, the visitor's path through Caddy, and each pool (non-zero exit when not ready)")
    .action(async () => {
      const r = await readiness(config());
      if (json()) {
        printResult(io.out, true, r, []);
      } else {
        printTable(io.out, ['CHECK', 'OK', 'MS', 'ERROR'], Object.entries(r.checks).map(([name, c]) => [name, c.ok ? 'yes' : 'NO', String(c.ms), c.error ?? '']));
        if (r.pools?.length) {
          printTable(io.out, ['POOL', 'TARGET', 'READY', 'PROVISIONING', 'FAILURES IN A ROW', 'LAST ERROR'],
            r.pools.map((p) => [p.template, String(p.target), String(p.ready), String(p.provisioning), String(p.consecutiveFailures), p.lastError ?? '-']));
        }
      }
      if (r.status !== 'ready') exitCode.value = 1;
    });

  program
    .command('replay')
    .description("replay a workflow's history against the current workflow code (reports non-determinism)")
    .argument('<id>', 'demo id, or a workflow id such as pool-standin', workflowOrDemoId)
    .action(async (id: string) => {
      const r = await withClient(config(), (c) => replayWorkflow(c, workflowIdFor(id)));
      printResult(io.out, json(), { ...r, deterministic: true }, [['workflow', r.workflowId], ['events', String(r.events)], ['replay', 'ok: the current code reproduces this history']]);
    });
  return program;
}

function printPools(out: (text: string) => void, stats: PoolStats[]): void {
  printTable(out, 
    ['TEMPLATE', 'TARGET', 'READY', 'PROVISIONING', 'WAITING', 'CLAIMED', 'FAILED', 'RECYCLED', 'VERSION', 'LAST ERROR'],
    stats.map((s) => [s.template, String(s.target), String(s.ready), String(s.provisioning), String(s.waitingClaims),
      String(s.counters.claimed), String(s.counters.failed), String(s.counters.recycled), s.templateVersion ?? '-', s.lastError?.slice(0, 60) ?? '-']),
  );
}

/** Runs one command line (the arguments after `dmx`); resolves to the exit code. */
export async function run(argv: string[], io: CliIO = processIO): Promise<number> {
  const exitCode = { value: 0 };
  try {
    await buildProgram(io, exitCode).parseAsync(argv, { from: 'user' });
    return exitCode.value;
  } catch (err) {
    // Commander has written its own message (or the help) already.
    if (err instanceof CommanderError) return err.exitCode;
    const e = err as Error;
    const cause = e.cause instanceof Error ? `: ${e.cause.message}` : '';
    io.err(printable(`dmx: ${e.message}${cause}`).slice(0, 2000) + '\n');
    return 1;
  }
}
