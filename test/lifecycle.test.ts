/**
 * The demo lifecycle on the real stack: Temporal dev server, podman + CRIU, MariaDB, Caddy, Valkey.
 */
import { WorkflowFailedError, WorkflowUpdateFailedError } from '@temporalio/client';
import { execa } from 'execa';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  demoWorkflowId, demoResourceNames, awaitDemoReadyUpdate, demoStateQuery, extendDemoUpdate, releaseDemoUpdate, type DemoLifecycleInput, type DemoState,
} from '../contract';
import { expectNoTraces } from './helpers/leaks';
import { newDemoId, startHarness, type Harness } from './helpers/stack';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('t-life-');
});
afterAll(async () => {
  await h?.stop();
});

async function startDemo(o: Partial<DemoLifecycleInput> = {}) {
  const demoId = newDemoId();
  const handle = await h.client.workflow.start('demoLifecycle', {
    taskQueue: h.queues.shared,
    workflowId: demoWorkflowId(demoId),
    args: [{ demoId, template: 'standin', ttlSeconds: 60, maxLifetimeSeconds: 120, ...o } satisfies DemoLifecycleInput],
  });
  const state = await handle.executeUpdate(awaitDemoReadyUpdate);
  return { demoId, handle, state };
}

/** GET through Caddy, as a browser would (demo subdomains of localhost resolve to loopback). */
async function viaCaddy(url: string, init: { method?: 'GET' | 'POST'; headers?: Record<string, string>; body?: string } = {}) {
  const u = new URL(url);
  const res = await request(`http://127.0.0.1:${h.config.caddy.httpPort}${u.pathname}${u.search}`, { reset: true,
    method: init.method ?? 'GET', headers: { host: u.host, ...init.headers }, body: init.body,
  });
  return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
}

function meta(body: string, name: string): string | undefined {
  return new RegExp(`<meta name="${name}" content="([^"]*)"`).exec(body)?.[1];
}

async function adminLogin(state: DemoState, credentials = state.credentials!) {
  const r = await viaCaddy(`${state.adminUrl}login`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ email: credentials.email, passwd: credentials.password }).toString(),
  });
  const setCookie = ([] as string[]).concat(r.headers['set-cookie'] ?? []);
  return { status: r.status, cookie: setCookie.map((c) => c.split(';')[0]).join('; ') };
}

describe('demo lifecycle', () => {
  it('serves a ready demo on its own subdomain through Caddy, then removes every trace at expiry', async () => {
    const { demoId, handle, state } = await startDemo({ ttlSeconds: 4 });
    expect(state.status).toBe('ready');
    expect(state.restoreMethod).toBe('criu');
    const host = new URL(state.url!).host;
    expect(host).toBe(`${demoId}.${h.config.demos.domain}:${h.config.caddy.httpPort}`);

    const home = await viaCaddy(state.url!);
    expect(home.status).toBe(200);
    expect(meta(home.body, 'dmx-shop-domain')).toBe(host);
    expect(meta(home.body, 'dmx-db-name')).toBe(demoResourceNames(h.config.profile, demoId).database);

    // The back office takes the credentials handed out, and only those.
    const login = await adminLogin(state);
    expect(login.status).toBe(302);
    const dash = await viaCaddy(state.adminUrl!, { headers: { cookie: login.cookie, accept: 'application/json' } });
    expect(dash.status).toBe(200);
    expect((await adminLogin(state, { email: state.credentials!.email, password: 'prestashop' })).status).toBe(401);

    const final = await handle.result();
    expect(final.status).toBe('expired');
    expect(Date.parse(final.endedAt!)).toBeGreaterThanOrEqual(Date.parse(final.expiresAt!));
    // Promptly: the teardown takes about a second; 30 s leaves room for a loaded machine.
    expect(Date.parse(final.endedAt!)).toBeLessThanOrEqual(Date.parse(final.expiresAt!) + 30_000);
    await expectNoTraces(h.deps, demoId);
    expect((await viaCaddy(state.url!)).status).toBe(404);
  });

  it('publishes its state as search attributes that operators can filter on', async () => {
    const { demoId, handle } = await startDemo();
    const query = `WorkflowId = '${demoWorkflowId(demoId)}' AND DmxKind = 'demo' AND DmxStatus = 'ready' AND DmxTemplate = 'standin' AND DmxHost = '${h.config.hostId}'`;
    let found = 0;
    for (let i = 0; i < 50 && found === 0; i++) {
      for await (const _ of h.client.workflow.list({ query })) found++;
      if (found === 0) await new Promise((r) => setTimeout(r, 200));
    }
    expect(found).toBe(1);
    await handle.executeUpdate(releaseDemoUpdate, { args: [{ reason: 'test done' }] });
    expect((await handle.result()).status).toBe('released');
    await expectNoTraces(h.deps, demoId);
  });

  it('extends once per request id and refuses an extend past the maximum lifetime', async () => {
    const { demoId, handle, state } = await startDemo({ ttlSeconds: 30, maxLifetimeSeconds: 60 });
    const before = Date.parse(state.expiresAt!);

    const first = await handle.executeUpdate(extendDemoUpdate, { args: [{ seconds: 10, requestId: 'req-1' }], updateId: 'req-1' });
    expect(Date.parse(first.expiresAt) - before).toBe(10_000);
    // The same request retried (same update id) and re-sent under a new update id: applied once.
    const retried = await handle.executeUpdate(extendDemoUpdate, { args: [{ seconds: 10, requestId: 'req-1' }], updateId: 'req-1' });
    const resent = await handle.executeUpdate(extendDemoUpdate, { args: [{ seconds: 10, requestId: 'req-1' }] });
    expect(retried.expiresAt).toBe(first.expiresAt);
    expect(resent.expiresAt).toBe(first.expiresAt);

    const refused = await handle.executeUpdate(extendDemoUpdate, { args: [{ seconds: 3600, requestId: 'req-2' }] }).catch((e) => e);
    expect(refused).toBeInstanceOf(WorkflowUpdateFailedError);
    expect((refused as WorkflowUpdateFailedError).cause).toMatchObject({ type: 'MaxLifetimeExceeded' });
    expect((refused as Error & { cause: Error }).cause.message).toMatch(/maximum lifetime/);
    const invalid = await handle.executeUpdate(extendDemoUpdate, { args: [{ seconds: -5 }] }).catch((e) => e);
    expect((invalid as WorkflowUpdateFailedError).cause).toMatchObject({ type: 'InvalidInput' });
    expect((await handle.query(demoStateQuery)).expiresAt).toBe(first.expiresAt);

    const released = await handle.executeUpdate(releaseDemoUpdate, { args: [{ reason: 'user left' }] });
    expect(released.demoId).toBe(demoId);
    const final = await handle.result();
    expect(final.status).toBe('released');
    expect(final.extendRequests).toEqual(['req-1']);
    await expectNoTraces(h.deps, demoId);
  });

  it('runs the same teardown when an operator cancels the workflow', async () => {
    const { demoId, handle } = await startDemo();
    await handle.cancel();
    const err = await handle.result().catch((e) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect((await handle.describe()).status.name).toBe('CANCELLED');
    await expectNoTraces(h.deps, demoId);
  });

  it('isolates demos: own database account, own secrets, own rows', async () => {
    const [a, b] = await Promise.all([startDemo(), startDemo()]);
    const names = (id: string) => demoResourceNames(h.config.profile, id);

    // From inside A's container, with A's own credentials, B's database is out of reach.
    const php = `$p = (require '/var/www/html/app/config/parameters.php')['parameters'];
      mysqli_report(MYSQLI_REPORT_OFF);
      $c = mysqli_connect($p['database_host'], $p['database_user'], $p['database_password'], '', (int)$p['database_port']);
      if (!$c) { echo 'connect-failed'; exit; }
      $own = mysqli_query($c, 'SELECT COUNT(*) FROM ' . $p['database_name'] . '.ps_product');
      echo $own ? 'own-ok ' : 'own-denied ';
      echo mysqli_query($c, 'SELECT COUNT(*) FROM ${names(b.demoId).database}.ps_product') ? 'other-readable' : 'other-denied';
      echo mysqli_query($c, 'SELECT COUNT(*) FROM dmx_tpl_standin.ps_product') ? ' template-readable' : ' template-denied';`;
    const out = await execa('podman', ['exec', names(a.demoId).container, 'php', '-r', php]);
    expect(out.stdout).toBe('own-ok other-denied template-denied');

    // Secrets differ, so A's back-office cookie means nothing to B.
    const loginA = await adminLogin(a.state);
    expect(loginA.status).toBe(302);
    const onA = await viaCaddy(a.state.adminUrl!, { headers: { cookie: loginA.cookie, accept: 'application/json' } });
    const onB = await viaCaddy(b.state.adminUrl!, { headers: { cookie: loginA.cookie, accept: 'application/json' } });
    expect(onA.status).toBe(200);
    expect(onB.status).toBe(401);
    expect(a.state.credentials!.password).not.toBe(b.state.credentials!.password);

    // A cart written on A lands in A's data only.
    const cart = await viaCaddy(`${a.state.url}cart`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'id_product=7&qty=2',
    });
    expect([200, 302, 303]).toContain(cart.status);
    const count = async (db: string) => {
      const [rows] = await h.deps.mariadb.pool.query(`SELECT COUNT(*) AS n FROM \`${db}\`.ps_cart_product`);
      return Number((rows as Array<{ n: number }>)[0]!.n);
    };
    expect(await count(names(a.demoId).database)).toBe(1);
    expect(await count(names(b.demoId).database)).toBe(0);

    await Promise.all([a, b].map(async (d) => {
      await d.handle.signal('releaseDemo', { reason: 'test done' });
      await d.handle.result();
      await expectNoTraces(h.deps, d.demoId);
    }));
  });

  it('fails with a clear error and leaks nothing when the template does not exist', async () => {
    const demoId = newDemoId();
    const handle = await h.client.workflow.start('demoLifecycle', {
      taskQueue: h.queues.shared, workflowId: demoWorkflowId(demoId),
      args: [{ demoId, template: 'no-such-template', ttlSeconds: 60, maxLifetimeSeconds: 120 }],
    });
    const state = await handle.executeUpdate(awaitDemoReadyUpdate);
    expect(['tearing_down', 'failed']).toContain(state.status);
    const err = await handle.result().catch((e) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect(String((err as WorkflowFailedError).cause?.message)).toMatch(/template no-such-template has no spec.*dmx checkpoint/);
    await expectNoTraces(h.deps, demoId);
  });
});
