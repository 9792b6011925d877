/**
 * 3. Route registration as the number of live routes grows.
 *  a) dmx's route: a demo's name published in the names server (adapters/demo-names.ts: one file per
 *     demo that a dnsmasq reads by inotify; Caddy's one wildcard route dials `<name>.dmx`). Timed on a
 *     throwaway names server (deployments/names-server.sh, the stack's own flags) holding 0 … 5,000
 *     names: publish → resolves, a lookup, withdraw → NXDOMAIN.
 *  b) the earlier route: `podman network connect --alias <id> <edge network> <container>`, resolved
 *     by aardvark-dns. Measured on a throwaway /16 network filled with tiny busybox containers, each
 *     under its own alias (every filler is a container: the slow part of the section).
 *  c) the alternative: one Caddy admin-API route per demo, on a throwaway Caddy we start ourselves.
 */
import { execa } from 'execa';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { createDemoNames } from '../adapters/demo-names';
import { repoRoot } from '../lib/config';
import { randomDemoId } from '../lib/random-ids';
import { freePort, sleep, until, type BenchContext } from './context';
import { podmanLocks } from './env';
import type { Row } from './report';
import { summarize, type Summary } from './stats';

const BUSYBOX_IMAGE = 'localhost/dmx-bench-busybox:1';
const ULIMITS = ['--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=1024:1024'];
const LOCK_HEADROOM = 400;

const alias = randomDemoId;

function podmanEnv(ctx: BenchContext) {
  return { PATH: `${ctx.config.podman.criuBinDir}:${process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'}` };
}

async function pm(ctx: BenchContext, args: string[], reject = true) {
  return execa('podman', ['--runtime', 'runc', ...args], { env: podmanEnv(ctx), reject });
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

/** A ~2 MB image: the host's static busybox and nothing else. */
async function ensureBusyboxImage(ctx: BenchContext): Promise<void> {
  if ((await pm(ctx, ['image', 'exists', BUSYBOX_IMAGE], false)).exitCode === 0) return;
  const dir = mkdtempSync(join(tmpdir(), 'dmx-bench-bb-'));
  try {
    await execa('mkdir', ['-p', join(dir, 'bin')]);
    await execa('cp', ['/bin/busybox', join(dir, 'bin/busybox')]);
    await execa('sh', ['-c', `tar -C '${dir}' -c . | podman import --change 'CMD=["/bin/busybox","sleep","2147483647"]' - ${BUSYBOX_IMAGE}`]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function usedSubnets(ctx: BenchContext): Promise<string[]> {
  const r = await pm(ctx, ['network', 'inspect', ...(await pm(ctx, ['network', 'ls', '-q'])).stdout.split('\n').filter(Boolean)]);
  const nets = JSON.parse(r.stdout) as Array<{ subnets?: Array<{ subnet: string }> }>;
  return nets.flatMap((n) => (n.subnets ?? []).map((s) => s.subnet));
}

export interface AliasLevel { live: number; connect: Summary; disconnect: Summary; resolves: boolean; fillSeconds: number; runMsAtLevel: number }

export async function measurePodmanAliases(ctx: BenchContext, levels: number[], samples: number): Promise<{ levels: AliasLevel[]; capped?: string }> {
  await ensureBusyboxImage(ctx);
  const tag = `${process.pid}`;
  const net = `dmx-bench-edge-${tag}`;
  const probe = `dmx-bench-probe-${tag}`;
  const used = await usedSubnets(ctx);
  const second = [213, 214, 215, 216, 217].find((x) => !used.some((s) => s.startsWith(`10.${x}.`)));
  if (second === undefined) throw new Error('no free 10.21x.0.0/16 subnet for the bench network');
  const existing = (await pm(ctx, ['ps', '-a', '-q'])).stdout.split('\n').filter(Boolean).length;
  const locks = podmanLocks(); // every container holds one lock
  const maxFillers = locks - LOCK_HEADROOM - existing;
  let capped: string | undefined;
  const wanted = levels.filter((l) => l <= maxFillers);
  if (wanted.length < levels.length) {
    capped = `levels ${levels.filter((l) => l > maxFillers).join(', ')} skipped: podman's lock pool (num_locks ${locks}) holds ${existing} containers already; we keep ${LOCK_HEADROOM} free for the other stacks`;
  }
  const fillers: string[] = [];
  const out: AliasLevel[] = [];
  await pm(ctx, ['network', 'create', '--subnet', `10.${second}.0.0/16`, net]);
  try {
    await pm(ctx, ['run', '-d', ...ULIMITS, '--name', probe, '--network', 'podman', BUSYBOX_IMAGE]);
    for (const level of wanted) {
      const t0 = performance.now();
      const runMs: number[] = [];
      // Fill up to `level` containers on the network, each with its own alias, 4 at a time.
      while (fillers.length < level) {
        const batch = Math.min(4, level - fillers.length);
        await Promise.all(Array.from({ length: batch }, async () => {
          const name = `dmx-bench-bb-${tag}-${fillers.length}`;
          fillers.push(name);
          runMs.push(await timed(() => pm(ctx, ['run', '-d', ...ULIMITS, '--name', name, '--network', net, '--network-alias', alias(), BUSYBOX_IMAGE])));
        }));
      }
      const fillSeconds = (performance.now() - t0) / 1000;
      const connect: number[] = [];
      const disconnect: number[] = [];
      let resolves = false;
      for (let i = 0; i < samples; i++) {
        const a = alias();
        connect.push(await timed(() => pm(ctx, ['network', 'connect', '--alias', a, net, probe])));
        if (i === 0) {
          const gw = `10.${second}.0.1`;
          const r = await pm(ctx, ['exec', probe, '/bin/busybox', 'nslookup', `${a}.dns.podman`, gw], false);
          resolves = r.exitCode === 0 && /Address/.test(r.stdout.split('Name:')[1] ?? '');
        }
        disconnect.push(await timed(() => pm(ctx, ['network', 'disconnect', net, probe])));
      }
      out.push({ live: level, connect: summarize(connect), disconnect: summarize(disconnect), resolves, fillSeconds, runMsAtLevel: summarize(runMs.slice(-20)).p50 });
    }
  } finally {
    for (let i = 0; i < fillers.length; i += 50) await pm(ctx, ['rm', '--force', '--time', '0', ...fillers.slice(i, i + 50)], false);
    await pm(ctx, ['rm', '--force', '--time', '0', probe], false);
    await pm(ctx, ['network', 'rm', '--force', net], false);
    await pm(ctx, ['image', 'rm', BUSYBOX_IMAGE], false);
  }
  return { levels: out, capped };
}

export interface NamesLevel { names: number; publish: Summary; lookup: Summary; withdraw: Summary; fillSeconds: number }

export async function measureNamesServer(levels: number[], samples: number): Promise<NamesLevel[]> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'dmx-bench-names-'));
  const names = createDemoNames({ names: { port, dir } });
  // names-server.sh runs dnsmasq as nobody, as the stack's does: the folder must be theirs.
  await execa('chown', ['nobody:nogroup', dir]);
  const child = execa('bash', [join(repoRoot, 'deployments', 'names-server.sh'), dir, String(port), `${dir}.pid`], { reject: false, stdio: 'ignore' });
  const name = () => `dmx-bench-${alias()}`;
  let n = 0;
  const address = () => { n++; return `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255 || 1}`; };
  const out: NamesLevel[] = [];
  try {
    await until('bench names server', () => names.resolve('dmx-bench-check').then(() => true, () => false), (x) => x, 20_000, 100);
    let published = 0;
    for (const level of levels) {
      const t0 = performance.now();
      // Filled through the adapter itself, 16 at a time: each returns once its name resolves.
      await Promise.all(Array.from({ length: 16 }, async () => {
        while (published < level) {
          published++;
          await names.publish(name(), address());
        }
      }));
      const fillSeconds = (performance.now() - t0) / 1000;
      const publish: number[] = [];
      const lookup: number[] = [];
      const withdraw: number[] = [];
      for (let i = 0; i < samples; i++) {
        const [x, ip] = [name(), address()];
        publish.push(await timed(() => names.publish(x, ip)));
        let got: string | undefined;
        lookup.push(await timed(async () => { got = await names.resolve(x); }));
        if (got !== ip) throw new Error(`the bench names server answered ${got ?? 'NXDOMAIN'} for ${x}, published as ${ip}`);
        withdraw.push(await timed(() => names.withdraw(x)));
      }
      out.push({ names: level, publish: summarize(publish), lookup: summarize(lookup), withdraw: summarize(withdraw), fillSeconds });
    }
  } finally {
    child.kill('SIGTERM');
    await Promise.race([child, sleep(5_000)]);
    if (child.exitCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    rmSync(`${dir}.pid`, { force: true });
  }
  return out;
}

export interface CaddyLevel { routes: number; add: Summary; remove: Summary }

function demoRoute(id: string) {
  return {
    '@id': `bench-${id}`,
    match: [{ host: [`${id}.demo.localhost`] }],
    handle: [{ handler: 'reverse_proxy', upstreams: [{ dial: `${id}.dns.podman:80` }] }],
    terminal: true,
  };
}

export async function measureCaddyRoutes(levels: number[], samples: number): Promise<CaddyLevel[]> {
  const [adminPort, httpPort] = [await freePort(), await freePort()];
  const dir = mkdtempSync(join(tmpdir(), 'dmx-bench-caddy-'));
  const admin = `http://127.0.0.1:${adminPort}`;
  writeFileSync(join(dir, 'caddy.json'), JSON.stringify({
    admin: { listen: `127.0.0.1:${adminPort}` },
    apps: { http: { servers: { bench: { listen: [`127.0.0.1:${httpPort}`], automatic_https: { disable: true }, routes: [] } } } },
  }));
  const child = execa('caddy', ['run', '--config', join(dir, 'caddy.json')], {
    env: { XDG_DATA_HOME: join(dir, 'data'), XDG_CONFIG_HOME: join(dir, 'config') }, reject: false, stdio: 'ignore',
  });
  const call = async (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, body?: unknown) => {
    const r = await request(`${admin}${path}`, { method, headers: { 'content-type': 'application/json', origin: admin }, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await r.body.text();
    if (r.statusCode !== 200) throw new Error(`caddy ${method} ${path}: ${r.statusCode} ${text.slice(0, 200)}`);
  };
  const out: CaddyLevel[] = [];
  try {
    await until('bench caddy admin', () => call('GET', '/config/').then(() => true), (x) => x, 20_000, 100);
    const routesPath = '/config/apps/http/servers/bench/routes';
    for (const level of levels) {
      // Existing routes, set in one change (one reload).
      await call('PATCH', routesPath, Array.from({ length: level }, () => demoRoute(alias())));
      await sleep(200);
      const add: number[] = [];
      const remove: number[] = [];
      for (let i = 0; i < samples; i++) {
        const id = alias();
        add.push(await timed(() => call('POST', routesPath, demoRoute(id))));
        remove.push(await timed(() => call('DELETE', `/id/bench-${id}`)));
      }
      out.push({ routes: level, add: summarize(add), remove: summarize(remove) });
    }
  } finally {
    child.kill('SIGTERM');
    await Promise.race([child, sleep(5_000)]);
    if (child.exitCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}

export async function measureRoutes(ctx: BenchContext): Promise<{ rows: Row[]; details: unknown }> {
  const rows: Row[] = [];
  const names = await measureNamesServer(ctx.opts.namesLevels, ctx.opts.routeSamples);
  for (const l of names) {
    rows.push({
      group: 'route', name: `names server: publish → resolves, ${l.names} names published`, unit: 'ms', summary: l.publish,
      target: l.names >= 2000 ? 'p99 ≤ 20' : undefined, met: l.names >= 2000 ? l.publish.p99 <= 20 : undefined,
      note: `withdraw → NXDOMAIN p50 ${l.withdraw.p50.toFixed(1)} / p99 ${l.withdraw.p99.toFixed(1)} ms; a lookup p50 ${l.lookup.p50.toFixed(2)} ms (floor)`,
    });
  }
  const podman = await measurePodmanAliases(ctx, ctx.opts.aliasLevels, ctx.opts.routeSamples);
  for (const l of podman.levels) {
    rows.push({
      group: 'route', name: `earlier route: podman network connect --alias, ${l.live} containers on the network`, unit: 'ms', summary: l.connect,
      note: `disconnect p50 ${l.disconnect.p50.toFixed(0)} ms; alias resolves: ${l.resolves ? 'yes' : 'NO'}${Number.isFinite(l.runMsAtLevel) ? `; podman run at this level p50 ${l.runMsAtLevel.toFixed(0)} ms` : ''}`,
    });
  }
  const caddy = await measureCaddyRoutes(ctx.opts.caddyLevels, ctx.opts.routeSamples);
  for (const l of caddy) {
    rows.push({
      group: 'route', name: `alternative: Caddy admin POST route, ${l.routes} routes`, unit: 'ms', summary: l.add,
      note: `DELETE /id p50 ${l.remove.p50.toFixed(0)} ms`,
    });
  }
  return { rows, details: { names, podman, caddy } };
}
