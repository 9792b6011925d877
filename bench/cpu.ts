/**
 * CPU time by component while a section runs, from the kernel's own accounting: what one ready demo
 * costs the host's cores, and who spends it. A process's time includes the children it reaped (the
 * worker's: the podman CLI, runc and CRIU of each restore); the demo containers and their conmons
 * are read from their cgroup (cgroup v1 cpuacct, or v2 cpu.stat); the rest is everything else
 * busy on the host (the kernel's network setup, netavark, the names server, the bench itself).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../lib/config';

/** USER_HZ: the unit of /proc/<pid>/stat and /proc/stat times on Linux. */
const TICKS_PER_SECOND = 100;

export interface CpuSnapshot { busySeconds: number; bySource: Record<string, number> }

/** The stack's processes by pid file (stack.sh and up.sh write them). */
function stackPidFiles(config: Config): Record<string, string> {
  const s = config.stateDir;
  return {
    worker: join(s, 'run', 'worker.pid'), api: join(s, 'run', 'api.pid'), temporal: join(s, 'temporal', 'temporal.pid'),
    mariadb: join(s, 'mariadb', 'mariadb.pid'), 'podman API': join(s, 'podman', 'podman-api.pid'),
    caddy: join(s, 'caddy', 'caddy.pid'), valkey: join(s, 'valkey', 'valkey.pid'),
  };
}

/** utime + stime + cutime + cstime of a process, in seconds (0 once it is gone). */
function processSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14-17 of proc(5), counted from the state field (3) here.
    return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

function pidIn(file: string): number | undefined {
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, 'utf8').trim());
  return Number.isInteger(pid) && pid > 1 ? pid : undefined;
}

function kernelThreadSeconds(name: string): number {
  let total = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === name) total += processSeconds(Number(entry));
    } catch {
      // The process ended while the folder was read.
    }
  }
  return total;
}

/** CPU seconds of a podman cgroup parent (all its containers, or their conmons); undefined where not readable. */
function cgroupSeconds(path: string): number | undefined {
  const v1 = `/sys/fs/cgroup/cpuacct/${path}/cpuacct.usage`;
  if (existsSync(v1)) return Number(readFileSync(v1, 'utf8').trim()) / 1e9;
  const v2 = `/sys/fs/cgroup/${path}/cpu.stat`;
  if (!existsSync(v2)) return undefined;
  const m = /^usage_usec (\d+)$/m.exec(readFileSync(v2, 'utf8'));
  return m ? Number(m[1]) / 1e6 : undefined;
}

/** Seconds the host's cores were busy (not idle, not waiting for I/O), summed over cores. */
function hostBusySeconds(): number {
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal: all but idle and iowait.
  const busy = [0, 1, 2, 5, 6, 7].reduce((sum, i) => sum + (cpu[i] ?? 0), 0);
  return busy / TICKS_PER_SECOND;
}

export function cpuSnapshot(config: Config): CpuSnapshot {
  const bySource: Record<string, number> = {};
  for (const [name, file] of Object.entries(stackPidFiles(config))) {
    const pid = pidIn(file);
    if (pid) bySource[name] = processSeconds(pid);
  }
  bySource.ksmd = kernelThreadSeconds('ksmd');
  const containers = cgroupSeconds('libpod_parent');
  const conmon = cgroupSeconds('libpod_parent/conmon');
  if (containers !== undefined) bySource['demo containers'] = containers - (conmon ?? 0);
  if (conmon !== undefined) bySource.conmon = conmon;
  return { busySeconds: hostBusySeconds(), bySource };
}

export interface CpuUse {
  /** Busy core-seconds on the host between the two snapshots. */
  busySeconds: number;
  /** Core-seconds by source; `rest` is the busy time no source accounts for. */
  bySource: Record<string, number>;
}

export function cpuBetween(a: CpuSnapshot, b: CpuSnapshot): CpuUse {
  const bySource: Record<string, number> = {};
  for (const k of Object.keys(b.bySource)) bySource[k] = Math.max(0, (b.bySource[k] ?? 0) - (a.bySource[k] ?? 0));
  const busySeconds = b.busySeconds - a.busySeconds;
  bySource.rest = Math.max(0, busySeconds - Object.values(bySource).reduce((x, y) => x + y, 0));
  return { busySeconds, bySource };
}

/** "1.23 core-s per demo: worker 0.41, temporal 0.22, …" with the largest first. */
export function describePerDemo(use: CpuUse, demos: number): string {
  const per = (x: number) => (x / Math.max(1, demos)).toFixed(2);
  const parts = Object.entries(use.bySource).sort(([, x], [, y]) => y - x).map(([k, v]) => `${k} ${per(v)}`);
  return `${per(use.busySeconds)} core-s per ready demo: ${parts.join(', ')}`;
}
