/**
 * Template poisoning: while `dmx checkpoint` boots and warms a template, no demo can reach it, its
 * back office has a one-time password, and a checkpoint of data that changed meanwhile is refused.
 */
import bcrypt from 'bcryptjs';
import { execa } from 'execa';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkpointTemplate } from '../../templates/checkpoint';
import { standinKind } from '../../templates/kinds';
import { readTemplateSpec, templateDatabaseName, templateSpecPath } from '../../templates/spec';
import type { DemoState } from '../../contract';
import { releaseDemos, startDemos } from '../helpers/demos';
import { startHarness, testConfig, type Harness } from '../helpers/stack';
import { probeFrom } from './attack';

let h: Harness;
let a: DemoState;
const NAME = 'atktpl';

beforeAll(async () => {
  h = await startHarness('t-tpl-', { config: testConfig({ DMX_TASK_QUEUE_PREFIX: 't-tpl-' }) });
  [a] = (await startDemos(h, 1)) as [DemoState];
}, 120_000);
afterAll(async () => {
  await h?.deps.podman.remove(`dmx-${h.config.profile}-tpl-${NAME}`);
  await h?.deps.mariadb.dropDatabase(templateDatabaseName(NAME));
  if (h) {
    rmSync(templateSpecPath(h.config.stateDir, NAME), { force: true });
    rmSync(join(h.config.stateDir, 'templates', NAME), { recursive: true, force: true });
    await releaseDemos(h, [a]);
  }
  await h?.stop();
});

/** Starts a checkpoint and returns it with the template container's address once it runs. */
async function checkpointInBackground(): Promise<{ done: Promise<unknown>; ip: string }> {
  const done = checkpointTemplate({ ...h.deps }, { name: NAME, kind: 'standin', force: true });
  done.catch(() => undefined); // observed by the caller
  const container = `dmx-${h.config.profile}-tpl-${NAME}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    const info = await h.deps.podman.inspect(container);
    const ip = info?.running ? info.networks[h.config.podman.pairs[0]!.network]?.ip : undefined;
    if (ip) return { done, ip };
    if (Date.now() > deadline) throw new Error(`template container ${container} did not start`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('templates', () => {
  it('a demo cannot reach the template container while it is checkpointed', async () => {
    const { done, ip } = await checkpointInBackground();
    const results = await probeFrom(a.container!, [{ tcp: ip, port: 80 }]);
    expect(results[0]).toBe('timeout');
    await done;
  });

  it("the template's back office has a one-time password, not the image's default", async () => {
    const db = templateDatabaseName('standin');
    const [rows] = await h.deps.mariadb.pool.query<mysql.RowDataPacket[]>(`SELECT passwd FROM \`${db}\`.ps_employee WHERE email = ?`, [standinKind.defaults.adminEmail]);
    expect(rows).toHaveLength(1);
    expect(await bcrypt.compare(standinKind.defaults.adminPassword, String(rows[0]!.passwd))).toBe(false);
  });

  it('the stand-in image is built with the security suite and lists its package versions', async () => {
    const image = readTemplateSpec(h.config.stateDir, 'standin')!.image;
    const r = await execa('podman', ['--runtime', 'runc', 'run', '--rm', '--network', 'none', '--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=1024:1024',
      image, 'sh', '-c', 'cat /etc/apt/sources.list; cat /usr/share/dmx-packages.txt']);
    expect(r.stdout).toMatch(/^deb \S+debian-security bookworm-security main$/m);
    expect(r.stdout).toMatch(/^php8\.2-fpm \S+$/m);
    expect(r.stdout).toMatch(/^libssl3 \S+$/m);
  });

  it('refuses to record a checkpoint when the template database changed while the template ran', async () => {
    const { done } = await checkpointInBackground();
    // What a poisoner with the back office would do: change data every later demo starts from.
    await h.deps.mariadb.pool.query(`UPDATE \`${templateDatabaseName(NAME)}\`.ps_configuration SET value = 'pwned' WHERE name = 'PS_SHOP_NAME'`);
    await expect(done).rejects.toThrow(/database changed while the template ran \(ps_configuration\)/);
  });
});
