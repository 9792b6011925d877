/**
 * The template contract end to end without Temporal: the stand-in checkpoint restored twice under
 * different names, each copy pointed at its own data and secrets, each serving its own domain and
 * rows over HTTP. Then the copies are torn down with the same activities the workflow uses.
 */
import { execa } from 'execa';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForHttp, probeHttp } from '../adapters/http-probe';
import { readTemplateSpec } from '../templates/spec';
import { repoRoot } from '../lib/config';
import { demoHostFor } from '../lib/public-urls';
import { ApplicationFailure } from '@temporalio/common';
import { BRIDGE_PORT_LIMIT, pairOf } from '../lib/network-pairs';
import { checkpointFor } from '../templates/pair-checkpoints';
import { demoResourceNames, FAILURE_TYPES } from '../contract';
import { createRealDeps, type RealDeps } from '../adapters/real-deps';
import { expectNoTraces } from './helpers/leaks';
import { newDemoId, realActivities, testConfig } from './helpers/stack';

let deps: RealDeps;
let acts: ReturnType<typeof realActivities>['activities'];
const ids = [newDemoId(), newDemoId()];

/** The network pair a container is on. */
async function pairOfContainer(container: string) {
  return pairOf(deps.config.podman.pairs, (await deps.podman.inspect(container))!.networks)!;
}

beforeAll(() => {
  deps = createRealDeps(testConfig(), 'test-template');
  acts = realActivities(deps).activities;
});
afterAll(async () => {
  for (const demoId of ids) {
    await acts.disconnectDemoRoute({ demoId });
    await acts.dropDemoData({ demoId });
    await acts.removeDemoContainer({ demoId });
  }
  await deps.close();
});

describe('stand-in template checkpoint', () => {
  it('is recorded with its image, checkpoint archive and template database', async () => {
    const spec = readTemplateSpec(deps.config.stateDir, 'standin');
    expect(spec).toBeDefined();
    expect(spec!.checkpointArchive).toMatch(/\.tar$/);
    expect(spec!.network).toBe(deps.config.podman.pairs[0]!.network);
    // A copy of the checkpoint for every further network pair, naming that pair's networks.
    expect(deps.config.podman.pairs.length).toBeGreaterThanOrEqual(2);
    for (const pair of deps.config.podman.pairs.slice(1)) {
      const archive = checkpointFor(spec!, pair);
      expect(archive, `pair ${pair.index}`).toMatch(new RegExp(`\\.pair-${pair.index}\\.tar$`));
      const config = JSON.parse((await execa('tar', ['-xOf', archive!, './config.dump'])).stdout);
      expect(Object.keys(config.newNetworks).sort()).toEqual([pair.network, pair.edgeNetwork].sort());
    }
    expect(await deps.podman.imageExists(spec!.image)).toBe(true);
    expect((await deps.mariadb.tablesWithPrefix(spec!.database, 'ps_')).length).toBeGreaterThanOrEqual(10);
  });

  it('restores twice under different names, on two network pairs; each copy serves its own domain and rows', async () => {
    const restored = await Promise.all(ids.map((demoId) => acts.restoreDemoContainer({ demoId, template: 'standin' })));
    expect(restored.map((r) => r.method)).toEqual(['criu', 'criu']);
    expect(new Set(restored.map((r) => r.container)).size).toBe(2);
    // Restored together, they go to the two least busy pairs (each copy's own checkpoint and MariaDB gateway).
    const pairs = await Promise.all(restored.map((r) => pairOfContainer(r.container)));
    expect(pairs[0]!.index).not.toBe(pairs[1]!.index);

    for (const demoId of ids) {
      await acts.createDemoData({ demoId, template: 'standin' });
      await acts.configureDemoApp({ demoId, template: 'standin' });
    }
    // Give each copy a product name of its own, straight in its own database.
    for (const demoId of ids) {
      const db = demoResourceNames(deps.config.profile, demoId).database;
      await deps.mariadb.pool.query(`UPDATE \`${db}\`.ps_product_lang SET name = ? WHERE id_product = 1`, [`Only in ${demoId}`]);
    }

    const ips: string[] = [];
    for (const [i, demoId] of ids.entries()) {
      const info = await deps.podman.inspect(restored[i]!.container);
      const ip = info!.networks[pairs[i]!.network]!.ip;
      ips.push(ip);
      const host = demoHostFor(deps.config, demoId);
      const r = await waitForHttp(`http://${ip}:80/product/1`, host, (x) => x.status === 200, 10_000);
      expect(r.status).toBe(200);
      expect(r.body).toContain(`Only in ${demoId}`);
      expect(r.body).not.toContain(`Only in ${ids[1 - i]}`);
      expect(r.body).toContain(`content="${host}"`);
      // Any other Host is redirected to the demo's own domain, as PrestaShop does.
      const wrong = await probeHttp(`http://${ip}:80/product/1`, 'somewhere.else');
      expect(wrong.status).toBe(301);
      expect(wrong.headers.location).toBe(`http://${host}/product/1`);
    }
    expect(ips[0]).not.toBe(ips[1]);
  });

  it('a second attempt of a restore while the first still runs (a Temporal restart) waits for it, and one routable container is left', async () => {
    // Without the wait, the two raced: at once both failed ("name already in use"), 150 ms apart
    // the first one's clean-up could remove the container the second had just made.
    for (const delayMs of [0, 150]) {
      const demoId = newDemoId();
      const first = acts.restoreDemoContainer({ demoId, template: 'standin' });
      await new Promise((r) => setTimeout(r, delayMs));
      const second = await acts.restoreDemoContainer({ demoId, template: 'standin' });
      expect((await first).container).toBe(second.container);
      const info = await deps.podman.inspect(second.container);
      expect(info?.running).toBe(true);
      const pair = pairOf(deps.config.podman.pairs, info!.networks)!;
      expect(Object.keys(info!.networks).sort()).toEqual([pair.network, pair.edgeNetwork].sort());
      expect(await acts.removeDemoContainer({ demoId })).toEqual({ removed: true });
      await expectNoTraces(deps, demoId);
    }
  });

  it('skips a pair whose bridge is full, and refuses a restore when every pair is (NoCapacity, nothing left behind)', async () => {
    // A Linux bridge takes 1,023 ports; here the real adapter is told some or all bridges are that full.
    const [first, ...others] = deps.config.podman.pairs;
    const withFull = (networks: string[]) => realActivities({
      ...deps, podman: { ...deps.podman, bridgePorts: async (n: string) => (networks.includes(n) ? BRIDGE_PORT_LIMIT : deps.podman.bridgePorts(n)) },
    }).activities;

    const demoId = newDemoId();
    const { container } = await withFull([first!.edgeNetwork]).restoreDemoContainer({ demoId, template: 'standin' });
    expect((await pairOfContainer(container)).index).not.toBe(first!.index);
    expect(await acts.removeDemoContainer({ demoId })).toEqual({ removed: true });

    const refused = newDemoId();
    const all = [first!, ...others].flatMap((p) => [p.network, p.edgeNetwork]);
    const err = await withFull(all).restoreDemoContainer({ demoId: refused, template: 'standin' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect((err as ApplicationFailure).type).toBe(FAILURE_TYPES.noCapacity);
    expect((err as ApplicationFailure).nonRetryable).toBe(true);
    expect((err as Error).message).toMatch(new RegExp(`each of its ${deps.config.podman.pairs.length} network pairs holds ${BRIDGE_PORT_LIMIT} containers`));
    expect(await deps.podman.inspect(demoResourceNames(deps.config.profile, refused).container)).toBeUndefined();
    await expectNoTraces(deps, demoId);
  });

  it('tears the copies down without leaving anything behind', async () => {
    for (const demoId of ids) {
      await acts.disconnectDemoRoute({ demoId });
      await acts.dropDemoData({ demoId });
      expect(await acts.removeDemoContainer({ demoId })).toEqual({ removed: true });
      // Idempotent: a repeated teardown finds nothing and succeeds.
      expect(await acts.removeDemoContainer({ demoId })).toEqual({ removed: false });
      await acts.dropDemoData({ demoId });
      await expectNoTraces(deps, demoId);
    }
  });
});

describe('flashlight one-time login endpoint', () => {
  // The PrestaShop path cannot run here (no registry); the PHP the stand-in image ships (8.2) at
  // least parses both files, and refuses a broken one (the check can fail).
  const phpLint = async (image: string, args: string[], input?: string) => execa('podman', [
    'run', '--rm', '-i', '--network', 'none', '--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=1024:1024',
    '-v', `${join(repoRoot, 'templates', 'flashlight')}:/f:ro`, image, 'php', '-l', ...args,
  ], { reject: false, input });

  it('dmx-login.php and its PrestaShop 9 half parse; a syntax error does not', async () => {
    const image = readTemplateSpec(deps.config.stateDir, 'standin')!.image;
    for (const file of ['dmx-login.php', 'dmx-login-ps9.php']) {
      const r = await phpLint(image, [`/f/${file}`]);
      expect(r.stdout + r.stderr, file).toMatch(/No syntax errors detected/);
      expect(r.exitCode).toBe(0);
    }
    const broken = await phpLint(image, [], '<?php function (');
    expect(broken.exitCode).not.toBe(0);
  });
});
