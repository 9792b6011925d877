/**
 * 3. Route registration as the number of live routes grows.
 *  a) dmx's route: `podman network connect --alias <id> <edge network> <container>` (Caddy's one
 *     wildcard route needs no change). Measured on a throwaway /16 network (the real edge network is
 *     a /16 network) filled with tiny busybox containers, each under its own alias.
 *  b) the alternative: one Caddy admin-API route per demo, on a throwaway Caddy we start ourselves.
 */
import { execa } from 'execa';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
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
  const podman = await measurePodmanAliases(ctx, ctx.opts.aliasLevels, ctx.opts.routeSamples);
  for (const l of podman.levels) {
    rows.push({
      group: 'route', name: `podman network connect --alias, ${l.live} containers on the network`, unit: 'ms', summary: l.connect,
      target: l.live >= 2000 ? 'p99 ≤ 20' : undefined, met: l.live >= 2000 ? l.connect.p99 <= 20 : undefined,
      note: `disconnect p50 ${l.disconnect.p50.toFixed(0)} ms; alias resolves: ${l.resolves ? 'yes' : 'NO'}; podman run at this level p50 ${l.runMsAtLevel.toFixed(0)} ms`,
    });
  }
  const caddy = await measureCaddyRoutes(ctx.opts.caddyLevels, ctx.opts.routeSamples);
  for (const l of caddy) {
    rows.push({
      group: 'route', name: `alternative: Caddy admin POST route, ${l.routes} routes`, unit: 'ms', summary: l.add,
      target: l.routes >= 2000 ? 'p99 ≤ 20' : undefined, met: l.routes >= 2000 ? l.add.p99 <= 20 : undefined,
      note: `DELETE /id p50 ${l.remove.p50.toFixed(0)} ms`,
    });
  }
  return { rows, details: { podman, caddy } };
}
