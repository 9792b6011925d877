/**
 * Activities of a container host: restore a demo's container (restore queue: any host with the
 * checkpoint), then everything its container needs on the host that holds it (that host's own
 * queue): configuration, checks, the edge-network route, removal. Idempotent like every activity.
 */
import { ApplicationFailure } from '@temporalio/activity';
import { existsSync } from 'node:fs';
import { assertDemoId, demoResourceNames, FAILURE_TYPES } from '../contract';
import { waitForHttp } from '../adapters/http-probe';
import { PodmanError } from '../adapters/podman';
import { demoHostFor } from '../lib/config';
import { rewriteParametersCommand } from '../templates/parameters';
import { dataRef, logFor, retryInfo, templateSpec, withHeartbeats, type ActivityDeps, type RestoredDemo } from './common';
import { templateKinds } from '../templates/kinds';

export function createHostActivities(deps: ActivityDeps) {
  return withHeartbeats(hostActivities(deps));
}

function hostActivities(deps: ActivityDeps) {
  const { config, podman, secrets } = deps;
  const spec = (name: string) => templateSpec(deps, name);

  async function containerIp(name: string, demoId: string): Promise<string> {
    const info = await podman.inspect(name);
    if (!info?.running) throw new Error(`container ${name} of demo ${demoId} is not running (${info?.status ?? 'missing'})`);
    const ip = info.networks[config.podman.network]?.ip;
    if (!ip) throw new Error(`container ${name} has no address on ${config.podman.network}`);
    return ip;
  }

  return {
    /**
     * Restores the demo's container from the template checkpoint on this host. CRIU first; the
     * last attempt (or a template without checkpoint) uses `podman run` and a cold boot. A running
     * container of that name is this activity's own earlier work: returned as is.
     */
    async restoreDemoContainer(input: { demoId: string; template: string }): Promise<RestoredDemo> {
      const demoId = assertDemoId(input.demoId);
      const s = spec(input.template);
      const { container } = demoResourceNames(config.profile, demoId);
      const log = logFor(deps, demoId);
      const existing = await podman.inspect(container);
      if (existing?.running) {
        return { host: config.hostId, container, method: 'criu', templateVersion: existing.labels['dmx.template-version'] ?? s.version, seconds: 0 };
      }
      if (existing) await podman.remove(container); // a half-made copy from a crashed attempt

      const { attempt, maximumAttempts } = retryInfo();
      const useCheckpoint = Boolean(s.checkpointArchive) && (maximumAttempts === 0 || attempt < maximumAttempts);
      if (useCheckpoint) {
        if (!existsSync(s.checkpointArchive!)) {
          throw ApplicationFailure.nonRetryable(`checkpoint ${s.checkpointArchive} of template ${s.name} is missing on host ${config.hostId}`, FAILURE_TYPES.templateMissing);
        }
        try {
          const st = await podman.restore(s.checkpointArchive!, container);
          await podman.pinBridgeMac(config.podman.network);
          log.info({ container, seconds: st.seconds, criuRestoreMicros: st.criuRestoreMicros }, 'restored from checkpoint');
          return { host: config.hostId, container, method: 'criu', templateVersion: s.version, seconds: st.seconds, criuRestoreMicros: st.criuRestoreMicros };
        } catch (err) {
          await podman.remove(container).catch(() => false);
          throw err;
        }
      }
      log.warn({ container, attempt }, s.checkpointArchive ? 'CRIU restore kept failing: falling back to podman run' : 'template has no checkpoint: podman run');
      const started = performance.now();
      await podman.run({
        name: container, image: s.image, network: config.podman.network,
        labels: { 'dmx.profile': config.profile, 'dmx.template': s.name, 'dmx.template-version': s.version, 'dmx.role': 'demo' },
        memory: config.demos.memory, cpus: config.demos.cpus, pids: config.demos.pids,
        hardening: s.hardening ?? templateKinds[s.kind].defaults.hardening,
      });
      await podman.pinBridgeMac(config.podman.network);
      return { host: config.hostId, container, method: 'run', templateVersion: s.version, seconds: (performance.now() - started) / 1000 };
    },

    /** Points the restored app at its own data and secrets (one exec), clearing compiled caches. */
    async configureDemoApp(input: { demoId: string; template: string }): Promise<void> {
      const demoId = assertDemoId(input.demoId);
      const s = spec(input.template);
      const ref = dataRef(deps, demoId, s);
      const { container } = demoResourceNames(config.profile, demoId);
      const values = {
        database_host: config.mariadb.demoHost,
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
      try {
        await podman.exec(container, rewriteParametersCommand(s.appRoot, s.parametersFile, s.cacheDirs), JSON.stringify(values));
      } catch (err) {
        if (err instanceof PodmanError && err.isNoSuchContainer) {
          throw ApplicationFailure.nonRetryable(`container ${container} of demo ${demoId} disappeared before it was configured`, FAILURE_TYPES.containerGone);
        }
        throw err;
      }
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

    /** Makes the demo routable: an alias on the edge network, which Caddy's demo router resolves. */
    async connectDemoRoute(input: { demoId: string }): Promise<void> {
      const demoId = assertDemoId(input.demoId);
      const n = demoResourceNames(config.profile, demoId);
      try {
        // The common case first (one podman call); a retry finds the container already attached.
        await podman.connectNetwork(config.podman.edgeNetwork, n.container, n.routeLabel);
      } catch (err) {
        const info = await podman.inspect(n.container);
        if (!info) throw ApplicationFailure.nonRetryable(`container ${n.container} of demo ${demoId} is gone`, FAILURE_TYPES.containerGone);
        const edge = info.networks[config.podman.edgeNetwork];
        if (!edge) throw err;
        if (!edge.aliases.includes(n.routeLabel)) {
          await podman.disconnectNetwork(config.podman.edgeNetwork, n.container);
          await podman.connectNetwork(config.podman.edgeNetwork, n.container, n.routeLabel);
        }
      }
      await podman.pinBridgeMac(config.podman.edgeNetwork);
    },

    async disconnectDemoRoute(input: { demoId: string }): Promise<void> {
      const demoId = assertDemoId(input.demoId);
      const { container } = demoResourceNames(config.profile, demoId);
      const info = await podman.inspect(container);
      if (!info?.networks[config.podman.edgeNetwork]) return;
      await podman.disconnectNetwork(config.podman.edgeNetwork, container);
    },

    async removeDemoContainer(input: { demoId: string }): Promise<{ removed: boolean }> {
      const demoId = assertDemoId(input.demoId);
      const { container } = demoResourceNames(config.profile, demoId);
      return { removed: await podman.remove(container) };
    },
  };
}

export type HostActivities = ReturnType<typeof createHostActivities>;
