/**
 * What each demo gets of its own: containers carry resource limits and
 * labels tying them to dmx; secrets are never shared. What a visitor with a demo's back office can
 * reach (networks, host ports, other databases) is the attacker suite's: test/security/.
 */
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readTemplateSpec } from '../templates/spec';
import type { DemoState } from '../contract';
import { releaseDemos, startDemos } from './helpers/demos';
import { startHarness, testConfig, type Harness } from './helpers/stack';
import { phpIn as phpInContainer } from './security/attack';

let h: Harness;
let a: DemoState;
let b: DemoState;

beforeAll(async () => {
  h = await startHarness('t-iso-', { config: testConfig({ DMX_TASK_QUEUE_PREFIX: 't-iso-' }) });
  [a, b] = (await startDemos(h, 2)) as [DemoState, DemoState];
});
afterAll(async () => {
  if (h) await releaseDemos(h, [a, b]);
  await h?.stop();
});

const phpIn = (demo: DemoState, code: string) => phpInContainer(demo.container!, code);

describe('isolation', () => {
  it('runs containers with memory, CPU and pid limits, unprivileged, with dmx labels (capabilities: the attacker suite reads them from /proc)', async () => {
    const [raw] = JSON.parse((await execa('podman', ['container', 'inspect', a.container!])).stdout);
    const hc = raw.HostConfig;
    expect(hc.Memory).toBeGreaterThan(0);
    expect(hc.NanoCpus).toBeGreaterThan(0);
    expect(hc.PidsLimit).toBeGreaterThan(0);
    expect(hc.Privileged).toBe(false);
    expect(hc.SecurityOpt ?? []).toEqual(expect.arrayContaining(['no-new-privileges']));
    expect(raw.Config.Labels).toMatchObject({ 'dmx.profile': h.config.profile, 'dmx.template': 'standin', 'dmx.role': 'demo' });
    expect(raw.Name).toBe(`dmx-${h.config.profile}-${a.demoId}`);
  });

  it('gives every demo its own secrets and database password', async () => {
    const params = async (d: DemoState) => JSON.parse(await phpIn(d, "echo json_encode((require '/var/www/html/app/config/parameters.php')['parameters']);"));
    const [pa, pb] = [await params(a), await params(b)];
    for (const key of ['cookie_key', 'cookie_iv', 'new_cookie_key', 'secret', 'database_password', 'database_user', 'database_name']) {
      expect(pa[key], key).toBeTruthy();
      expect(pa[key], key).not.toBe(pb[key]);
    }
    // Nor the image's own values, which every copy of the checkpoint would otherwise share.
    const image = readTemplateSpec(h.config.stateDir, 'standin')!.image;
    const r = await execa('podman', ['--runtime', 'runc', 'run', '--rm', '--network', 'none', '--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=1024:1024',
      image, 'php', '-r', "echo json_encode((require '/var/www/html/app/config/parameters.php')['parameters']);"]);
    const original = JSON.parse(r.stdout);
    for (const key of ['cookie_key', 'new_cookie_key', 'secret']) expect(pa[key], key).not.toBe(original[key]);
  });
});
