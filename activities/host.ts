/**
 * Activities of a container host: restore a demo's container (restore queue: any host with the
 * checkpoint), then everything its container needs on the host that holds it (that host's own
 * queue): configuration, checks, the edge-network route, removal. Idempotent like every activity.
 */
import { ApplicationFailure } from '@temporalio/activity';
import { existsSync } from 'node:fs';
import { assertDemoId, demoResourceNames, FAILURE_TYPES } from '../contract';
import { waitForHttp } from '../adapters/http-probe';
import { NamesServerDown } from '../adapters/demo-names';
import { createContainerFs } from '../adapters/container-fs';
import { PodmanError, type ContainerInfo } from '../adapters/podman';
import { demoHostFor } from '../lib/public-urls';
import { parametersWithValues, rewriteParametersCommand, type ShopParameters } from '../templates/parameters';
import type { TemplateSpec } from '../templates/spec';
import { dataRef, logFor, retryInfo, templateSpec, withHeartbeats, type ActivityDeps, type RestoredDemo } from './common';
import { templateKinds } from '../templates/kinds';
import { checkpointFor } from '../templates/pair-checkpoints';
import { BRIDGE_PORT_LIMIT, pairOf, type NetworkPair } from '../lib/network-pairs';

export function createHostActivities(deps: ActivityDeps) {
  return withHeartbeats(hostActivities(deps), { perDemo: true });
}

function hostActivities(deps: ActivityDeps) {
  const { config, podman, secrets, names } = deps;
  const spec = (name: string) => templateSpec(deps, name);

  /** The network pair a demo's container is on (its demo network, edge network and MariaDB gateway). */
  function pairOfContainer(info: ContainerInfo, demoId: string): NetworkPair {
    const pair = pairOf(config.podman.pairs, info.networks);
    if (!pair) throw new Error(`container ${info.name} of demo ${demoId} is on none of the profile's networks (${Object.keys(info.networks).join(', ') || 'none'})`);
    return pair;
  }

  async function containerIp(name: string, demoId: string): Promise<string> {
    const info = await podman.inspect(name);
    if (!info?.running) throw new Error(`container ${name} of demo ${demoId} is not running (${info?.status ?? 'missing'})`);
    const pair = pairOfContainer(info, demoId);
    const ip = info.networks[pair.network]?.ip;
    if (!ip) throw new Error(`container ${name} has no address on ${pair.network}`);
    return ip;
  }

  /**
   * The pair a new demo goes on: the one with the fewest ports in use on its busier bridge, counting
   * this worker's restores still under way (their ports do not exist yet), among the pairs the
   * template has a checkpoint for. All full: a clear "host full", not a broken demo. Choices are made
   * one at a time, and the restores under way are read before the ports: a restore that ends in
   * between is counted twice (harmless), never not at all (a bridge could overflow).
   */
  const restoresUnderWay = new Map<number, number>();
  let choosing: Promise<unknown> = Promise.resolve();
  function reservePair(s: TemplateSpec): Promise<{ pair: NetworkPair; release: () => void }> {
    const turn = choosing.then(() => choosePair(s));
    choosing = turn.catch(() => undefined);
    return turn;
  }
  async function choosePair(s: TemplateSpec): Promise<{ pair: NetworkPair; release: () => void }> {
    const usable = s.checkpointArchive ? config.podman.pairs.filter((p) => checkpointFor(s, p) !== undefined) : config.podman.pairs;
    if (usable.length === 0) {
      throw ApplicationFailure.nonRetryable(`template ${s.name} has no checkpoint for any network pair on host ${config.hostId}: run dmx checkpoint`, FAILURE_TYPES.templateMissing);
    }
    const underWay = new Map(restoresUnderWay);
    const loads = await Promise.all(usable.map(async (pair) => ({ pair, load: (await podman.pairPorts(pair)) + (underWay.get(pair.index) ?? 0) })));
    const best = loads.filter((l) => l.load < BRIDGE_PORT_LIMIT).sort((a, b) => a.load - b.load || a.pair.index - b.pair.index)[0];
    if (!best) {
      throw ApplicationFailure.nonRetryable(
        `host ${config.hostId} is full: each of its ${loads.length} network pairs holds ${BRIDGE_PORT_LIMIT} containers, the most one Linux bridge takes`, FAILURE_TYPES.noCapacity,
      );
    }
    const { index } = best.pair;
    restoresUnderWay.set(index, (restoresUnderWay.get(index) ?? 0) + 1);
    let released = false;
    return {
      pair: best.pair,
      release: () => {
        if (released) return;
        released = true;
        restoresUnderWay.set(index, (restoresUnderWay.get(index) ?? 1) - 1);
      },
    };
  }

  /** The demo's own DB settings and secrets for the app's parameters.php. */
  function shopParameters(demoId: string, s: TemplateSpec, pair: NetworkPair): ShopParameters {
    const ref = dataRef(deps, demoId, s);
    return {
      database_host: pair.gateway,
      database_port: String(config.mariadb.port),
      database_name: ref.database,
      database_user: ref.account,
      database_password: secrets.derive('db-password', demoId),
      database_prefix: ref.tablePrefix,
      cookie_key: secrets.derive('cookie_key', demoId, 64),
      cookie_iv: secrets.derive('cookie_iv', demoId, 8),
      new_cookie_key: secrets.derive('new_cookie_key', demoId, 64),
      secret: secrets.derive('secret', demoId, 64),
      dmx_login_key: secrets.derive('login-key', demoId, 64),
    };
  }

  /**
   * Points the app at its own data and secrets and clears its compiled caches: from the host
   * through the container's root when parameters.php has the plain shape PHP writes (no process in
   * the container), else with one `podman exec`.
   */
  async function configureApp(demoId: string, s: TemplateSpec, info: ContainerInfo): Promise<'files' | 'exec'> {
    const { name: container, pid } = info;
    const values = shopParameters(demoId, s, pairOfContainer(info, demoId));
    const file = `${s.appRoot}/${s.parametersFile}`;
    if (pid > 1) {
      const files = createContainerFs(pid);
      const rewritten = parametersWithValues(await files.read(file), values);
      if (rewritten !== undefined) {
        await files.write(file, rewritten);
        await Promise.all(s.cacheDirs.map((d) => files.emptyFolder(`${s.appRoot}/${d}`)));
        return 'files';
      }
    }
    try {
      await podman.exec(container, rewriteParametersCommand(s.appRoot, s.parametersFile, s.cacheDirs), JSON.stringify(values));
      return 'exec';
    } catch (err) {
      if (err instanceof PodmanError && err.isNoSuchContainer) {
        throw ApplicationFailure.nonRetryable(`container ${container} of demo ${demoId} disappeared before it was configured`, FAILURE_TYPES.containerGone);
      }
      throw err;
    }
  }

  /**
   * Makes the demo routable: on the edge network, and its container name published at the names
   * server with its edge address (what Caddy's demo router dials). A checkpoint taken on the edge
   * network restores onto it; otherwise (`podman run`, older checkpoints) the container joins it here.
   */
  async function ensureRouted(info: ContainerInfo, pair: NetworkPair): Promise<void> {
    let edge = info.networks[pair.edgeNetwork];
    if (!edge) {
      // A failed connect may still have attached it (a retry finds it so): the inspect below decides.
      const connectError = await podman.connectNetwork(pair.edgeNetwork, info.name).then(() => undefined, (err: Error) => err);
      const again = await podman.inspect(info.name);
      if (!again) throw ApplicationFailure.nonRetryable(`container ${info.name} is gone`, FAILURE_TYPES.containerGone);
      edge = again.networks[pair.edgeNetwork];
      if (!edge) throw new Error(`container ${info.name} is not on ${pair.edgeNetwork}: ${connectError?.message ?? 'joined, yet not listed'}`, { cause: connectError });
    }
    await Promise.all([podman.pinBridgeMac(pair.edgeNetwork), publishWhenServed(info.name, edge.ip)]);
  }

  /**
   * The restore's attempts are few (a CRIU failure is rarely cured by waiting): a names server that
   * is down (restarting) is waited for here, up to a minute, instead of failing them.
   */
  async function publishWhenServed(name: string, address: string): Promise<void> {
    for (const until = Date.now() + 60_000; ;) {
      try {
        return await names.publish(name, address);
      } catch (err) {
        if (!(err instanceof NamesServerDown) || Date.now() >= until) throw err;
        deps.log.warn({ container: name, err: err.message }, 'the names server does not answer; waiting for it');
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  return {
    /**
     * Restores the demo's container from the template checkpoint on this host, configures its app
     * (own data, own secrets) and makes it routable: everything the container needs, in one
     * activity on the host that holds it. CRIU first; the last attempt (or a template without
     * checkpoint) uses `podman run` and a cold boot. A container of that name left by an earlier
     * attempt is removed and made again (it may be half configured).
     */
    async restoreDemoContainer(input: { demoId: string; template: string }): Promise<RestoredDemo> {
      const demoId = assertDemoId(input.demoId);
      const s = spec(input.template);
      const { container } = demoResourceNames(config.profile, demoId);
      const log = logFor(deps, demoId);
      if (await podman.inspect(container)) await podman.remove(container);
      const { pair, release } = await reservePair(s);
      const archive = checkpointFor(s, pair);

      const { attempt, maximumAttempts } = retryInfo();
      const useCheckpoint = Boolean(archive) && (maximumAttempts === 0 || attempt < maximumAttempts);
      const started = performance.now();
      let method: RestoredDemo['method'] = 'criu';
      let criuRestoreMicros: number | undefined;
      try {
        if (useCheckpoint) {
          if (!existsSync(archive!)) {
            throw ApplicationFailure.nonRetryable(`checkpoint ${archive} of template ${s.name} (network pair ${pair.index}) is missing on host ${config.hostId}`, FAILURE_TYPES.templateMissing);
          }
          criuRestoreMicros = (await podman.restore(archive!, container)).criuRestoreMicros;
        } else {
          method = 'run';
          log.warn({ container, attempt }, s.checkpointArchive ? 'CRIU restore kept failing: falling back to podman run' : 'template has no checkpoint: podman run');
          await podman.run({
            name: container, image: s.image, networks: [pair.network, pair.edgeNetwork],
            labels: { 'dmx.profile': config.profile, 'dmx.template': s.name, 'dmx.template-version': s.version, 'dmx.role': 'demo' },
            memory: config.demos.memory, cpus: config.demos.cpus, pids: config.demos.pids,
            hardening: s.hardening ?? templateKinds[s.kind].defaults.hardening,
          });
        }
        const restoredSeconds = (performance.now() - started) / 1000;
        const info = await podman.inspect(container);
        release(); // its ports exist now: the bridges count them
        if (!info?.running) throw new Error(`container ${container} of demo ${demoId} is not running after the ${method === 'criu' ? 'restore' : 'run'} (${info?.status ?? 'missing'})`);
        const [configuredBy] = await Promise.all([
          configureApp(demoId, s, info),
          ensureRouted(info, pair),
          podman.pinBridgeMac(pair.network),
        ]);
        const seconds = (performance.now() - started) / 1000;
        log.info({ container, method, restoredSeconds, seconds, configuredBy, criuRestoreMicros, pair: pair.index }, 'container restored, configured and routable');
        return { host: config.hostId, container, method, templateVersion: s.version, seconds, criuRestoreMicros };
      } catch (err) {
        await podman.remove(container).catch((e: Error) => log.warn({ container, err: e.message }, 'removing the failed container failed; teardown retries it'));
        throw err;
      } finally {
        release();
      }
    },

    /** Points the app at its own data and secrets again (restoreDemoContainer does it the first time). */
    async configureDemoApp(input: { demoId: string; template: string }): Promise<void> {
      const demoId = assertDemoId(input.demoId);
      const { container } = demoResourceNames(config.profile, demoId);
      const info = await podman.inspect(container);
      if (!info?.running) throw ApplicationFailure.nonRetryable(`container ${container} of demo ${demoId} is not running (${info?.status ?? 'missing'})`, FAILURE_TYPES.containerGone);
      await configureApp(demoId, spec(input.template), info);
    },

    /** The shop answers on its own Host from its container (not through Caddy yet). */
    async verifyDemoServes(input: { demoId: string; bootSeconds?: number }): Promise<{ status: number }> {
      const demoId = assertDemoId(input.demoId);
      const { container } = demoResourceNames(config.profile, demoId);
      const ip = await containerIp(container, demoId);
      const host = demoHostFor(config, demoId);
      const r = await waitForHttp(`http://${ip}:80/`, host, (x) => x.status === 200, (input.bootSeconds ?? 10) * 1000, 100);
      if (r.status !== 200) throw new Error(`demo ${demoId} answered ${r.status} on its own Host ${host}: ${r.body.slice(0, 200)}`);
      return { status: r.status };
    },

    /** Makes the demo routable (restoreDemoContainer already does; kept for a demo whose route was removed). */
    async connectDemoRoute(input: { demoId: string }): Promise<void> {
      const demoId = assertDemoId(input.demoId);
      const { container } = demoResourceNames(config.profile, demoId);
      const info = await podman.inspect(container);
      if (!info) throw ApplicationFailure.nonRetryable(`container ${container} of demo ${demoId} is gone`, FAILURE_TYPES.containerGone);
      await ensureRouted(info, pairOfContainer(info, demoId));
    },

    async disconnectDemoRoute(input: { demoId: string }): Promise<void> {
      const demoId = assertDemoId(input.demoId);
      const { container } = demoResourceNames(config.profile, demoId);
      await names.withdraw(container);
      const info = await podman.inspect(container);
      const pair = info && pairOf(config.podman.pairs, info.networks);
      if (!pair || !info.networks[pair.edgeNetwork]) return;
      await podman.disconnectNetwork(pair.edgeNetwork, container);
    },

    /** Out of routing: its name withdrawn (Caddy answers the ended page at once); the container stays. */
    async withdrawDemoName(input: { demoId: string }): Promise<void> {
      await names.withdraw(demoResourceNames(config.profile, assertDemoId(input.demoId)).container);
    },

    /**
     * Out of routing first (its name withdrawn: Caddy answers the ended page at once), then the
     * container. `keepName` (a reset, which restores the container under the same name): visitors
     * get "one moment" meanwhile, never "ended".
     */
    async removeDemoContainer(input: { demoId: string; keepName?: boolean }): Promise<{ removed: boolean }> {
      const demoId = assertDemoId(input.demoId);
      const { container } = demoResourceNames(config.profile, demoId);
      if (!input.keepName) await names.withdraw(container);
      return { removed: await podman.remove(container) };
    },
  };
}

export type HostActivities = ReturnType<typeof createHostActivities>;
