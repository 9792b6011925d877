import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPodman, PodmanError } from '../../adapters/podman';
import { readTemplateSpec } from '../../templates/spec';
import { createRealDeps, type RealDeps } from '../../adapters/real-deps';
import { newDemoId, testConfig } from '../helpers/stack';

let deps: RealDeps;
const name = `dmx-${testConfig().profile}-adapter-${newDemoId()}`;

beforeAll(() => {
  deps = createRealDeps(testConfig(), 'test-podman');
});
afterAll(async () => {
  await deps.podman.remove(name);
  await deps.close();
});

describe('podman adapter (real podman + CRIU)', () => {
  it('restores a checkpoint, execs in it, joins and leaves the edge network, and removes it idempotently', async () => {
    const spec = readTemplateSpec(deps.config.stateDir, 'standin')!;
    const stats = await deps.podman.restore(spec.checkpointArchive!, name);
    expect(stats.seconds).toBeGreaterThan(0);

    const info = await deps.podman.inspect(name);
    expect(info?.running).toBe(true);
    expect(info?.labels['dmx.template']).toBe('standin');
    expect(info?.networks[deps.config.podman.pairs[0]!.network]?.ip).toMatch(/^10\./);

    expect(await deps.podman.exec(name, ['sh', '-c', 'cat; id -u'], 'hello\n')).toBe('hello\n0');

    // The bridge keeps one MAC whatever containers come and go (else gateway ARP entries go stale).
    await deps.podman.pinBridgeMac(deps.config.podman.pairs[0]!.network);
    const bridge = (await deps.podman.podman(['network', 'inspect', deps.config.podman.pairs[0]!.network, '--format', '{{.NetworkInterface}}'])).trim();
    expect(readFileSync(`/sys/class/net/${bridge}/addr_assign_type`, 'utf8').trim()).toBe('3');
    const mac = readFileSync(`/sys/class/net/${bridge}/address`, 'utf8').trim();
    const other = `${name}-b`;
    await deps.podman.restore(readTemplateSpec(deps.config.stateDir, 'standin')!.checkpointArchive!, other);
    await deps.podman.remove(other);
    expect(readFileSync(`/sys/class/net/${bridge}/address`, 'utf8').trim()).toBe(mac);

    // The checkpoint was taken on the edge network too: the copy is there at once, by its own name.
    expect(info?.networks[deps.config.podman.pairs[0]!.edgeNetwork]?.ip).toMatch(/^10\./);
    expect(info?.pid).toBeGreaterThan(1);
    await deps.podman.disconnectNetwork(deps.config.podman.pairs[0]!.edgeNetwork, name);
    await deps.podman.connectNetwork(deps.config.podman.pairs[0]!.edgeNetwork, name, 'adapterlabel');
    expect((await deps.podman.inspect(name))?.networks[deps.config.podman.pairs[0]!.edgeNetwork]?.aliases).toContain('adapterlabel');
    await deps.podman.disconnectNetwork(deps.config.podman.pairs[0]!.edgeNetwork, name);
    expect((await deps.podman.inspect(name))?.networks[deps.config.podman.pairs[0]!.edgeNetwork]).toBeUndefined();

    // Its bridge counts it among its ports (the guard against a full bridge reads this).
    expect(await deps.podman.bridgePorts(deps.config.podman.pairs[0]!.network)).toBeGreaterThanOrEqual(1);
    expect(await deps.podman.bridgePorts('dmx-no-such-network').catch((e: Error) => e.message)).toMatch(/no such network|network not found|unable to find/i);

    const listed = await deps.podman.list({ 'dmx.profile': deps.config.profile, 'dmx.template': 'standin' });
    expect(listed.map((c) => c.name)).toContain(name);

    expect(await deps.podman.remove(name)).toBe(true);
    expect(await deps.podman.remove(name)).toBe(false);
    expect(await deps.podman.inspect(name)).toBeUndefined();
  });

  it('with memory merging on, the restored demo\'s processes and its conmon opt in to the kernel\'s page merging; with it off, none does', async () => {
    const archive = readTemplateSpec(deps.config.stateDir, 'standin')!.checkpointArchive!;
    const merging = createPodman({ criuBinDir: deps.config.podman.criuBinDir, memoryMerge: true });
    const merged = `${name}-ksm`;
    const plain = `${name}-plain`;
    try {
      await merging.restore(archive, merged);
      await deps.podman.restore(archive, plain);
      const [on, off] = await Promise.all([mergeAnyOf(merged), mergeAnyOf(plain)]);
      expect(on.length).toBeGreaterThanOrEqual(4); // conmon, the start script, nginx, php-fpm and their workers
      expect(on.every((p) => p.mergeAny === 'yes'), JSON.stringify(on)).toBe(true);
      expect(off.every((p) => p.mergeAny === 'no'), JSON.stringify(off)).toBe(true);
    } finally {
      await Promise.all([deps.podman.remove(merged), deps.podman.remove(plain)]);
    }
  });

  it('reports a failing command with podman\'s own message', async () => {
    const err = await deps.podman.exec('dmx-no-such-container', ['true']).catch((e) => e);
    expect(err).toBeInstanceOf(PodmanError);
    expect((err as PodmanError).isNoSuchContainer).toBe(true);
    expect((err as Error).message).toMatch(/podman exec .*failed/);
  });
});

/** `ksm_merge_any` (/proc/PID/ksm_stat) of a container's conmon and of every process in it. */
async function mergeAnyOf(container: string): Promise<Array<{ pid: number; mergeAny: string }>> {
  const [init, conmon] = (await deps.podman.podman(['inspect', container, '--format', '{{.State.Pid}} {{.State.ConmonPid}}'])).trim().split(' ').map(Number);
  const pids = [conmon!, ...descendants(init!)];
  return pids.map((pid) => ({ pid, mergeAny: /ksm_merge_any: (\w+)/.exec(readFileSync(`/proc/${pid}/ksm_stat`, 'utf8'))?.[1] ?? 'unknown' }));
}

function descendants(pid: number): number[] {
  const children = readdirSync(`/proc/${pid}/task`).flatMap((t) => readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number));
  return [pid, ...children.flatMap(descendants)];
}
