/**
 * Readiness tells the truth about the visitor's path: /readyz (and `stack.sh status`/`check-dns`)
 * request the router probe through Caddy's demo router, so a stack whose edge-network DNS is broken
 * is reported not ready although every service answers its own health check. Also: early refusals
 * close the connection, so keep-alive clients never reuse a socket the server drops.
 */
import { execa } from 'execa';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../lib/config';
import { Readiness } from '../api/schemas';
import { createCaddy, demoRouterOptions, LAUNCHER_ROUTE_ID } from '../adapters/caddy';
import { apiTestConfig, call, eventually, OPERATOR_TOKEN, serveApi, type Served } from './api/helpers';

let api: Served;
beforeAll(async () => {
  api = await serveApi(apiTestConfig());
});
afterAll(async () => {
  await api?.close();
});

/** Drops the host's queries to this profile's names server (what Caddy's lookups use). */
async function breakNames(port: number, action: '-I' | '-D'): Promise<void> {
  await execa('iptables', [action, 'OUTPUT', '-d', '127.0.0.1', '-p', 'udp', '--dport', String(port), '-m', 'comment', '--comment', 'dmx test: names server cut off on purpose', '-j', 'DROP']);
}

describe('readiness through the demo router', () => {
  it('is ready with the probe reachable; with the names server cut off, 503 names the demo router and the names server; recovers', async () => {
    const port = api.deps.config.names.port;
    const ok = await call(api.base, 'GET', '/readyz');
    expect(ok.status, ok.text).toBe(200);
    expect(Readiness.parse(ok.body).checks.demoRouter).toMatchObject({ ok: true });

    await breakNames(port, '-I');
    try {
      const down = await call(api.base, 'GET', '/readyz');
      expect(down.status, down.text).toBe(503);
      expect(down.body.down).toEqual(['demoRouter']);
      // Not "ended" (404): the probe's name is not known to be gone, the lookup failed — "one moment" (503).
      expect(down.body.checks.demoRouter.error).toMatch(/router probe answered 503 through Caddy .*One moment/);
      expect(down.body.checks.demoRouter.error).toContain(`the names server (udp 127.0.0.1:${port}`);

      // The main command's own check of the names server fails with the cause.
      const dns = await execa('bash', ['deployments/stack.sh', 'check-dns'], { cwd: repoRoot, reject: false });
      expect(dns.exitCode).toBe(1);
      expect(dns.stderr).toContain(`the names server (127.0.0.1:${port}) does not resolve the router probe`);
      const status = await execa('bash', ['deployments/stack.sh', 'status'], { cwd: repoRoot });
      expect(status.stdout).toMatch(/^router\s+down \(no: .*One moment/m);
    } finally {
      await breakNames(port, '-D');
    }
    await eventually(async () => expect((await call(api.base, 'GET', '/readyz')).status).toBe(200), { timeoutMs: 15_000, intervalMs: 500 });
    expect((await execa('bash', ['deployments/stack.sh', 'status'], { cwd: repoRoot })).stdout).toMatch(/^router\s+up/m);
  });

  it('an API serving the edge socket checks the launcher\'s path through Caddy too: 503 names it when the route is gone; recovers', async () => {
    expect(Readiness.parse((await call(api.base, 'GET', '/readyz')).body).checks.launcher).toBeUndefined();
    const edge = await serveApi(apiTestConfig(), true);
    const caddy = createCaddy(edge.deps.config.caddy.adminSocket);
    try {
      const ok = await call(edge.base, 'GET', '/readyz');
      expect(ok.status, ok.text).toBe(200);
      expect(Readiness.parse(ok.body).checks.launcher).toMatchObject({ ok: true });
      expect(await caddy.deleteRoute(LAUNCHER_ROUTE_ID)).toBe(true);
      const down = await call(edge.base, 'GET', '/readyz');
      expect(down.status, down.text).toBe(503);
      expect(down.body.down).toEqual(['launcher']);
      expect(down.body.checks.launcher.error).toMatch(/embed\.js answered 404 through Caddy.*launcher route missing/);
      await caddy.ensureDemoRouter(demoRouterOptions(edge.deps.config));
      expect((await call(edge.base, 'GET', '/readyz')).status).toBe(200);
    } finally {
      await caddy.ensureDemoRouter(demoRouterOptions(edge.deps.config));
      await edge.close();
    }
  });

  it('lists running pools; their last errors only for the operator token', async () => {
    const anonymous = await call(api.base, 'GET', '/readyz');
    const operator = await call(api.base, 'GET', '/readyz', { headers: { authorization: `Bearer ${OPERATOR_TOKEN}` } });
    for (const r of [anonymous, operator]) expect(Array.isArray(Readiness.parse(r.body).pools)).toBe(true);
    for (const p of anonymous.body.pools) expect(p).not.toHaveProperty('lastError');
  });
});

describe('early refusals and keep-alive', () => {
  it('a body refused unread (413, 415) is answered with Connection: close, and the keep-alive client\'s next request succeeds', async () => {
    const agent = new Agent({ connections: 1, pipelining: 1, keepAliveTimeout: 10_000 });
    try {
      // 413: the body is refused by its declared length, unread. 415: refused by its type, under the
      // size limit (whether the server had read it all by then depends on timing: the next request
      // must work either way).
      const cases = [
        { type: 'application/json', body: Buffer.alloc(2 * 1024 * 1024, 0x20), status: 413, connection: 'close' },
        { type: 'text/plain', body: Buffer.alloc(15 * 1024, 0x61), status: 415 },
      ];
      for (const c of cases) {
        const res = await request(`${api.base}/v1/demos`, { method: 'POST', body: c.body, headers: { 'content-type': c.type }, dispatcher: agent });
        await res.body.text();
        expect(res.statusCode).toBe(c.status);
        if (c.connection) expect(res.headers.connection).toBe(c.connection);
        const next = await request(`${api.base}/healthz`, { dispatcher: agent });
        expect(next.statusCode).toBe(200);
        await next.body.text();
      }
      // A request whose body was read keeps its connection.
      const small = await request(`${api.base}/v1/demos`, { method: 'POST', body: '{"ttlSeconds": -1}', headers: { 'content-type': 'application/json' }, dispatcher: agent });
      await small.body.text();
      expect(small.statusCode).toBe(400);
      expect(small.headers.connection).toBe('keep-alive');
    } finally {
      await agent.close();
    }
  });
});
