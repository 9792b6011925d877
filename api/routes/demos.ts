/** /v1/demos: get a demo, look at it, extend it, end it; operators list them. */
import { createRoute } from '@hono/zod-openapi';
import { createHash, randomUUID } from 'node:crypto';
import { isTemplateName } from '../../contract';
import { ApiError } from '../errors';
import { toDemoView } from '../demo-service';
import {
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

/**
 * An Idempotency-Key scoped to whoever sent it, so two callers that happen to pick the same key
 * never share a demo (the key names the pool's claim update, whose answer holds the demo's login).
 */
export function scopedIdempotencyKey(caller: { kind: string; keyIndex?: number }, ip: string, key: string): string {
  const scope = caller.kind === 'operator' ? 'operator' : caller.kind === 'key' ? `key#${caller.keyIndex}` : `ip:${ip}`;
  return createHash('sha256').update(`${scope}\n${key}`, 'utf8').digest('base64url').slice(0, 32);
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
      'A retried request with the same `Idempotency-Key` (same caller, same template) gets the same pooled demo. ' +
      'The answer carries the demo\'s `accessToken`, which GET, extend and DELETE of this demo require.',
    tags: ['demos'],
    security: publicSecurity,
    middleware: publicGuard,
    request: { headers: IdempotencyHeaders, body: { required: false, content: { 'application/json': { schema: createDemoRequest(config.demos) } } } },
    responses: {
      201: { description: 'a ready demo, with its access token', content: { 'application/json': { schema: CreatedDemo } } },
      202: { description: 'provisioning has started (`wait: false`); the access token is valid already', content: { 'application/json': { schema: CreatedDemo } } },
      ...errorResponses(400, 401, 413, 415, 429, 503),
    },
  });

  app.openapi(create, async (c) => {
    const body = c.req.valid('json') ?? {};
    const key = c.req.valid('header')['idempotency-key'];
    const caller = c.get('caller');
    const ip = c.get('clientIp');
    const t0 = performance.now();
    const templateLabel = isTemplateName(body.template) ? body.template : config.demos.defaultTemplate;
    const limited = caller.kind !== 'operator' && config.api.maxLiveDemosPerIp > 0;
    const slot = `pending:${randomUUID()}`;
    const ttl = body.ttlSeconds ?? config.demos.defaultTtlSeconds;
    if (limited) {
      let decision;
      try {
        decision = await limiter.reserveSlot(ip, slot, Date.now() + (config.api.acquireTimeoutSeconds + Math.min(Math.max(ttl, 1), config.demos.maxTtlSeconds)) * 1000);
      } catch (err) {
        log.error({ err: (err as Error).message }, 'live-demo limit unavailable (Valkey)');
        throw ApiError.unavailable('unavailable', 'cannot check the live-demo limit now; try again shortly');
      }
      if (!decision.allowed) {
        metrics.claims.inc({ template: templateLabel, source: 'none', outcome: 'too_many_live_demos' });
        throw new ApiError(429, 'too_many_live_demos', `at most ${config.api.maxLiveDemosPerIp} live demos per client; end one (DELETE) or wait`, {
          'Retry-After': String(decision.retryAfterSeconds),
        });
      }
    }
    let acquired;
    try {
      acquired = await demos.acquire({
        template: body.template, ttlSeconds: body.ttlSeconds, wait: body.wait, requestedBy: requestedBy(caller, ip),
        idempotencyKey: key ? scopedIdempotencyKey(caller, ip, key) : undefined, requestId: c.get('requestId'),
      });
    } catch (err) {
      if (limited) await limiter.cancelSlot(ip, slot).catch(() => undefined);
      const outcome = err instanceof ApiError ? err.code : 'error';
      metrics.claims.inc({ template: templateLabel, source: 'none', outcome });
      throw err;
    }
    const { state, source } = acquired;
    if (limited) {
      const until = state.expiresAt ? Date.parse(state.expiresAt) : Date.now() + (config.api.acquireTimeoutSeconds + ttl) * 1000;
      await limiter.bindSlot(ip, slot, state.demoId, until).catch((err: Error) => log.warn({ err: err.message, demoId: state.demoId }, 'could not record the live demo'));
    }
    metrics.claims.inc({ template: state.template, source, outcome: state.status === 'ready' ? 'ready' : 'started' });
    if (state.status === 'ready') metrics.claimSeconds.observe({ template: state.template, source }, (performance.now() - t0) / 1000);
    log.info({ reqId: c.get('requestId'), demoId: state.demoId, template: state.template, status: state.status, source, idempotencyKey: key, ms: Math.round(performance.now() - t0) }, 'demo handed out');
    c.header('Location', `/v1/demos/${state.demoId}`);
    c.header('Cache-Control', 'no-store');
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
    log.info({ demoId: id, seconds, expiresAt, idempotencyKey: key }, 'demo extended');
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
