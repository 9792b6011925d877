/**
 * 5. Density: memory of live stand-in demos from the kernel's accounting (the containers' memory
 * cgroups, plus each container's conmon), the demo's database size, and how many would fit.
 */
import { execa } from 'execa';
import { readFileSync } from 'node:fs';
import { DEMO_ID_SOURCE } from '../contract';
import type { BenchContext } from './context';
import { summarize, type Summary } from './stats';

export function memAvailableMB(): number {
  const m = /MemAvailable:\s+(\d+) kB/.exec(readFileSync('/proc/meminfo', 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

function readNumber(path: string): number | undefined {
  try {
    return Number(readFileSync(path, 'utf8').trim());
  } catch {
    return undefined;
  }
}

function statField(path: string, field: string): number | undefined {
  try {
    const m = new RegExp(`^${field} (\\d+)$`, 'm').exec(readFileSync(path, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

function vmRssMB(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

export interface DensityResult {
  demos: number;
  /** cgroup memory usage (v1 memory.usage_in_bytes / v2 memory.current), MB per demo. */
  cgroupMB: Summary;
  rssMB: Summary;
  cacheMB: Summary;
  conmonMB: Summary;
  /** Data + index size of one demo database, MB. */
  databaseMB: number;
  memAvailableMB: number;
}

/** Memory of every live demo container of this profile. */
export async function measureDensity(ctx: BenchContext): Promise<DensityResult> {
  const env = { PATH: `${ctx.config.podman.criuBinDir}:${process.env.PATH ?? ''}` };
  const ps = await execa('podman', ['ps', '--format', '{{.Names}}', '--filter', `name=^dmx-${ctx.config.profile}-${DEMO_ID_SOURCE}$`], { env });
  const names = ps.stdout.split('\n').filter(Boolean);
  const cg: number[] = [];
  const rss: number[] = [];
  const cache: number[] = [];
  const conmon: number[] = [];
  for (let i = 0; i < names.length; i += 50) {
    const r = await execa('podman', ['inspect', '--format', '{{.State.CgroupPath}} {{.State.ConmonPid}}', ...names.slice(i, i + 50)], { env, reject: false });
    for (const line of r.stdout.split('\n').filter(Boolean)) {
      const [path, conmonPid] = line.split(' ');
      const v1 = `/sys/fs/cgroup/memory${path}`;
      const v2 = `/sys/fs/cgroup${path}`;
      const usage = readNumber(`${v1}/memory.usage_in_bytes`) ?? readNumber(`${v2}/memory.current`);
      if (usage === undefined) continue;
      cg.push(usage / 2 ** 20);
      const r1 = statField(`${v1}/memory.stat`, 'total_rss') ?? statField(`${v2}/memory.stat`, 'anon');
      const c1 = statField(`${v1}/memory.stat`, 'total_cache') ?? statField(`${v2}/memory.stat`, 'file');
      if (r1 !== undefined) rss.push(r1 / 2 ** 20);
      if (c1 !== undefined) cache.push(c1 / 2 ** 20);
      const cm = vmRssMB(Number(conmonPid));
      if (cm !== undefined) conmon.push(cm);
    }
  }
  const rows = await ctx.sql.query(
    "SELECT SUM(data_length + index_length) / 1048576 AS mb FROM information_schema.tables WHERE table_schema LIKE 'dmx\\_d\\_%' GROUP BY table_schema LIMIT 1",
  ).then(([r]) => r as Array<{ mb: number }>, () => [{ mb: Number.NaN }]);
  return {
    demos: cg.length, cgroupMB: summarize(cg), rssMB: summarize(rss), cacheMB: summarize(cache), conmonMB: summarize(conmon),
    databaseMB: Number(rows?.[0]?.mb ?? Number.NaN), memAvailableMB: memAvailableMB(),
  };
}
