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
import type { Config } from '../lib/config';
import type { Logger } from '../lib/logger';
import type { Podman } from './podman';
import { routerProbe } from './router-probe';

/** netavark's (rootful) configuration folder for aardvark-dns, which holds its pid file. */
export const AARDVARK_PID_FILE = '/run/containers/networks/aardvark-dns/aardvark.pid';

export interface EdgeDnsOptions {
  /** Queries before the DNS counts as not answering, one per `retryMs`. */
  attempts?: number;
  retryMs?: number;
  /** A repair that did not help (e.g. a firewall drops the queries) is not repeated before this. */
  repairBackoffMs?: number;
}

export type EdgeDnsState = 'answering' | 'repaired';

export function createEdgeDns(config: Config, podman: Pick<Podman, 'networkReload'>, log: Logger, opts: EdgeDnsOptions = {}) {
  const attempts = opts.attempts ?? 4;
  const retryMs = opts.retryMs ?? 1_000;
  const repairBackoffMs = opts.repairBackoffMs ?? 60_000;
  let lastRepairAt = 0;

  /** undefined when the DNS answered (an address or NXDOMAIN), else why it did not. */
  async function queryOnce(name: string): Promise<string | undefined> {
    const resolver = new Resolver({ timeout: 1_000, tries: 1 });
    resolver.setServers([config.podman.edgeGateway]);
    try {
      await resolver.resolve4(name);
      return undefined;
    } catch (err) {
      const code = (err as { code?: string }).code ?? 'unknown';
      return code === 'ENOTFOUND' || code === 'ENODATA' ? undefined : code;
    }
  }

  /** undefined when it answers, else why it did not (after `attempts` tries). */
  async function notAnswering(): Promise<string | undefined> {
    const { dnsName } = routerProbe(config, 'edge DNS');
    let why: string | undefined;
    for (let i = 0; i < attempts; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, retryMs));
      why = await queryOnce(dnsName);
      if (!why) return undefined;
    }
    return why;
  }

  function aardvarkPid(): number | undefined {
    if (!existsSync(AARDVARK_PID_FILE)) return undefined;
    const pid = Number(readFileSync(AARDVARK_PID_FILE, 'utf8').trim());
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
    notAnswering,

    /**
     * Checks the edge DNS; when it does not answer, restarts aardvark-dns once (not again within the
     * backoff) and checks again. Throws when it still does not answer.
     */
    async ensure(): Promise<EdgeDnsState> {
      const { container, dnsName } = routerProbe(config, 'edge DNS');
      const why = await notAnswering();
      if (!why) return 'answering';
      const where = `aardvark-dns at udp/${config.podman.edgeGateway}:53`;
      if (Date.now() - lastRepairAt < repairBackoffMs) {
        throw new Error(`edge DNS: ${where} does not answer (${why}) although it was restarted ${Math.round((Date.now() - lastRepairAt) / 1000)} s ago; check for a firewall rule dropping UDP 53 to ${config.podman.edgeGateway}`);
      }
      lastRepairAt = Date.now();
      const pid = aardvarkPid();
      log.warn({ why, aardvarkPid: pid, dnsName }, `edge DNS: ${where} does not answer; restarting it`);
      if (pid) await killAardvark(pid);
      // Only the pid file of the process killed here: another profile's worker may have restarted it
      // a moment ago, and removing the new one's file would make netavark start a second aardvark
      // that cannot bind and leave the serving one without reload signals (stale names).
      if (aardvarkPid() === pid) rmSync(AARDVARK_PID_FILE, { force: true });
      await podman.networkReload(container);
      const still = await notAnswering();
      if (still) throw new Error(`edge DNS: ${where} still does not answer (${still}) after restarting it`);
      log.warn({ dnsName, aardvarkPid: aardvarkPid() }, 'edge DNS: aardvark-dns restarted and answering again');
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
