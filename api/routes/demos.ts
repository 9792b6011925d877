/** /v1/demos: get a demo, look at it, extend it, end it; operators list them. */
import { createRoute } from '@hono/zod-openapi';
import { randomUUID } from 'node:crypto';
import { isTemplateName } from '../../contract';
import { spendLimits } from '../claim-limits';
import { ApiError } from '../errors';
import { callerScope, idempotencyKeyHash } from '../quotas';
import { toDemoView } from '../demo-service';
import {
  CreateDemoHeaders,
  CreatedDemo,
  Demo,
  DemoIdParams,
  DemoList,
  ExtendDemoRequest,
  ExtendDemoResponse,
  IdempotencyHeaders,
  LoginLink,
  ListDemosQuery,
  ReleaseDemoResponse,
  createDemoRequest,
} from '../schemas';
import { errorResponses, type ApiApp, type RouteContext } from './common';

/** API keys are needed only when DMX_API_KEYS is set; operators may use their token. */
const publicSecurity: Array<Record<string, string[]>> = [{ apiKey: [] }, { bearer: [] }, {}];
/** One demo: its access token (with an API key when one is sent), or the operator token. */
const demoSecurity: Array<Record<string, string[]>> = [{ demoToken: [] }, { bearer: [] }];

function requestedBy(caller: { kind: string; keyIndex?: number }, ip: string): string {
  if (caller.kind === 'operator') return 'operator';
  if (caller.kind === 'key') return `api-key#${caller.keyIndex}@${ip}`;
  if (caller.kind === 'demo') return `demo-token@${ip}`;
  return `api@${ip}`;
}

export function registerDemoRoutes(app: ApiApp, ctx: RouteContext): void {
  const { deps, publicGuard, operatorGuard, demoGuard } = ctx;
  const { demos, limiter, metrics, log, config, accessTokens, loginLinks } = deps;

  const create = createRoute({
    method: 'post',
    path: '/v1/demos',
    summary: 'Get a demo',
    description:
      'Hands out a ready demo shop (201), from the template\'s warm pool when one runs (a fresh demo otherwise). ' +
      'With `wait: false`: 201 when the pool has a ready demo, 503 `no_capacity` (Retry-After) when it has none, 202 while a fresh demo ' +
      'provisions when the template has no pool. With `wait: true` (default) an empty pool provisions one and answers when it is ready. ' +
      'A retried request with the same `Idempotency-Key` (22+ characters of [A-Za-z0-9_-]) from the same caller (API key, its visitor, ' +
      'or the anonymous address, IPv6 per /64) gets the same demo with its real status, before any limit is checked; another caller ' +
      'gets 409 `idempotency_key_reused` and nothing of that demo. Limits: 429 `too_many_live_demos` or `too_many_claims` (per hour, ' +
      'not given back by DELETE), per anonymous address, per API key, and per `X-Dmx-Visitor` of an API key. ' +
      'Claims come from a Valkey ready list: the answer does not wait for Temporal. ' +
      'The answer carries the demo\'s `accessToken`, which GET, extend and DELETE of this demo require.',
    tags: ['demos'],
    security: publicSecurity,
    middleware: publicGuard,
    request: { headers: CreateDemoHeaders, body: { required: false, content: { 'application/json': { schema: createDemoRequest(config.demos) } } } },
    responses: {
      200: { description: 'a replay (same Idempotency-Key, same caller) of a demo that is no longer ready: its real status', content: { 'application/json': { schema: CreatedDemo } } },
      201: { description: 'a ready demo, with its access token', content: { 'application/json': { schema: CreatedDemo } } },
      202: { description: 'provisioning has started (`wait: false`); the access token is valid already', content: { 'application/json': { schema: CreatedDemo } } },
      ...errorResponses(400, 401, 409, 413, 415, 429, 503),
    },
  });

  app.openapi(create, async (c) => {
    const body = c.req.valid('json') ?? {};
    const headers = c.req.valid('header');
    const key = headers['idempotency-key'];
    const caller = c.get('caller');
    const ip = c.get('clientIp');
    const t0 = performance.now();
    const templateLabel = isTemplateName(body.template) ? body.template : config.demos.defaultTemplate;
    const scope = callerScope(config, caller, ip, caller.kind === 'key' ? headers['x-dmx-visitor'] : undefined);
    const keyHash = key ? idempotencyKeyHash(key) : undefined;
    c.header('Cache-Control', 'no-store');

    /** A key used before: the same demo, with its real status, to the same caller scope only. */
    const answerReplay = async (prev: { demoId: string; owner: string }) => {
      metrics.claims.inc({ template: templateLabel, source: 'none', outcome: 'replay' });
      if (prev.owner !== scope.owner) {
        throw new ApiError(409, 'idempotency_key_reused', 'this Idempotency-Key was used by another caller; use a new random key');
      }
      const state = await demos.get(prev.demoId);
      c.header('Location', `/v1/demos/${state.demoId}`);
      return c.json({ ...toDemoView(state), accessToken: accessTokens.issue(state.demoId) }, state.status === 'ready' ? 201 : 200);
    };
    // Replays are answered before any limit: a retry at the limit gets its original answer.
    if (keyHash) {
      const prev = await demos.replayOf(keyHash).catch((err: Error) => {
        log.error({ err: err.message }, 'idempotency keys unavailable (Valkey)');
        throw ApiError.unavailable('unavailable', 'cannot check the Idempotency-Key now; try again shortly');
      });
      if (prev) return answerReplay(prev);
    }

    const ttl = body.ttlSeconds ?? config.demos.defaultTtlSeconds;
    const holdUntil = Date.now() + (config.api.acquireTimeoutSeconds + Math.min(Math.max(ttl, 1), config.demos.maxTtlSeconds)) * 1000;
    let spent;
    try {
      spent = await spendLimits(limiter, log, scope.buckets, holdUntil);
    } catch (err) {
      metrics.claims.inc({ template: templateLabel, source: 'none', outcome: err instanceof ApiError ? err.code : 'error' });
      throw err;
    }
    let acquired;
    try {
      acquired = await demos.acquire({
        template: body.template, ttlSeconds: body.ttlSeconds, wait: body.wait, requestedBy: requestedBy(caller, ip),
        owner: scope.owner, idempotencyKeyHash: keyHash, requestId: c.get('requestId'),
      });
    } catch (err) {
      await spent.giveBack();
      metrics.claims.inc({ template: templateLabel, source: 'none', outcome: err instanceof ApiError ? err.code : 'error' });
      throw err;
    }
    if (acquired.replay) {
      // The same key in a concurrent request: the other one took the demo.
      await spent.giveBack();
      return answerReplay(acquired.replay);
    }
    const { state, source } = acquired;
    await spent.bind(state.demoId, state.expiresAt ? Date.parse(state.expiresAt) : holdUntil);
    metrics.claims.inc({ template: state.template, source, outcome: state.status === 'ready' ? 'ready' : 'started' });
    if (state.status === 'ready') metrics.claimSeconds.observe({ template: state.template, source }, (performance.now() - t0) / 1000);
    if (acquired.valkeyMs !== undefined) metrics.claimValkeySeconds.observe({ template: state.template }, acquired.valkeyMs / 1000);
    // Never the Idempotency-Key: it brings the demo's secrets back.
    log.info({ reqId: c.get('requestId'), demoId: state.demoId, template: state.template, status: state.status, source, ms: Math.round(performance.now() - t0) }, 'demo handed out');
    c.header('Location', `/v1/demos/${state.demoId}`);
    const link = loginLinks.forDemo(state);
    const view = { ...toDemoView(state), accessToken: accessTokens.issue(state.demoId), ...(link ? { loginUrl: link.loginUrl } : {}) };
    return state.status === 'ready' ? c.json(view, 201) : c.json(view, 202);
  });

  /** One demo's endpoint: its access token (or the operator token), then the rate limit. */
  const demoRoute = <R extends Omit<Parameters<typeof createRoute>[0], 'tags' | 'security' | 'middleware'>>(route: R) =>
    createRoute({ ...route, tags: ['demos'], security: demoSecurity, middleware: demoGuard });

  const get = demoRoute({
    method: 'get',
    path: '/v1/demos/{id}',
    summary: 'A demo and its lifecycle status',
    description: "Needs the demo's access token (or the operator token): 401 without one, 404 with another demo's token.",
    request: { params: DemoIdParams },
    responses: {
      200: { description: 'the demo', content: { 'application/json': { schema: Demo } } },
      ...errorResponses(400, 401, 404, 429, 503),
    },
  });
  app.openapi(get, async (c) => {
    const state = await demos.get(c.req.valid('param').id);
    c.header('Cache-Control', 'no-store');
    return c.json(toDemoView(state), 200);
  });

  const extend = demoRoute({
    method: 'post',
    path: '/v1/demos/{id}/extend',
    summary: 'Move the expiry later',
    description: 'Refused (409) past the maximum lifetime or when the demo is not ready. An `Idempotency-Key` makes retries apply once. ' +
      "Needs the demo's access token (or the operator token): 401 without one, 404 with another demo's token.",
    request: {
      params: DemoIdParams,
      headers: IdempotencyHeaders,
      body: { required: true, content: { 'application/json': { schema: ExtendDemoRequest } } },
    },
    responses: {
      200: { description: 'the new expiry', content: { 'application/json': { schema: ExtendDemoResponse } } },
      ...errorResponses(400, 401, 404, 409, 413, 415, 429, 503),
    },
  });
  app.openapi(extend, async (c) => {
    const { id } = c.req.valid('param');
    const { seconds } = c.req.valid('json');
    const key = c.req.valid('header')['idempotency-key'];
    const { expiresAt } = await demos.extend(id, seconds, key);
    await limiter.setDemoExpiry(id, Date.parse(expiresAt)).catch((err: Error) => log.warn({ err: err.message, demoId: id }, 'could not move the live-demo expiry'));
    log.info({ demoId: id, seconds, expiresAt }, 'demo extended');
    return c.json({ id, expiresAt }, 200);
  });

  const loginLink = demoRoute({
    method: 'post',
    path: '/v1/demos/{id}/login-link',
    summary: 'A one-time back-office login link',
    description: "Single use, valid for 60 s, bound to this demo; lands logged in on the template's chosen back-office page. " +
      'A used, expired or foreign link shows the visitor a page saying so. 409 when the demo is not ready. ' +
      "Needs the demo's access token (or the operator token): 401 without one, 404 with another demo's token.",
    request: { params: DemoIdParams },
    responses: {
      200: { description: 'a fresh login link', content: { 'application/json': { schema: LoginLink } } },
      ...errorResponses(400, 401, 404, 409, 429, 503),
    },
  });
  app.openapi(loginLink, async (c) => {
    const { id } = c.req.valid('param');
    const link = loginLinks.forDemo(await demos.get(id));
    if (!link) throw new ApiError(409, 'demo_not_ready', `demo ${id} is not ready`);
    c.header('Cache-Control', 'no-store');
    return c.json({ id, ...link }, 200);
  });

  const reset = demoRoute({
    method: 'post',
    path: '/v1/demos/{id}/reset',
    summary: "Back to the template's state",
    description: 'Same URL and expiry; container and data restored anew and a new back-office password (in the answer, with a fresh ' +
      '`loginUrl`). Answers when the demo is ready again (seconds). An `Idempotency-Key` makes a retried reset answer instead of resetting again. ' +
      "409 when the demo is not ready. Needs the demo's access token (or the operator token).",
    request: { params: DemoIdParams, headers: IdempotencyHeaders },
    responses: {
      200: { description: 'the demo, ready again, with its new credentials', content: { 'application/json': { schema: CreatedDemo.omit({ accessToken: true }) } } },
      ...errorResponses(400, 401, 404, 409, 429, 503),
    },
  });
  app.openapi(reset, async (c) => {
    const { id } = c.req.valid('param');
    const key = c.req.valid('header')['idempotency-key'];
    if (!demos.reset) throw new ApiError(409, 'update_rejected', 'reset is not available');
    const state = await demos.reset(id, key ?? randomUUID());
    const link = loginLinks.forDemo(state);
    log.info({ demoId: id }, 'demo reset');
    c.header('Cache-Control', 'no-store');
    return c.json({ ...toDemoView(state), ...(link ? { loginUrl: link.loginUrl } : {}) }, 200);
  });

  const release = demoRoute({
    method: 'delete',
    path: '/v1/demos/{id}',
    summary: 'End a demo now',
    description: 'Teardown starts (202). Repeating it is harmless (202 again, or 404 once the demo is forgotten). ' +
      "Needs the demo's access token (or the operator token): 401 without one, 404 with another demo's token.",
    request: { params: DemoIdParams },
    responses: {
      202: { description: 'teardown started (or had already run)', content: { 'application/json': { schema: ReleaseDemoResponse } } },
      ...errorResponses(400, 401, 404, 429, 503),
    },
  });
  app.openapi(release, async (c) => {
    const { id } = c.req.valid('param');
    const status = await demos.release(id, `api: DELETE by ${requestedBy(c.get('caller'), c.get('clientIp'))}`);
    await limiter.releaseDemo(id).catch((err: Error) => log.warn({ err: err.message, demoId: id }, 'could not free the live-demo slot'));
    log.info({ demoId: id, status }, 'demo release requested');
    return c.json({ id, status }, 202);
  });

  const list = createRoute({
    method: 'get',
    path: '/v1/demos',
    summary: 'List demos (operators)',
    tags: ['demos', 'operators'],
    security: [{ bearer: [] }],
    middleware: operatorGuard,
    request: { query: ListDemosQuery },
    responses: {
      200: { description: 'demos of this deployment, newest first', content: { 'application/json': { schema: DemoList } } },
      ...errorResponses(400, 401, 403, 503),
    },
  });
  app.openapi(list, async (c) => {
    const q = c.req.valid('query');
    const out = await demos.list({ status: q.status, template: q.template, limit: q.limit ?? 100 });
    c.header('Cache-Control', 'no-store');
    return c.json(out, 200);
  });
}
