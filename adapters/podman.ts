/**
 * Thin adapter over podman (rootful, `--runtime runc`: bookworm's crun cannot run on this cgroup
 * layout nor checkpoint). runc finds CRIU on PATH, so the private CRIU >= 4.2 folder goes first.
 *
 * Restore, checkpoint, run, exec and listings use the CLI. The calls on a demo's own critical path
 * and teardown (inspect, network disconnect, remove) go to podman's REST API on the unix socket of
 * the `podman system service` that `stack.sh up` keeps running: each CLI call is a new process
 * that re-reads podman's state (~65 ms for an inspect here, 10 ms over the socket). When the
 * service does not answer, the same call falls back to the CLI.
 */
import { execa, type ResultPromise } from 'execa';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { Agent, request } from 'undici';
import { hardeningArgs, type ContainerHardening } from './container-hardening';
import { memoryMergeLauncher } from './memory-merge';
import type { NetworkPair } from '../lib/network-pairs';

export interface PodmanOptions {
  criuBinDir: string;
  /** Default ulimits are refused on hosts without CAP_SYS_RESOURCE; these are accepted. */
  ulimits?: string[];
  /** podman's REST API socket (`podman system service`); without it every call uses the CLI. */
  socketPath?: string;
  /** Restored demos' memory may be merged with identical pages of other demos (adapters/memory-merge.ts). */
  memoryMerge?: boolean;
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
  /** The container's init process on the host (0 when not running). */
  pid: number;
  /** network name -> IPv4 address */
  networks: Record<string, { ip: string; aliases: string[] }>;
  createdAt: string;
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
  State?: { Running?: boolean; Status?: string; Pid?: number };
  Config?: { Labels?: Record<string, string> };
  NetworkSettings?: { Networks?: Record<string, { IPAddress?: string; Aliases?: string[] }> };
}

export function createPodman(opts: PodmanOptions) {
  const env = { PATH: `${opts.criuBinDir}:${process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'}` };
  const ulimits = opts.ulimits ?? ['nofile=1024:1024', 'nproc=1024:1024'];

  const restoreLauncher = opts.memoryMerge ? memoryMergeLauncher() : [];

  /** `launcher`: argv that runs podman (e.g. with memory merging on); none: podman itself. */
  async function podman(args: string[], input?: string, launcher: string[] = []): Promise<string> {
    const full = ['--runtime', 'runc', ...args];
    const [file, ...argv] = [...launcher, 'podman', ...full];
    const child: ResultPromise = execa(file!, argv, { env, input, reject: false, stripFinalNewline: true, timeout: 120_000 });
    const r = await child;
    if (r.exitCode !== 0) {
      const stderr = String(r.stderr ?? '').trim();
      throw new PodmanError(`podman ${args.slice(0, 3).join(' ')} failed (exit ${r.exitCode}): ${stderr.split('\n').slice(-3).join(' | ')}`, args, stderr, r.exitCode);
    }
    return String(r.stdout ?? '');
  }

  const api = opts.socketPath ? new Agent({ connect: { socketPath: opts.socketPath }, keepAliveTimeout: 30_000 }) : undefined;

  /**
   * One libpod REST call; undefined when the service cannot be reached (the caller then uses the
   * CLI). A podman error answer becomes the same PodmanError the CLI would give.
   */
  async function viaApi(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<{ status: number; text: string } | undefined> {
    if (!api || !existsSync(opts.socketPath!)) return undefined;
    let res;
    try {
      res = await request(`http://podman/v4.0.0/libpod${path}`, {
        method, dispatcher: api, headersTimeout: 120_000, bodyTimeout: 120_000,
        ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
      });
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'ECONNREFUSED' || code === 'ENOENT' || code === 'UND_ERR_SOCKET') return undefined;
      throw err;
    }
    const text = await res.body.text();
    if (res.statusCode >= 300) {
      let message = text;
      try {
        message = (JSON.parse(text) as { message?: string }).message ?? text;
      } catch {
        // not JSON: keep the raw answer as the message
      }
      throw new PodmanError(`podman API ${method} ${path} answered ${res.statusCode}: ${message.slice(0, 300)}`, [method, path], message, res.statusCode);
    }
    return { status: res.statusCode, text };
  }

  async function inspect(name: string): Promise<ContainerInfo | undefined> {
    let c: PodmanInspect | undefined;
    try {
      const r = await viaApi('GET', `/containers/${encodeURIComponent(name)}/json`);
      c = r ? (JSON.parse(r.text) as PodmanInspect) : (JSON.parse(await podman(['container', 'inspect', name])) as PodmanInspect[])[0];
    } catch (err) {
      if (err instanceof PodmanError && err.isNoSuchContainer) return undefined;
      throw err;
    }
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
      pid: c.State?.Pid ?? 0,
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

    /** Ports (containers) on a network's Linux bridge; 0 before netavark has made the bridge. */
    async bridgePorts(network: string): Promise<number> {
      const brif = `/sys/class/net/${await bridgeName(network)}/brif`;
      return existsSync(brif) ? readdirSync(brif).length : 0;
    },

    /** Containers on a network pair: the busier of its two bridges (each demo is on both). */
    async pairPorts(pair: Pick<NetworkPair, 'network' | 'edgeNetwork'>): Promise<number> {
      const [demo, edge] = await Promise.all([this.bridgePorts(pair.network), this.bridgePorts(pair.edgeNetwork)]);
      return Math.max(demo, edge);
    },

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
      ], undefined, restoreLauncher);
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

    /** `networks`: the first is where the container starts; it is attached to the others as well. */
    async run(o: {
      name: string; image: string; networks: string[]; labels?: Record<string, string>; env?: Record<string, string>;
      memory?: string; cpus?: string; pids?: number; publish?: string[]; command?: string[]; hardening: ContainerHardening;
    }): Promise<void> {
      const args = ['run', '-d', '--name', o.name, '--network', o.networks.join(',')];
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
        const r = await viaApi('DELETE', `/containers/${encodeURIComponent(name)}?force=true&timeout=0`);
        if (r) return true;
        // `rm --force` exits 0 for a missing container too; it prints the names it removed.
        return (await podman(['rm', '--force', '--time', '0', name])).trim() !== '';
      } catch (err) {
        if (err instanceof PodmanError && err.isNoSuchContainer) return false;
        throw err;
      }
    },

    /** Joins a network; the container is resolvable there under its name (and `alias`, when given). */
    async connectNetwork(network: string, name: string, alias?: string): Promise<void> {
      await podman(['network', 'connect', ...(alias ? ['--alias', alias] : []), network, name]);
    },

    async disconnectNetwork(network: string, name: string): Promise<void> {
      const r = await viaApi('POST', `/networks/${encodeURIComponent(network)}/disconnect`, { Container: name });
      if (!r) await podman(['network', 'disconnect', network, name]);
    },

    /** Closes the API connections (CLI tools, tests). */
    async close(): Promise<void> {
      await api?.close();
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
