import { execa } from 'execa';
import { createServer } from 'node:http';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listenOnUnixSocket } from '../../api/http-server';
import { createCaddy, DEMO_BAR_ID, DEMO_ROUTER_ID, demoRouterOptions, LAUNCHER_ROUTE_ID } from '../../adapters/caddy';
import { createRealDeps, type RealDeps } from '../../adapters/real-deps';
import { newDemoId } from '../helpers/ids';
import { testConfig } from '../helpers/stack';

let deps: RealDeps;
beforeAll(() => {
  deps = createRealDeps(testConfig(), 'test-caddy');
});
afterAll(async () => {
  await deps.close();
});

async function get(host: string, path = '/') {
  const res = await request(`http://127.0.0.1:${deps.config.caddy.httpPort}${path}`, { headers: { host }, reset: true });
  return { status: res.statusCode, body: await res.body.text() };
}

describe('caddy adapter (real Caddy admin API)', () => {
  const opts = () => demoRouterOptions(deps.config);

  it('installs the demo router once, and again after it was lost', async () => {
    await deps.caddy.ensureDemoRouter(opts());
    expect(await deps.caddy.ensureDemoRouter(opts())).toBe(false);
    expect(await deps.caddy.listRouteIds()).toEqual([LAUNCHER_ROUTE_ID, DEMO_BAR_ID, DEMO_ROUTER_ID, 'dmx-not-found']);

    expect(await deps.caddy.deleteRoute(DEMO_ROUTER_ID)).toBe(true);
    expect(await deps.caddy.deleteRoute(DEMO_ROUTER_ID)).toBe(false);
    expect(await deps.caddy.ensureDemoRouter(opts())).toBe(true);
    expect(await deps.caddy.listRouteIds()).toEqual([LAUNCHER_ROUTE_ID, DEMO_BAR_ID, DEMO_ROUTER_ID, 'dmx-not-found']);
  });

  it('routes only demo-shaped hosts; anything else gets a 404', async () => {
    await deps.caddy.ensureDemoRouter(opts());
    const d = deps.config.demos.domain;
    // Unknown demo (name does not resolve) and non-demo names on the edge network alike.
    for (const host of [`aaaaaaaaaaaaaaaa.${d}`, `dmx-${deps.config.profile}-tpl-standin.${d}`, `x.${d}`, 'localhost', '127.0.0.1:2019']) {
      const r = await get(host);
      expect(r.status, host).toBe(404);
      expect(r.body).toMatch(/does not exist or has expired/);
    }
  });

  it("sends /__dmx/ on a demo's host to the API (the demo bar), and only there", async () => {
    await deps.caddy.ensureDemoRouter(opts());
    const d = deps.config.demos.domain;
    // No API listens on the test stack's edge socket: Caddy says the demo service is unreachable (not "demo ended").
    const bar = await get(`aaaaaaaaaaaaaaaa.${d}`, '/__dmx/state');
    expect(bar.status).toBe(503);
    expect(bar.body).toMatch(/demo service is not reachable/);
    expect((await get(`aaaaaaaaaaaaaaaa.${d}`, '/__dmxx')).status).toBe(404);
    expect((await get('localhost', '/__dmx/state')).status).toBe(404);
  });

  it('sends the launcher\'s host to the API for the launcher\'s paths only', async () => {
    await deps.caddy.ensureDemoRouter(opts());
    const d = deps.config.demos.domain;
    for (const path of ['/try/standin', '/embed.js', '/v1/demos', '/v1/demos/aaaaaaaaaaaaaaaa']) {
      const r = await get(`try.${d}`, path);
      expect(r.status, path).toBe(503);
      expect(r.body).toMatch(/demo service is not reachable/);
    }
    for (const path of ['/', '/v1/pools', '/metrics', '/__dmx/state']) expect((await get(`try.${d}`, path)).status, path).toBe(404);
    expect((await get(`try.${d}.evil.example`, '/try/standin')).status).toBe(404);
  });

  it('tells the API the visitor\'s address over its edge socket, replacing the one a visitor sends', async () => {
    await deps.caddy.ensureDemoRouter(opts());
    const d = deps.config.demos.domain;
    // Standing in for the API on its edge socket (this suite runs alone on the stack): answers what it was sent.
    const echo = createServer((req, res) => res.end(JSON.stringify({ xff: req.headers['x-forwarded-for'], host: req.headers.host })));
    await listenOnUnixSocket(echo, deps.config.api.edgeSocket);
    try {
      for (const [host, path] of [[`try.${d}`, '/v1/demos'], [`aaaaaaaaaaaaaaaa.${d}`, '/__dmx/state']] as const) {
        const res = await request(`http://127.0.0.1:${deps.config.caddy.httpPort}${path}`, { headers: { host, 'x-forwarded-for': '203.0.113.9, 198.51.100.7' }, reset: true });
        expect(res.statusCode, `${host}${path}`).toBe(200);
        expect(await res.body.json()).toEqual({ xff: '127.0.0.1', host });
      }
    } finally {
      await new Promise<void>((r) => echo.close(() => r()));
    }
  });

  it('a demo whose name resolves but does not answer gets "one moment" (503, retries itself), never the ended page', async () => {
    await deps.caddy.ensureDemoRouter(opts());
    const c = deps.config;
    // A demo-named container on the edge network with nothing on port 80, its name published: what a
    // visitor meets while a reset replaces the container (the name is there, the demo is not reachable).
    const id = newDemoId();
    const name = `dmx-${c.profile}-${id}`;
    const image = (await execa('podman', ['inspect', '--format', '{{.ImageName}}', `dmx-${c.profile}-router-probe`])).stdout.trim();
    await execa('podman', ['run', '-d', '--rm', '--name', name, '--network', c.podman.pairs[0]!.edgeNetwork, '--label', `dmx.profile=${c.profile}`,
      // The host's hard limits are below podman's defaults here (as for the router probe in stack.sh).
      '--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=1024:1024', image, '/bin/busybox', 'sleep', '120']);
    try {
      await deps.names.publish(name, (await deps.podman.inspect(name))!.networks[c.podman.pairs[0]!.edgeNetwork]!.ip);
      const r = await get(`${id}.${c.demos.domain}`);
      expect(r.status, r.body).toBe(503);
      expect(r.body).toMatch(/id="demo-unreachable"/);
      expect(r.body).toMatch(/http-equiv="refresh"/);
      expect(r.body).not.toMatch(/has ended/);
      // Once the name is withdrawn, the same host is an ended demo at once (the container still runs).
      await deps.names.withdraw(name);
      const gone = await get(`${id}.${c.demos.domain}`);
      expect(gone.status).toBe(404);
      expect(gone.body).toMatch(/does not exist or has expired/);
    } finally {
      await deps.names.withdraw(name);
      await execa('podman', ['rm', '-f', '-t', '0', name]);
    }
  });

  it('reports an unreachable admin API with its address', async () => {
    const dead = createCaddy('/nonexistent/caddy-admin.sock');
    await expect(dead.ping()).rejects.toThrow(/Caddy admin API at unix:\/nonexistent\/caddy-admin\.sock unreachable/);
  });
});

describe('valkey client (real Valkey / Redis 7)', () => {
  it('connects and round-trips a value with an expiry', async () => {
    expect(await deps.valkey.ping()).toBe('PONG');
    await deps.valkey.set('dmx:test:key', 'v', 'EX', 5);
    expect(await deps.valkey.get('dmx:test:key')).toBe('v');
    expect(await deps.valkey.ttl('dmx:test:key')).toBeGreaterThan(0);
    await deps.valkey.del('dmx:test:key');
  });
});
