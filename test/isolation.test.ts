/**
 * What a visitor with a demo's back office (which can run PHP) can reach: its own data only, not
 * another demo, not the host's admin ports, not MariaDB's privileged accounts; containers carry
 * resource limits, no extra capabilities and labels tying them to dmx; secrets are never shared.
 */
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readTemplateSpec } from '../templates/spec';
import { demoResourceNames, demoWorkflowId, awaitDemoReadyUpdate, type DemoLifecycleInput, type DemoState } from '../contract';
import { expectNoTraces } from './helpers/leaks';
import { newDemoId, startHarness, testConfig, type Harness } from './helpers/stack';

let h: Harness;
let a: DemoState;
let b: DemoState;

beforeAll(async () => {
  h = await startHarness('t-iso-', { config: testConfig({ DMX_TASK_QUEUE_PREFIX: 't-iso-' }) });
  [a, b] = await Promise.all([0, 1].map(async () => {
    const demoId = newDemoId();
    const handle = await h.client.workflow.start('demoLifecycle', {
      taskQueue: h.queues.shared, workflowId: demoWorkflowId(demoId),
      args: [{ demoId, template: 'standin', ttlSeconds: 120, maxLifetimeSeconds: 300 } satisfies DemoLifecycleInput],
    });
    return handle.executeUpdate(awaitDemoReadyUpdate);
  })) as [DemoState, DemoState];
});
afterAll(async () => {
  for (const d of [a, b].filter(Boolean)) {
    const handle = h.client.workflow.getHandle(demoWorkflowId(d.demoId));
    await handle.signal('releaseDemo', { reason: 'test done' });
    await handle.result();
    await expectNoTraces(h.deps, d.demoId);
  }
  await h?.stop();
});

/** Runs PHP inside a demo's container, as a back-office user who uploaded a module could. */
async function phpIn(demo: DemoState, code: string): Promise<string> {
  const r = await execa('podman', ['exec', demo.container!, 'php', '-r', code], { reject: false });
  return `${r.stdout}${r.stderr}`.trim();
}
const tcp = (host: string, port: number) => `echo @fsockopen('${host}', ${port}, $e, $s, 2) ? 'open' : 'closed';`;

describe('isolation', () => {
  it('a demo cannot open connections to another demo, on either network', async () => {
    const infoB = await h.deps.podman.inspect(b.container!);
    const ips = Object.values(infoB!.networks).map((n) => n.ip).filter(Boolean);
    expect(ips).toHaveLength(2); // the demo network and the edge network
    for (const ip of ips) expect(await phpIn(a, tcp(ip, 80))).toBe('closed');
    // Its own services and MariaDB at the gateway stay reachable.
    expect(await phpIn(a, tcp('127.0.0.1', 80))).toBe('open');
    expect(await phpIn(a, tcp(h.config.mariadb.demoHost, h.config.mariadb.port))).toBe('open');
  });

  it("cannot reach the host's admin ports (Caddy admin, Temporal, Valkey)", async () => {
    const gw = h.config.mariadb.demoHost;
    const ports = {
      caddyAdmin: Number(new URL(h.config.caddy.adminUrl).port),
      temporal: Number(h.config.temporal.address.split(':')[1]),
      valkey: h.config.valkey.port,
      temporalUi: Number(new URL(h.config.temporal.uiUrl).port),
    };
    for (const [name, port] of Object.entries(ports)) {
      expect(await phpIn(a, tcp(gw, port)), name).toBe('closed');
      expect(await phpIn(a, tcp(h.config.podman.edgeGateway, port)), name).toBe('closed');
    }
  });

  it("cannot log in to MariaDB as root or as dmx's admin account", async () => {
    const gw = h.config.mariadb.demoHost;
    const login = (user: string, pw: string) => `mysqli_report(MYSQLI_REPORT_OFF); $c = @mysqli_connect('${gw}', '${user}', '${pw}', '', ${h.config.mariadb.port}); echo $c ? 'in' : 'denied';`;
    expect(await phpIn(a, login('root', ''))).toBe('denied');
    expect(await phpIn(a, login('dmx_admin', h.config.mariadb.password))).toBe('denied');
    expect(await phpIn(a, login(demoResourceNames(h.config.profile, b.demoId).account, 'guess'))).toBe('denied');
  });

  it('runs containers with memory, CPU and pid limits, no extra capabilities, and dmx labels', async () => {
    const [raw] = JSON.parse((await execa('podman', ['container', 'inspect', a.container!])).stdout);
    const hc = raw.HostConfig;
    expect(hc.Memory).toBeGreaterThan(0);
    expect(hc.NanoCpus).toBeGreaterThan(0);
    expect(hc.PidsLimit).toBeGreaterThan(0);
    expect(hc.Privileged).toBe(false);
    expect(hc.CapAdd ?? []).toEqual([]);
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
