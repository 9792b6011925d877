/**
 * The edge network's DNS — aardvark-dns, which Caddy's demo router asks for `<container>.dns.podman` —
 * checked and, when it has stopped answering, restarted.
 *
 * Why: aardvark-dns 1.4 (Debian bookworm) serves every podman network of the host from one process
 * and tears down and re-creates its sockets on each reload (one per container start or stop). Under
 * demo churn it has been seen to stop answering for good while its process lived on: every demo then
 * got Caddy's "one moment" page until someone restarted it. netavark only starts a new one when the
 * process in its pid file is gone, so the repair is: kill it, drop the pid file, and let
 * `podman network reload` (netavark's setup for the router probe) start a fresh one, which reads the
 * configuration of every network again.
 *
 * "Not answering" is a timeout, a refusal or a server failure on the router probe's name, several
 * times in a row (aardvark refuses queries for up to ~2 s while it reloads); NXDOMAIN is an answer.
 */
import { Resolver } from 'node:dns/promises';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../lib/config';
import type { Logger } from '../lib/logger';
import type { Podman } from './podman';

export interface EdgeDnsOptions {
  /** aardvark-dns's configuration folder (netavark's, rootful default): holds aardvark.pid. */
  aardvarkDir?: string;
  /** Queries before the DNS counts as not answering, one per `retryMs`. */
  attempts?: number;
  retryMs?: number;
  /** A repair that did not help (e.g. a firewall drops the queries) is not repeated before this. */
  repairBackoffMs?: number;
}

export type EdgeDnsState = 'answering' | 'repaired';

export class EdgeDnsError extends Error {}

export function createEdgeDns(config: Config, podman: Pick<Podman, 'networkReload'>, log: Logger, opts: EdgeDnsOptions = {}) {
  const aardvarkDir = opts.aardvarkDir ?? '/run/containers/networks/aardvark-dns';
  const attempts = opts.attempts ?? 4;
  const retryMs = opts.retryMs ?? 1_000;
  const repairBackoffMs = opts.repairBackoffMs ?? 60_000;
  const probeId = config.caddy.routerProbeId;
  const probeContainer = `dmx-${config.profile}-router-probe`;
  const name = probeId ? `dmx-${config.profile}-${probeId}.dns.podman` : undefined;
  let lastRepairAt = 0;

  /** undefined when the DNS answered (an address or NXDOMAIN), else why it did not. */
  async function queryOnce(): Promise<string | undefined> {
    const resolver = new Resolver({ timeout: 1_000, tries: 1 });
    resolver.setServers([config.podman.edgeGateway]);
    try {
      await resolver.resolve4(name!);
      return undefined;
    } catch (err) {
      const code = (err as { code?: string }).code ?? 'unknown';
      return code === 'ENOTFOUND' || code === 'ENODATA' ? undefined : code;
    }
  }

  async function notAnswering(): Promise<string | undefined> {
    let why: string | undefined;
    for (let i = 0; i < attempts; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, retryMs));
      why = await queryOnce();
      if (!why) return undefined;
    }
    return why;
  }

  function aardvarkPid(): number | undefined {
    const file = join(aardvarkDir, 'aardvark.pid');
    if (!existsSync(file)) return undefined;
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 1 ? pid : undefined;
  }

  /** Kills aardvark-dns (alive, hung or stopped) and waits until its pid is gone, zombie included. */
  async function killAardvark(pid: number): Promise<void> {
    const cmdline = existsSync(`/proc/${pid}/cmdline`) ? readFileSync(`/proc/${pid}/cmdline`, 'utf8') : '';
    // A pid file can outlive its process and the pid be reused: only ever kill aardvark-dns.
    if (cmdline && !cmdline.includes('aardvark-dns')) return;
    try { process.kill(pid, 'SIGKILL'); } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
    for (let i = 0; i < 50 && existsSync(`/proc/${pid}`); i++) await new Promise((r) => setTimeout(r, 100));
  }

  return {
    /** The name asked for: the router probe's container name on the edge network. */
    name,

    /** Answers, or the reason it does not (after `attempts` tries). */
    notAnswering,

    /**
     * Checks the edge DNS; when it does not answer, restarts aardvark-dns once (not again within the
     * backoff) and checks again. Throws when it still does not answer.
     */
    async ensure(): Promise<EdgeDnsState> {
      if (!name) throw new EdgeDnsError('edge DNS: no router probe is configured (DMX_ROUTER_PROBE_ID; `deployments/stack.sh up` creates it)');
      const why = await notAnswering();
      if (!why) return 'answering';
      const where = `aardvark-dns at udp/${config.podman.edgeGateway}:53`;
      if (Date.now() - lastRepairAt < repairBackoffMs) {
        throw new EdgeDnsError(`edge DNS: ${where} does not answer (${why}) although it was restarted ${Math.round((Date.now() - lastRepairAt) / 1000)} s ago; check for a firewall rule dropping UDP 53 to ${config.podman.edgeGateway}`);
      }
      lastRepairAt = Date.now();
      const pid = aardvarkPid();
      log.warn({ why, aardvarkPid: pid, dnsName: name }, `edge DNS: ${where} does not answer; restarting it`);
      if (pid) await killAardvark(pid);
      // Only the pid file of the process killed here: another profile's worker may have restarted it
      // a moment ago, and removing the new one's file would make netavark start a second aardvark
      // that cannot bind and leave the serving one without reload signals (stale names).
      if (aardvarkPid() === pid) rmSync(join(aardvarkDir, 'aardvark.pid'), { force: true });
      await podman.networkReload(probeContainer);
      const still = await notAnswering();
      if (still) throw new EdgeDnsError(`edge DNS: ${where} still does not answer (${still}) after restarting it`);
      log.warn({ dnsName: name, aardvarkPid: aardvarkPid() }, 'edge DNS: aardvark-dns restarted and answering again');
      return 'repaired';
    },
  };
}

export type EdgeDns = ReturnType<typeof createEdgeDns>;

/**
 * Keeps the edge DNS answering between reconciler passes: a demo's visitor would otherwise see
 * "one moment" for up to a minute. Returns a stop function.
 */
export function startEdgeDnsWatchdog(edgeDns: Pick<EdgeDns, 'ensure'>, log: Logger, everyMs: number): () => Promise<void> {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  const tick = () => {
    running = edgeDns.ensure().then(
      () => undefined,
      (err: unknown) => { log.error({ err: (err as Error).message }, 'edge DNS watchdog'); },
    ).finally(() => { if (!stopped) timer = setTimeout(tick, everyMs); });
  };
  timer = setTimeout(tick, everyMs);
  return async () => {
    stopped = true;
    clearTimeout(timer);
    await running;
  };
}
