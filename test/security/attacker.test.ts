/**
 * The attacker suite: code runs inside a real demo (PHP the shop ships, through `podman exec`, as a
 * visitor who uploaded a module could) and tries every way out. Each attempt must fail in the
 * specific way the defence makes it fail (a dropped packet times out, a refused grant says so).
 * The network checks are repeated with the host's rules built in both orders (netavark's first, then
 * dmx's, and dmx's first, then netavark's re-inserted on top with an explicit ACCEPT above
 * everything), and a negative control shows the probes do see an open path when dmx's table is gone.
 * Demo A's neighbours: B on the same network pair (bridged) and C on another pair (routed).
 */
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createReconcilerActivities } from '../../activities/reconciler';
import { demoContainerPrefix, demoResourceNames } from '../../contract';
import type { DemoState } from '../../contract';
import { releaseDemos, startDemos } from '../helpers/demos';
import { inActivityContext } from '../helpers/activity-context';
import { newDemoId, realActivities, startHarness, testConfig, type Harness } from '../helpers/stack';
import { pairOf, type NetworkPair } from '../../lib/network-pairs';
import { interfacesOf, linkLocalAddresses, phpIn, probeFrom, type ProbeTarget } from './attack';

let h: Harness;
let demos: DemoState[] = [];
let a: DemoState;
let b: DemoState;
let pairA: NetworkPair;
/** Every address of B (same pair as A) and of C (another pair), IPv4 and link-local IPv6, port 80. */
let neighbourAddresses: ProbeTarget[];

async function pairOfDemo(d: DemoState): Promise<NetworkPair> {
  return pairOf(h.config.podman.pairs, (await h.deps.podman.inspect(d.container!))!.networks)!;
}

beforeAll(async () => {
  h = await startHarness('t-atk-', { config: testConfig({ DMX_TASK_QUEUE_PREFIX: 't-atk-' }) });
  expect(h.config.podman.pairs.length, 'the test profile has several network pairs').toBeGreaterThanOrEqual(2);
  // One more demo than pairs, started together: they spread over the pairs (the least busy first),
  // and two share one. Other suites' demos load the pairs too: start more until both cases exist.
  demos = await startDemos(h, h.config.podman.pairs.length + 1, 300);
  let pairs = await Promise.all(demos.map(pairOfDemo));
  const couple = () => pairs.findIndex((p, k) => pairs.some((q, l) => l !== k && q.index === p.index));
  while ((couple() < 0 || new Set(pairs.map((p) => p.index)).size < 2) && demos.length < 4 * h.config.podman.pairs.length) {
    demos.push(...(await startDemos(h, 1, 300)));
    pairs = await Promise.all(demos.map(pairOfDemo));
  }
  expect(new Set(pairs.map((p) => p.index)).size, 'demos spread over several pairs').toBeGreaterThanOrEqual(2);
  const i = couple();
  const j = pairs.findIndex((p, k) => k !== i && p.index === pairs[i]!.index);
  const k = pairs.findIndex((p) => p.index !== pairs[i]!.index);
  [a, b, pairA] = [demos[i]!, demos[j]!, pairs[i]!];
  const c = demos[k]!;
  const aIfs = await interfacesOf(a.container!);
  await linkLocalAddresses(a.container!); // waits until A's own addresses can be used
  neighbourAddresses = [];
  for (const n of [b, c]) {
    const v4 = Object.values((await h.deps.podman.inspect(n.container!))!.networks).map((x) => x.ip).filter(Boolean);
    expect(v4).toHaveLength(2); // its pair's demo network and edge network
    const v6 = (await linkLocalAddresses(n.container!)).flatMap((x) => aIfs.map((ifname) => `${x.ip}%${ifname}`));
    expect(v6.length).toBeGreaterThanOrEqual(2);
    neighbourAddresses.push(...[...v4, ...v6].map((ip) => ({ tcp: ip, port: 80 })));
  }
}, 120_000);

afterAll(async () => {
  await h?.deps.firewall.ensure();
  if (h) await releaseDemos(h, demos);
  await h?.stop();
});

const iptables = (...args: string[]) => execa('iptables', args, { reject: false });

/** Puts netavark's jump back at the very top of FORWARD, as netavark does when it (re)creates its rules. */
async function netavarkOnTop(): Promise<void> {
  const rules = (await execa('iptables', ['-S', 'FORWARD'])).stdout;
  expect(rules).toContain('-j NETAVARK_FORWARD');
  await iptables('-D', 'FORWARD', '-j', 'NETAVARK_FORWARD');
  await iptables('-I', 'FORWARD', '1', '-j', 'NETAVARK_FORWARD');
}

describe('network: a demo reaches exactly MariaDB on its own port', () => {
  const hostPorts = () => {
    const c = h.config;
    const temporalPort = Number(c.temporal.address.split(':')[1]);
    return {
      api: c.api.port, temporal: temporalPort, temporalUi: Number(new URL(c.temporal.uiUrl).port),
      temporalHttp: temporalPort + 10, temporalMetrics: temporalPort + 11, valkey: c.valkey.port,
      caddyHttp: c.caddy.httpPort, names: c.names.port, ssh: 22, dns: 53,
    };
  };

  async function expectIsolated(label: string): Promise<void> {
    const results = await probeFrom(a.container!, neighbourAddresses);
    neighbourAddresses.forEach((t, i) => expect(results[i], `${label}: a neighbour at ${JSON.stringify(t)}`).toBe('timeout'));
  }

  it('cannot reach another demo of its pair or of another pair, on either network, over IPv4 or IPv6', async () => {
    await expectIsolated('as set up');
  });

  it("reaches MariaDB at its own pair's gateway, and no other port of the host on any of its addresses", async () => {
    const c = h.config;
    const [mariadb] = await probeFrom(a.container!, [{ tcp: pairA.gateway, port: c.mariadb.port }]);
    expect(mariadb).toBe('open');
    const targets: Array<ProbeTarget & { name: string }> = [];
    const gateways = c.podman.pairs.flatMap((p) => [p.gateway, p.edgeGateway]);
    for (const [name, port] of Object.entries(hostPorts())) {
      for (const gw of gateways) targets.push({ name: `${name}@${gw}`, tcp: gw, port });
    }
    // MariaDB listens on every pair's gateway: a demo reaches it at its own only.
    for (const gw of gateways.filter((g) => g !== pairA.gateway)) targets.push({ name: `mariadb@${gw}`, tcp: gw, port: c.mariadb.port });
    const results = await probeFrom(a.container!, targets);
    targets.forEach((t, i) => expect(results[i], t.name).toBe('timeout'));
  });

  it("MariaDB listens on loopback and the pairs' demo gateways only", async () => {
    const out = (await execa('ss', ['-Htln', `( sport = :${h.config.mariadb.port} )`])).stdout;
    const addresses = out.split('\n').filter(Boolean).map((l) => l.trim().split(/\s+/)[3]!.replace(/:\d+$/, '')).sort();
    expect(addresses).toEqual(['127.0.0.1', ...h.config.podman.pairs.map((p) => p.gateway)].sort());
  });

  it('cannot reach the outside (no egress without DMX_DEMO_EGRESS_ALLOW)', async () => {
    // An address the host itself reaches (the package mirror): only the demo is cut off.
    const ip = (await execa('getent', ['ahostsv4', 'deb.debian.org'])).stdout.split(/\s+/)[0]!;
    const fromHost = await execa('curl', ['-s', '-o', '/dev/null', '-m', '5', '-w', '%{http_code}', `http://${ip}/`], { reject: false });
    expect(fromHost.stdout, 'the host reaches the mirror').toMatch(/^[1-5]\d\d$/);
    const [fromDemo] = await probeFrom(a.container!, [{ tcp: ip, port: 80 }]);
    expect(fromDemo).toBe('timeout');
  });

  it('gets no DNS answers (no PTR enumeration of its neighbours)', async () => {
    const c = h.config;
    const ipB = Object.values((await h.deps.podman.inspect(b.container!))!.networks).map((n) => n.ip);
    // The host (Caddy's resolver) gets answers from the names server on its loopback; a demo, asking
    // its gateways, gets none (its networks have no DNS, and the firewall drops what it sends the host).
    const fromHost = await execa('dig', ['+short', '+time=1', '+tries=1', '-p', String(c.names.port), `${demoContainerPrefix(c.profile)}${b.demoId}.dmx`, '@127.0.0.1'], { reject: false });
    const edgeB = (await h.deps.podman.inspect(b.container!))!.networks[pairA.edgeNetwork]!.ip;
    expect(fromHost.stdout.trim(), 'the names server answers the host').toBe(edgeB);
    const targets = ipB.flatMap((ip) => c.podman.pairs.flatMap((p) => [p.gateway, p.edgeGateway]).map((server) => ({ ptr: ip, server })));
    const results = await probeFrom(a.container!, targets);
    targets.forEach((t, i) => expect(results[i], JSON.stringify(t)).toBe('no-answer'));
  });

  it("holds whatever the order of netavark's and dmx's rules, and the reconciler restores a deleted table", async () => {
    const fw = h.deps.firewall;
    // ACCEPT everything from this profile's bridges (only these: other stacks on the host keep their rules).
    const bridges = (await fw.spec()).pairs.flatMap((p) => [p.demoBridge, p.edgeBridge]);
    const acceptRule = (b: string) => ['FORWARD', '-i', b, '-j', 'ACCEPT', '-m', 'comment', '--comment', `dmx-${h.config.profile}-attacker-test`];
    const blanketAccept = async (op: '-I' | '-D') => {
      const results = await Promise.all(bridges.map((b) => (op === '-I' ? iptables('-I', ...acceptRule(b).slice(0, 1), '1', ...acceptRule(b).slice(1)) : iptables('-D', ...acceptRule(b)))));
      return { exitCode: results.every((r) => r.exitCode === 0) ? 0 : 1 };
    };
    try {
      // Negative control: without dmx's table, the same probes find demo B (so `timeout` above means the table).
      await fw.remove();
      const open = await probeFrom(a.container!, neighbourAddresses.slice(0, 1));
      expect(open[0], 'demo B over the demo network without the firewall').toBe('open');

      // netavark's rules first, then dmx's.
      await netavarkOnTop();
      expect((await fw.ensure()).changed).toBe(true);
      await expectIsolated("netavark's rules first");

      // dmx's first, then netavark's re-inserted on top, plus an ACCEPT for dmx's bridges above everything in FORWARD.
      await netavarkOnTop();
      await blanketAccept('-I');
      await expectIsolated("dmx's rules first, then netavark's and an ACCEPT on top");

      // A deleted table comes back with the next reconciler pass.
      await fw.remove();
      const acts = inActivityContext(createReconcilerActivities({ ...h.deps, secrets: realActivities(h.deps).secrets, temporal: h.client }));
      expect((await acts.findOrphans({ graceSeconds: 3600 })).firewallReasserted).toBe(true);
      await expectIsolated('after the reconciler pass');
      expect((await fw.ensure()).changed, 'a second apply changes nothing').toBe(false);
    } finally {
      while ((await blanketAccept('-D')).exitCode === 0) { /* remove every copy */ }
      await fw.ensure();
    }
  }, 60_000);
});

describe('data: a demo reaches only its own database', () => {
  const login = (user: string, pw: string) => `mysqli_report(MYSQLI_REPORT_OFF); $c = @mysqli_connect('${pairA.gateway}', '${user}', '${pw}', '', ${h.config.mariadb.port}); echo $c ? 'in' : mysqli_connect_errno();`;

  it("cannot log in as root, dmx's admin, or another demo's account", async () => {
    // Access denied, as 1045 (ER_ACCESS_DENIED_ERROR) or 1698 (ER_ACCESS_DENIED_NO_PASSWORD_ERROR):
    // MariaDB answered either for the same attempt on different runs. Never a connection.
    const denied = ['1045', '1698'];
    expect(denied).toContain(await phpIn(a.container!, login('root', '')));
    expect(denied).toContain(await phpIn(a.container!, login('dmx_admin', h.config.mariadb.password)));
    expect(denied).toContain(await phpIn(a.container!, login(demoResourceNames(h.config.profile, b.demoId).account, 'guess')));
  });

  it("cannot open another demo's or the template's database, nor create a database outside its grant", async () => {
    const own = "$p = (require '/var/www/html/app/config/parameters.php')['parameters']; mysqli_report(MYSQLI_REPORT_OFF);"
      + ` $c = mysqli_connect('${pairA.gateway}', $p['database_user'], $p['database_password'], $p['database_name'], ${h.config.mariadb.port});`;
    const sql = (q: string) => `${own} echo mysqli_query($c, ${JSON.stringify(q)}) ? 'ok' : mysqli_errno($c);`;
    const nb = demoResourceNames(h.config.profile, b.demoId);
    const na = demoResourceNames(h.config.profile, a.demoId);
    expect(await phpIn(a.container!, sql('SELECT 1'))).toBe('ok');
    expect(await phpIn(a.container!, sql(`SELECT COUNT(*) FROM \`${nb.database}\`.ps_employee`))).toBe('1142');
    expect(await phpIn(a.container!, sql('SELECT COUNT(*) FROM `dmx_tpl_standin`.ps_employee'))).toBe('1142');
    // `_` in a database-level grant is a wildcard unless escaped: dmx_d_<id> would match dmx0d0<id>.
    const lookAlike = na.database.replace(/_/g, '0');
    expect(await phpIn(a.container!, sql(`CREATE DATABASE \`${lookAlike}\``))).toBe('1044');
    expect(await phpIn(a.container!, sql(`CREATE DATABASE \`${na.database}x\``))).toBe('1044');
  });

  it('the reconciler finds databases and accounts named like a demo\'s that no live demo owns', async () => {
    const ghost = newDemoId();
    const names = [`dmx_d_${ghost}`, `dmx0d0${ghost}`, `dmx_d_${ghost}_extra`];
    const acts = inActivityContext(createReconcilerActivities({ ...h.deps, secrets: realActivities(h.deps).secrets, temporal: h.client }));
    try {
      for (const n of names) await h.deps.mariadb.pool.query(`CREATE DATABASE \`${n}\``);
      await h.deps.mariadb.pool.query(`CREATE USER \`dmx0d0${ghost}\`@'%' IDENTIFIED BY 'x'`);
      const { orphans } = await acts.findOrphans({ graceSeconds: 3600 });
      const mine = orphans.filter((o) => o.demoId === ghost).map((o) => `${o.kind}:${o.name}`).sort();
      expect(mine).toEqual([...names.map((n) => `database:${n}`), `account:dmx0d0${ghost}@%`].sort());
      // Live demos' resources are never orphans.
      expect(orphans.filter((o) => demos.some((d) => d.demoId === o.demoId))).toEqual([]);
    } finally {
      for (const n of names) await h.deps.mariadb.dropDatabase(n);
      await h.deps.mariadb.dropAccount(`dmx0d0${ghost}`, '%');
    }
  });
});

describe('container: no host root powers, read-only root filesystem, bounded disk', () => {
  const sh = (container: string, script: string) => execa('podman', ['exec', container, 'sh', '-c', script], { reject: false });

  it('runs with NET_BIND_SERVICE and SETGID only, no new privileges, under seccomp', async () => {
    const status = (await sh(a.container!, 'cat /proc/1/status')).stdout;
    const field = (name: string) => new RegExp(`^${name}:\\s*(\\S+)`, 'm').exec(status)?.[1];
    const CAP_SETGID = 6;
    const CAP_NET_BIND_SERVICE = 10;
    const want = ((1n << BigInt(CAP_SETGID)) | (1n << BigInt(CAP_NET_BIND_SERVICE))).toString(16).padStart(16, '0');
    for (const set of ['CapEff', 'CapPrm', 'CapBnd']) expect(field(set), set).toBe(want);
    expect(field('NoNewPrivs')).toBe('1');
    expect(field('Seccomp')).toBe('2'); // filter mode: podman's default profile
    // A capability it does not have: changing a file's owner.
    expect((await sh(a.container!, 'chown 33 /tmp && echo changed')).stderr).toMatch(/Operation not permitted/);
  });

  it('cannot write to the root filesystem (the app code included)', async () => {
    for (const path of ['/usr/local/bin/backdoor', '/var/www/html/index.php', '/etc/nginx/nginx.conf']) {
      const r = await sh(a.container!, `echo x >> ${path}`);
      expect(r.exitCode, path).not.toBe(0);
      expect(r.stderr, path).toMatch(/Read-only file system/);
    }
  });

  it('fills its writable mounts only up to their size (its disk quota)', async () => {
    for (const [dir, mb] of [['/tmp', 32], ['/var/www/html/var', 64]] as const) {
      const r = await sh(a.container!, `dd if=/dev/zero of=${dir}/fill bs=1M count=${mb + 16} 2>&1; echo "size=$(stat -c %s ${dir}/fill)"; rm -f ${dir}/fill`);
      expect(r.stdout, dir).toMatch(/No space left on device/);
      const size = Number(/size=(\d+)/.exec(r.stdout)?.[1]);
      expect(size, dir).toBeGreaterThan(0);
      expect(size, dir).toBeLessThanOrEqual(mb * 1024 * 1024);
    }
    // The shop still serves afterwards.
    const ip = (await h.deps.podman.inspect(a.container!))!.networks[pairA.network]!.ip;
    const page = await execa('curl', ['-s', '-o', '/dev/null', '-m', '5', '-w', '%{http_code}', '-H', `Host: ${new URL(a.url!).host}`, `http://${ip}/`]);
    expect(page.stdout).toBe('200');
  });
});

