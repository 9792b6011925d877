/**
 * The HTTP API's contract on the real stack: a listening server, in-process workers on the
 * `t-api-` queues, real demos served through Caddy.
 */
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreatedDemo, Demo, DemoList, ErrorResponse, ExtendDemoResponse, Health, Readiness, ReleaseDemoResponse } from '../../api/schemas';
import { expectNoTraces } from '../helpers/leaks';
import { newDemoId, startHarness, type Harness } from '../helpers/stack';
import { apiTestConfig, call, eventually, expectOpenApiCovers, OPERATOR_TOKEN, randomIp, serveApi, type CallResult, type Seen, type Served } from './helpers';

let h: Harness;
let api: Served;
const ip = randomIp();
const created = new Set<string>();
/** Access tokens of the demos created here, by id. */
const tokens = new Map<string, string>();
/** The Authorization header for a demo created here. */
const tok = (id: string) => ({ authorization: `Bearer ${tokens.get(id)}` });
/** Every (method, path template, status) the tests saw, checked against the OpenAPI document at the end. */
const seen: Seen[] = [];

function record<T>(method: string, path: string, r: CallResult<T>): CallResult<T> {
  seen.push({ method: method.toLowerCase(), path, status: r.status });
  return r;
}
const op = { authorization: `Bearer ${OPERATOR_TOKEN}` };

beforeAll(async () => {
  h = await startHarness('t-api-');
  api = await serveApi(apiTestConfig());
});
afterAll(async () => {
  // Nothing created here may outlive the suite.
  await Promise.allSettled([...created].map((id) => call(api.base, 'DELETE', `/v1/demos/${id}`, { ip, headers: op })));
  await api?.close();
  await h?.stop();
});

async function viaCaddy(url: string, init: { method?: 'GET' | 'POST'; headers?: Record<string, string>; body?: string } = {}) {
  const u = new URL(url);
  const res = await request(`http://127.0.0.1:${h.config.caddy.httpPort}${u.pathname}${u.search}`, {
    method: init.method ?? 'GET', headers: { host: u.host, ...init.headers }, body: init.body,
  });
  return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
}

async function createDemo(body: Record<string, unknown> = { template: 'standin', ttlSeconds: 20 }) {
  const r = record('post', '/v1/demos', await call(api.base, 'POST', '/v1/demos', { json: body, ip }));
  if (r.body?.id) {
    created.add(r.body.id);
    tokens.set(r.body.id, r.body.accessToken);
  }
  return r;
}

describe('system endpoints', () => {
  it('healthz, readyz, metrics', async () => {
    const health = record('get', '/healthz', await call(api.base, 'GET', '/healthz'));
    expect(health.status).toBe(200);
    Health.parse(health.body);
    const ready = record('get', '/readyz', await call(api.base, 'GET', '/readyz'));
    expect(ready.status, ready.text).toBe(200);
    expect(Readiness.parse(ready.body)).toMatchObject({ status: 'ready', down: [] });
    expect(Object.keys(ready.body.checks).sort()).toEqual(['caddy', 'demoRouter', 'mariadb', 'temporal', 'valkey']);
    const metrics = record('get', '/metrics', await call(api.base, 'GET', '/metrics'));
    expect(metrics.status).toBe(200);
    expect(metrics.text).toContain('dmx_api_http_requests_total');
  });
});

describe('a demo through the API', () => {
  it('creates a ready demo that serves through Caddy, extends it once per key, refuses past the cap, releases it', async () => {
    const r = await createDemo();
    expect(r.status, r.text).toBe(201);
    const demo = CreatedDemo.parse(r.body);
    expect(demo).toMatchObject({ template: 'standin', status: 'ready' });
    expect(demo.accessToken.length).toBeGreaterThanOrEqual(32);
    expect(r.headers.location).toBe(`/v1/demos/${demo.id}`);
    expect(demo.credentials?.email).toBeTruthy();
    expect(Date.parse(demo.expiresAt!) - Date.parse(demo.readyAt!)).toBe(20_000);

    // The storefront answers through Caddy, and the back office takes the handed-out login.
    const shop = await viaCaddy(demo.url!);
    expect(shop.status).toBe(200);
    const login = await viaCaddy(`${demo.adminUrl}login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ email: demo.credentials!.email, passwd: demo.credentials!.password }).toString(),
    });
    expect(login.status).toBe(302);
    expect(String(login.headers['set-cookie'] ?? '')).not.toBe('');

    const got = record('get', '/v1/demos/{id}', await call(api.base, 'GET', `/v1/demos/${demo.id}`, { ip, headers: tok(demo.id) }));
    expect(got.status).toBe(200);
    expect(got.body.credentials).toEqual(demo.credentials);
    expect(got.body.accessToken).toBeUndefined();
    expect(Demo.parse(got.body)).toMatchObject({ id: demo.id, status: 'ready', url: demo.url, expiresAt: demo.expiresAt });

    // Same Idempotency-Key twice: applied once.
    const key = `k-${newDemoId()}`;
    const e1 = record('post', '/v1/demos/{id}/extend', await call(api.base, 'POST', `/v1/demos/${demo.id}/extend`, { json: { seconds: 10 }, headers: { 'idempotency-key': key, ...tok(demo.id) }, ip }));
    const e2 = record('post', '/v1/demos/{id}/extend', await call(api.base, 'POST', `/v1/demos/${demo.id}/extend`, { json: { seconds: 10 }, headers: { 'idempotency-key': key, ...tok(demo.id) }, ip }));
    expect(e1.status, e1.text).toBe(200);
    expect(e2.status).toBe(200);
    ExtendDemoResponse.parse(e1.body);
    expect(e2.body.expiresAt).toBe(e1.body.expiresAt);
    expect(Date.parse(e1.body.expiresAt) - Date.parse(demo.expiresAt!)).toBe(10_000);
    const after = await call(api.base, 'GET', `/v1/demos/${demo.id}`, { ip, headers: tok(demo.id) });
    expect(after.body.expiresAt).toBe(e1.body.expiresAt);

    // Max lifetime 60 s: ready + 30 s already, 30 s more is past it.
    const cap = record('post', '/v1/demos/{id}/extend', await call(api.base, 'POST', `/v1/demos/${demo.id}/extend`, { json: { seconds: 30 }, ip, headers: tok(demo.id) }));
    expect(cap.status, cap.text).toBe(409);
    expect(ErrorResponse.parse(cap.body).error.code).toBe('max_lifetime_exceeded');

    // Listed for operators (visibility is eventually consistent).
    await eventually(async () => {
      const list = record('get', '/v1/demos', await call(api.base, 'GET', '/v1/demos?status=ready&template=standin', { headers: op }));
      expect(list.status).toBe(200);
      expect(DemoList.parse(list.body).demos.map((d) => d.id)).toContain(demo.id);
    }, { timeoutMs: 10_000 });

    const d1 = record('delete', '/v1/demos/{id}', await call(api.base, 'DELETE', `/v1/demos/${demo.id}`, { ip, headers: tok(demo.id) }));
    expect(d1.status, d1.text).toBe(202);
    expect(ReleaseDemoResponse.parse(d1.body)).toMatchObject({ id: demo.id });
    const d2 = record('delete', '/v1/demos/{id}', await call(api.base, 'DELETE', `/v1/demos/${demo.id}`, { ip, headers: tok(demo.id) }));
    expect([202, 404]).toContain(d2.status);
    await eventually(() => expectNoTraces(h.deps, demo.id), { timeoutMs: 30_000, intervalMs: 500 });
    created.delete(demo.id);

    // Ended: the closed workflow's final state, no link or login any more; extending is a conflict.
    const ended = await eventually(async () => {
      const g = record('get', '/v1/demos/{id}', await call(api.base, 'GET', `/v1/demos/${demo.id}`, { ip, headers: tok(demo.id) }));
      expect(g.body.status).toBe('released');
      return g;
    });
    expect(Demo.parse(ended.body).credentials).toBeUndefined();
    const metrics = await call(api.base, 'GET', '/metrics');
    expect(metrics.text).toMatch(/dmx_api_demo_claims_total\{template="standin",source="fresh",outcome="ready"\} [1-9]/);
    expect(metrics.text).toMatch(/dmx_api_demo_claim_seconds_count\{template="standin",source="fresh"\} [1-9]/);
    expect(metrics.text).toMatch(/dmx_api_demo_provisions_total\{template="standin",outcome="ready"\} [1-9]/);
    expect(metrics.text).toMatch(/dmx_api_live_demos \d+/);
    const late = record('post', '/v1/demos/{id}/extend', await call(api.base, 'POST', `/v1/demos/${demo.id}/extend`, { json: { seconds: 5 }, ip, headers: tok(demo.id) }));
    expect(late.status).toBe(409);
    const d3 = record('delete', '/v1/demos/{id}', await call(api.base, 'DELETE', `/v1/demos/${demo.id}`, { ip, headers: tok(demo.id) }));
    expect(d3.status).toBe(202);
    expect(d3.body.status).toBe('released');
  });

  it('wait: false answers 202 while provisioning; the demo becomes ready', async () => {
    const r = await createDemo({ wait: false });
    expect(r.status, r.text).toBe(202);
    expect(CreatedDemo.parse(r.body)).toMatchObject({ status: 'provisioning', template: 'standin' });
    await eventually(async () => {
      const g = await call(api.base, 'GET', `/v1/demos/${r.body.id}`, { ip, headers: tok(r.body.id) });
      expect(g.body.status).toBe('ready');
      Demo.parse(g.body);
    }, { timeoutMs: 20_000 });
    expect((await call(api.base, 'DELETE', `/v1/demos/${r.body.id}`, { ip, headers: tok(r.body.id) })).status).toBe(202);
    await eventually(() => expectNoTraces(h.deps, r.body.id), { timeoutMs: 30_000, intervalMs: 500 });
    created.delete(r.body.id);
  });
});

describe('errors', () => {
  it('unknown template, TTL out of range, unknown field', async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      // A well-formed name of a template that is not installed: the document cannot know the set.
      [{ template: 'nope-not-here' }, 'unknown_template'],
      // The name's form and the deployment's TTL range (1..60 here) are in the document's schema.
      [{ template: 'Bad Name!' }, 'validation_failed'],
      [{ ttlSeconds: 61 }, 'validation_failed'],
      [{ ttlSeconds: 0 }, 'validation_failed'],
      [{ ttlSeconds: 1.5 }, 'validation_failed'],
      [{ ttlSeconds: '20' }, 'validation_failed'],
      [{ template: 'standin', color: 'red' }, 'validation_failed'],
    ];
    for (const [body, code] of cases) {
      const r = await createDemo(body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(ErrorResponse.parse(r.body).error.code, JSON.stringify(body)).toBe(code);
    }
  });

  it('unknown ids are 404 (operator token, or any well-formed token), malformed ids 400, before Temporal', async () => {
    const unknown = newDemoId();
    for (const headers of [op, { authorization: `Bearer dmxt_${'A'.repeat(43)}` }]) {
      for (const [method, path, json] of [
        ['GET', `/v1/demos/${unknown}`, undefined],
        ['POST', `/v1/demos/${unknown}/extend`, { seconds: 5 }],
        ['DELETE', `/v1/demos/${unknown}`, undefined],
      ] as const) {
        const r = await call(api.base, method, path, { json, ip, headers });
        record(method, path.replace(unknown, '{id}'), r);
        expect(r.status, `${method} ${path}`).toBe(404);
        expect(r.body).toEqual({ error: { code: 'not_found', message: `demo ${unknown} not found` } });
      }
    }
    for (const bad of ['short', 'ABCDEFGHIJKLMNOP', 'abcd2345efgh678_', 'abcd2345efgh67890', 'abcd2345efgh678%00', '%F0%9F%98%80']) {
      for (const headers of [op, { authorization: `Bearer dmxt_${'A'.repeat(43)}` }]) {
        const r = await call(api.base, 'GET', `/v1/demos/${bad}`, { ip, headers });
        expect(r.status, bad).toBe(400);
        expect(r.body.error.code).toBe('invalid_demo_id');
      }
    }
  });

  it('operator list needs the token and validates its filters', async () => {
    expect((await call(api.base, 'GET', '/v1/demos')).status).toBe(401);
    expect((await call(api.base, 'GET', '/v1/demos', { headers: { authorization: 'Bearer wrong-token-xxxxxxxxxxxx' } })).status).toBe(401);
    const bad = record('get', '/v1/demos', await call(api.base, 'GET', '/v1/demos?status=zombie', { headers: op }));
    expect(bad.status).toBe(400);
    expect((await call(api.base, 'GET', '/v1/demos?evil=1', { headers: op })).status).toBe(400);
  });
});

describe('access tokens', () => {
  it("a demo's token works on that demo only; another demo's token is answered like an unknown id; the operator token works everywhere", async () => {
    const [a, b] = await Promise.all([createDemo({ ttlSeconds: 20, wait: false }), createDemo({ ttlSeconds: 20, wait: false })]);
    expect([a.status, b.status], a.text + b.text).toEqual([202, 202]);
    const A = CreatedDemo.parse(a.body);
    const B = CreatedDemo.parse(b.body);
    expect(A.accessToken).toMatch(/^dmxt_[A-Za-z0-9]{43}$/);
    expect(A.accessToken).not.toBe(B.accessToken);
    for (const d of [A, B]) {
      await eventually(async () => expect((await call(api.base, 'GET', `/v1/demos/${d.id}`, { ip, headers: tok(d.id) })).body.status).toBe('ready'), { timeoutMs: 20_000 });
    }
    const unknown = newDemoId();
    const notFound = async (method: string, path: string, json?: unknown) => (await call(api.base, method, path, { ip, json, headers: op })).text;
    // A's token on B: GET, extend, DELETE are all 404 with exactly the body of an unknown id.
    for (const [method, suffix, json] of [['GET', '', undefined], ['POST', '/extend', { seconds: 5 }], ['DELETE', '', undefined]] as const) {
      const r = record(method, method === 'POST' ? '/v1/demos/{id}/extend' : '/v1/demos/{id}', await call(api.base, method, `/v1/demos/${B.id}${suffix}`, { ip, json, headers: tok(A.id) }));
      expect(r.status, `${method} B with A's token`).toBe(404);
      expect(r.body).toEqual({ error: { code: 'not_found', message: `demo ${B.id} not found` } });
      expect(r.text.replace(B.id, unknown)).toBe(await notFound(method, `/v1/demos/${unknown}${suffix}`, json));
      expect(r.body.credentials).toBeUndefined();
    }
    // B is untouched; its own token reads it, with the login.
    const gotB = await call(api.base, 'GET', `/v1/demos/${B.id}`, { ip, headers: tok(B.id) });
    expect(gotB.status).toBe(200);
    expect(Demo.parse(gotB.body)).toMatchObject({ id: B.id, status: 'ready' });
    expect(gotB.body.credentials?.password).toBeTruthy();

    // No credentials, or garbled ones: 401 with the JSON error shape, never a 500.
    const garbled = [undefined, '', 'Bearer', 'Bearer ', 'Basic Zm9vOmJhcg==', `Token ${A.accessToken}`, A.accessToken, `Bearer ${A.accessToken} extra`,
      `Bearer ${'x'.repeat(600)}`, 'Bearer \u00e9\u00e9', 'Bearer\t' + A.accessToken, '   '];
    for (const authorization of garbled) {
      for (const [method, suffix, json] of [['GET', '', undefined], ['POST', '/extend', { seconds: 5 }], ['DELETE', '', undefined]] as const) {
        const headers: Record<string, string> = authorization === undefined ? {} : { authorization };
        const r = await call(api.base, method, `/v1/demos/${A.id}${suffix}`, { ip, json, headers });
        const what = `${method} ${suffix} ${JSON.stringify(authorization)}`;
        expect(r.status, what).toBe(401);
        expect(ErrorResponse.parse(r.body).error.code, what).toBe('unauthorized');
        expect(r.headers['www-authenticate'], what).toMatch(/^Bearer/);
      }
    }
    record('get', '/v1/demos/{id}', await call(api.base, 'GET', `/v1/demos/${A.id}`, { ip }));
    // A wrong X-Api-Key next to a right token is refused too (no keys are configured here).
    expect((await call(api.base, 'GET', `/v1/demos/${A.id}`, { ip, headers: { ...tok(A.id), 'x-api-key': 'not-a-key-0123456789' } })).status).toBe(401);

    // The operator token: read, extend, end any demo.
    const opGet = await call(api.base, 'GET', `/v1/demos/${A.id}`, { ip, headers: op });
    expect(opGet.status).toBe(200);
    expect(opGet.body.credentials?.password).toBeTruthy();
    const opExt = await call(api.base, 'POST', `/v1/demos/${A.id}/extend`, { ip, json: { seconds: 5 }, headers: op });
    expect(opExt.status, opExt.text).toBe(200);
    // Both still exist: nothing above ended B.
    expect((await call(api.base, 'GET', `/v1/demos/${B.id}`, { ip, headers: op })).body.status).toBe('ready');

    // Each owner ends their own; the operator may end anyone's.
    expect((await call(api.base, 'DELETE', `/v1/demos/${A.id}`, { ip, headers: tok(A.id) })).status).toBe(202);
    expect((await call(api.base, 'DELETE', `/v1/demos/${B.id}`, { ip, headers: op })).status).toBe(202);
    await eventually(async () => {
      await expectNoTraces(h.deps, A.id);
      await expectNoTraces(h.deps, B.id);
    }, { timeoutMs: 30_000, intervalMs: 500 });
    created.delete(A.id);
    created.delete(B.id);
  });
});

describe('OpenAPI document', () => {
  it('documents every route the tests used, with the statuses they got; every documented path exists', async () => {
    await expectOpenApiCovers(api.base, seen, ['/v1/demos', '/v1/demos/{id}', '/v1/demos/{id}/extend', '/v1/pools', '/v1/pools/{template}', '/healthz', '/readyz', '/metrics']);
    const doc = (await call(api.base, 'GET', '/openapi.json')).body;
    expect(Object.keys(doc.components.securitySchemes).sort()).toEqual(['apiKey', 'bearer', 'demoToken']);
    for (const [path, method] of [['/v1/demos/{id}', 'get'], ['/v1/demos/{id}/extend', 'post'], ['/v1/demos/{id}', 'delete']] as const) {
      expect(doc.paths[path][method].security, `${method} ${path}`).toEqual([{ demoToken: [] }, { bearer: [] }]);
    }
    expect(doc.paths['/v1/demos'].post.responses['201'].content['application/json'].schema.$ref).toBe('#/components/schemas/CreatedDemo');
    expect(JSON.stringify(doc.components.schemas.CreatedDemo)).toMatch(/"required":\["accessToken"\]/);
  });
});
