/** The machine and the versions of everything a figure depends on. */
import { execa } from 'execa';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { ksmRunning } from '../adapters/memory-merge';
import type { Config } from '../lib/config';
import type { Environment } from './report';

async function firstLine(cmd: string, args: string[], env?: Record<string, string>): Promise<string> {
  try {
    const r = await execa(cmd, args, { env, reject: false, timeout: 10_000 });
    const text = `${r.stdout}\n${r.stderr}`.trim();
    return text.split('\n').find((l) => l.trim())?.trim() ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** podman's lock count: `num_locks` from containers.conf and its drop-ins (podman's default 2,048). */
export function podmanLocks(): number {
  const files = ['/usr/share/containers/containers.conf', '/etc/containers/containers.conf'];
  const dir = '/etc/containers/containers.conf.d';
  if (existsSync(dir)) files.push(...readdirSync(dir).filter((f) => f.endsWith('.conf')).sort().map((f) => join(dir, f)));
  let locks = 2_048;
  for (const f of files.filter((x) => existsSync(x))) {
    const m = /^\s*num_locks\s*=\s*(\d+)/m.exec(readFileSync(f, 'utf8'));
    if (m) locks = Number(m[1]);
  }
  return locks;
}

export async function environment(config: Config, mode: 'quick' | 'full'): Promise<Environment> {
  const criuEnv = { PATH: `${config.podman.criuBinDir}:${process.env.PATH ?? ''}` };
  const temporalBin = process.env.DMX_TEMPORAL_BIN ?? `${config.cacheDir}/go-bin/temporal`;
  const [podman, criu, caddy, temporal, mariadb, runc] = await Promise.all([
    firstLine('podman', ['--version']),
    firstLine('criu', ['--version'], criuEnv),
    firstLine('caddy', ['version']),
    firstLine(temporalBin, ['--version']),
    firstLine('mariadbd', ['--version']).then((v) => (v === 'unknown' ? firstLine('/usr/sbin/mariadbd', ['--version']) : v)),
    firstLine('runc', ['--version']),
  ]);
  const cores = cpus().length;
  const load = loadavg();
  return {
    startedAt: new Date().toISOString(),
    mode,
    profile: config.profile,
    cores,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memTotalMB: Math.round(totalmem() / 2 ** 20),
    loadAverage: load,
    kernel: release(),
    memoryMerge: config.podman.memoryMerge && ksmRunning(),
    versions: {
      node: process.version,
      podman: podman.replace(/^podman version /, ''),
      runc: runc.replace(/^runc version /, ''),
      criu: criu.replace(/^Version: /, ''),
      caddy: caddy.split(' ')[0] ?? caddy,
      temporal: temporal.replace(/^temporal version /, ''),
      mariadb: (/Ver (\S+)/.exec(mariadb) ?? [])[1] ?? mariadb,
    },
    // Quiet: the 1-minute load average is well below the core count before we start.
    quiet: (load[0] ?? 0) < cores * 0.5,
  };
}
