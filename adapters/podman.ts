/**
 * Thin adapter over the podman CLI (rootful, `--runtime runc`: bookworm's crun cannot run on this
 * cgroup layout nor checkpoint). runc finds CRIU on PATH, so the private CRIU >= 4.2 folder goes first.
 */
import { execa, type ResultPromise } from 'execa';
import { readFileSync } from 'node:fs';

export interface PodmanOptions {
  criuBinDir: string;
  /** Default ulimits are refused on hosts without CAP_SYS_RESOURCE; these are accepted. */
  ulimits?: string[];
}

export class PodmanError extends Error {
  override name = 'PodmanError';
  constructor(
    message: string,
    readonly args: string[],
    readonly stderr: string,
    readonly exitCode: number | undefined,
  ) {
    super(message);
  }
  /** podman's wording for "no such container" differs between commands. */
  get isNoSuchContainer(): boolean {
    return /no such container|no container with name or id|does not exist/i.test(this.stderr);
  }
}

export interface ContainerInfo {
  id: string;
  name: string;
  running: boolean;
  status: string;
  image: string;
  labels: Record<string, string>;
  /** network name -> IPv4 address */
  networks: Record<string, { ip: string; aliases: string[] }>;
  createdAt: string;
}

/**
 * What a demo container may do beyond nothing: every capability is dropped and these added back;
 * with `readOnly` the root filesystem is read-only and only the `tmpfs` mounts (each with a size:
 * together they are the demo's disk quota, and their pages count against its memory limit) are
 * writable. Part of the checkpoint: every restored demo has the template's.
 */
export interface ContainerHardening { capAdd: string[]; readOnly: boolean; tmpfs: string[] }

const CAPABILITY = /^[A-Z_]{2,32}$/;
const TMPFS = /^\/[A-Za-z0-9_./-]+:[a-z0-9=,]*size=\d+[kmg][a-z0-9=,]*$/;

/** podman run arguments of a hardening (checked: they come from template specs on disk). */
export function hardeningArgs(h: ContainerHardening): string[] {
  const args = ['--cap-drop', 'all'];
  for (const cap of h.capAdd) {
    if (!CAPABILITY.test(cap)) throw new TypeError(`invalid capability ${JSON.stringify(cap)}`);
    args.push('--cap-add', cap);
  }
  if (h.readOnly) args.push('--read-only', '--read-only-tmpfs=false');
  for (const t of h.tmpfs) {
    if (!TMPFS.test(t) || t.includes('..')) throw new TypeError(`invalid tmpfs mount ${JSON.stringify(t)}: expected /path:options with a size`);
    args.push('--tmpfs', t);
  }
  return args;
}

export interface RestoreStats {
  seconds: number;
  runtimeRestoreMicros?: number;
  criuRestoreMicros?: number;
}

/** The part of `podman container inspect` output dmx reads. */
interface PodmanInspect {
  Id: string;
  Name: string;
  Image: string;
  ImageName?: string;
  Created: string;
  State?: { Running?: boolean; Status?: string };
  Config?: { Labels?: Record<string, string> };
  NetworkSettings?: { Networks?: Record<string, { IPAddress?: string; Aliases?: string[] }> };
}

export function createPodman(opts: PodmanOptions) {
  const env = { PATH: `${opts.criuBinDir}:${process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'}` };
  const ulimits = opts.ulimits ?? ['nofile=1024:1024', 'nproc=1024:1024'];

  async function podman(args: string[], input?: string): Promise<string> {
    const full = ['--runtime', 'runc', ...args];
    const child: ResultPromise = execa('podman', full, { env, input, reject: false, stripFinalNewline: true, timeout: 120_000 });
    const r = await child;
    if (r.exitCode !== 0) {
      const stderr = String(r.stderr ?? '').trim();
      throw new PodmanError(`podman ${args.slice(0, 3).join(' ')} failed (exit ${r.exitCode}): ${stderr.split('\n').slice(-3).join(' | ')}`, args, stderr, r.exitCode);
    }
    return String(r.stdout ?? '');
  }

  async function inspect(name: string): Promise<ContainerInfo | undefined> {
    let out: string;
    try {
      out = await podman(['container', 'inspect', name]);
    } catch (err) {
      if (err instanceof PodmanError && err.isNoSuchContainer) return undefined;
      throw err;
    }
    const [c] = JSON.parse(out) as PodmanInspect[];
    if (!c) return undefined;
    const networks: ContainerInfo['networks'] = {};
    for (const [net, v] of Object.entries(c.NetworkSettings?.Networks ?? {})) {
      networks[net] = { ip: v.IPAddress ?? '', aliases: v.Aliases ?? [] };
    }
    return {
      id: c.Id,
      name: c.Name,
      running: c.State?.Running === true,
      status: c.State?.Status ?? 'unknown',
      image: c.ImageName ?? c.Image,
      labels: c.Config?.Labels ?? {},
      networks,
      createdAt: c.Created,
    };
  }

  const bridgeOf = new Map<string, string>();
  /** The Linux bridge of a podman network (fixed when the network is created; cached). */
  async function bridgeName(network: string): Promise<string> {
    let bridge = bridgeOf.get(network);
    if (!bridge) {
      bridge = (await podman(['network', 'inspect', network, '--format', '{{.NetworkInterface}}'])).trim();
      if (!/^[A-Za-z0-9_.-]{1,15}$/.test(bridge)) throw new Error(`network ${network} has no usable bridge name (${bridge})`);
      bridgeOf.set(network, bridge);
    }
    return bridge;
  }

  return {
    podman,
    inspect,
    bridgeName,

    /**
     * Gives a network's bridge a fixed MAC address. A Linux bridge otherwise takes the lowest MAC
     * of its ports, so it changes whenever a container comes or goes; every other container's
     * cached gateway MAC then goes stale and its connections to the host (MariaDB) time out for
     * seconds. Cheap when already pinned; the bridge is re-created when its last container leaves.
     */
    async pinBridgeMac(network: string): Promise<void> {
      const bridge = await bridgeName(network);
      let assignType: string;
      try {
        assignType = readFileSync(`/sys/class/net/${bridge}/addr_assign_type`, 'utf8').trim();
      } catch {
        return; // no container on the network yet: netavark creates the bridge with the first one
      }
      if (assignType === '3') return; // NET_ADDR_SET: pinned already
      const current = readFileSync(`/sys/class/net/${bridge}/address`, 'utf8').trim();
      // Keep today's address (containers have it cached); setting it marks it as fixed.
      await execa('ip', ['link', 'set', 'dev', bridge, 'address', current]);
    },

    async imageExists(ref: string): Promise<boolean> {
      const r = await execa('podman', ['image', 'exists', ref], { env, reject: false });
      return r.exitCode === 0;
    },

    /** `podman container restore --import`; new IP/MAC so copies can run side by side. */
    async restore(archive: string, name: string): Promise<RestoreStats> {
      const started = performance.now();
      const out = await podman([
        'container', 'restore', '--import', archive, '--name', name,
        '--ignore-static-ip', '--ignore-static-mac', '--print-stats',
      ]);
      const seconds = (performance.now() - started) / 1000;
      try {
        const stats = JSON.parse(out.slice(out.indexOf('{')));
        const entry = stats.container_statistics?.[0] ?? {};
        return { seconds, runtimeRestoreMicros: entry.runtime_restore_duration, criuRestoreMicros: entry.criu_statistics?.restore_time };
      } catch {
        // --print-stats output is informational; the restore itself succeeded (exit 0).
        return { seconds };
      }
    },

    async run(o: {
      name: string; image: string; network: string; labels?: Record<string, string>; env?: Record<string, string>;
      memory?: string; cpus?: string; pids?: number; publish?: string[]; command?: string[]; hardening: ContainerHardening;
    }): Promise<void> {
      const args = ['run', '-d', '--name', o.name, '--network', o.network];
      for (const u of ulimits) args.push('--ulimit', u);
      for (const [k, v] of Object.entries(o.labels ?? {})) args.push('--label', `${k}=${v}`);
      for (const [k, v] of Object.entries(o.env ?? {})) args.push('--env', `${k}=${v}`);
      if (o.memory) args.push('--memory', o.memory);
      if (o.cpus) args.push('--cpus', o.cpus);
      if (o.pids) args.push('--pids-limit', String(o.pids));
      for (const p of o.publish ?? []) args.push('-p', p);
      // Only the capabilities the app needs, no new privileges through setuid binaries, podman's
      // default seccomp profile (never `seccomp=unconfined`), and a bounded log on the host's disk.
      args.push(...hardeningArgs(o.hardening), '--security-opt', 'no-new-privileges', '--log-opt', 'max-size=1mb');
      args.push(o.image, ...(o.command ?? []));
      await podman(args);
    },

    async exec(name: string, command: string[], input?: string): Promise<string> {
      return podman(['exec', ...(input !== undefined ? ['-i'] : []), name, ...command], input);
    },

    async checkpoint(name: string, archive: string): Promise<void> {
      await podman(['container', 'checkpoint', '--export', archive, '--compress', 'none', name]);
    },

    /** Removes a container, running or not; a missing one is success (idempotent teardown). */
    async remove(name: string): Promise<boolean> {
      try {
        // `rm --force` exits 0 for a missing container too; it prints the names it removed.
        return (await podman(['rm', '--force', '--time', '0', name])).trim() !== '';
      } catch (err) {
        if (err instanceof PodmanError && err.isNoSuchContainer) return false;
        throw err;
      }
    },

    async connectNetwork(network: string, name: string, alias: string): Promise<void> {
      await podman(['network', 'connect', '--alias', alias, network, name]);
    },

    async disconnectNetwork(network: string, name: string): Promise<void> {
      await podman(['network', 'disconnect', network, name]);
    },

    /** Containers whose labels match every given label. */
    async list(labels: Record<string, string>): Promise<Array<{ name: string; state: string; labels: Record<string, string> }>> {
      const args = ['ps', '-a', '--format', 'json'];
      for (const [k, v] of Object.entries(labels)) args.push('--filter', `label=${k}=${v}`);
      const rows = JSON.parse((await podman(args)) || '[]') as Array<{ Names?: string[]; State?: string; Labels?: Record<string, string> }>;
      return rows.map((r) => ({ name: r.Names?.[0] ?? '', state: r.State ?? 'unknown', labels: r.Labels ?? {} }));
    },
  };
}

export type Podman = ReturnType<typeof createPodman>;
