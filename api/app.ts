/**
 * createApp(deps): the Hono application. Cross-cutting concerns run in this order: request id +
 * access log + metrics, error mapping, body size limit and JSON content type (/v1), then per route:
 * authentication, rate limit, zod validation, handler. Route modules register themselves with the
 * same RouteContext: system, demos (/v1/demos), warm pools (/v1/pools).
 */
import { OpenAPIHono } from '@hono/zod-openapi';
import type { Context, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { every } from 'hono/combine';
import { HTTPException } from 'hono/http-exception';
import { matchedRoutes } from 'hono/route';
import { randomUUID } from 'node:crypto';
import { REQUEST_ID_PATTERN } from '../contract';
import type { AppDeps } from './app-deps';
import { demoAccess, operatorAuth, publicAuth, type AuthOptions } from './auth';
import { clientIp } from './client-ip';
import { ipBucket } from './quotas';
import { ApiError, errorBody, sendError } from './errors';
import { allowedMethodsOf } from './method-not-allowed';
import type { ApiApp, ApiEnv, RouteContext } from './routes/common';
import { registerCodecRoutes } from './routes/codec';
import { registerDemoRoutes } from './routes/demos';
import { registerPoolRoutes } from './routes/pools';
import { registerSystemRoutes } from './routes/system';
import { registerVisitorRoutes } from './visitor/routes';

export type { AppDeps } from './app-deps';

const JSON_TYPE = /^application\/(?:[a-z0-9.+-]+\+)?json\s*(?:;.*)?$/i;

function routeLabel(c: Context): string {
  const routes = matchedRoutes(c).filter((r) => r.method !== 'ALL');
  return routes.length ? routes[routes.length - 1]!.path : 'unmatched';
}

function zodIssues(error: unknown): string {
  const issues = (error as { issues?: Array<{ path: PropertyKey[]; message: string; code?: string; keys?: string[] }> }).issues ?? [];
  return issues
    .slice(0, 5)
    .map((i) => {
      const where = i.path.length ? i.path.map(String).join('.') : 'body';
      return i.code === 'unrecognized_keys' && i.keys ? `${where}: unknown field(s) ${i.keys.map((k) => JSON.stringify(k.slice(0, 40))).join(', ')}` : `${where}: ${i.message}`;
    })
    .join('; ')
    .slice(0, 500);
}

export function createApp(deps: AppDeps): ApiApp {
  const { config, log, metrics, limiter } = deps;
  const app: ApiApp = new OpenAPIHono<ApiEnv>({
    defaultHook: (result, c) => {
      if (!result.success) {
        const target = (result as { target?: string }).target;
        const prefix = target === 'query' ? 'query ' : target === 'header' ? 'header ' : target === 'param' ? 'path ' : '';
        return c.json(errorBody('validation_failed', `${prefix}${zodIssues(result.error)}` || 'invalid request'), 400);
      }
    },
  });

  // Request id, access log, metrics. Outermost, so it sees the final status of every request.
  app.use('*', async (c, next) => {
    const t0 = performance.now();
    const incoming = c.req.header('x-request-id');
    const requestId = incoming && REQUEST_ID_PATTERN.test(incoming) ? incoming : randomUUID();
    c.set('requestId', requestId);
    await next();
    c.header('X-Request-Id', requestId);
    const route = routeLabel(c);
    const seconds = (performance.now() - t0) / 1000;
    metrics.httpRequests.inc({ method: c.req.method, route, status: String(c.res.status) });
    metrics.httpSeconds.observe({ method: c.req.method, route }, seconds);
    if (route !== '/metrics' && route !== '/healthz') {
      log.info({ reqId: requestId, method: c.req.method, route, status: c.res.status, ms: Math.round(seconds * 1000) }, 'request');
    }
  });

  app.onError((err, c) => {
    if (err instanceof ApiError) return sendError(c, err);
    if (err instanceof HTTPException) {
      const msg = err.message || 'bad request';
      if (err.status === 413) return sendError(c, new ApiError(413, 'payload_too_large', `request body exceeds ${config.api.bodyLimitBytes} bytes`));
      if (/Content-Type/i.test(msg)) return sendError(c, new ApiError(415, 'unsupported_media_type', 'request body must be application/json'));
      if (/malformed json/i.test(msg)) return sendError(c, new ApiError(400, 'malformed_json', 'request body is not valid JSON'));
      if (err.status >= 400 && err.status < 500) return sendError(c, new ApiError(err.status, 'bad_request', msg.slice(0, 200)));
    }
    if (err instanceof URIError) return sendError(c, new ApiError(400, 'bad_request', 'malformed URL encoding'));
    log.error({ err, reqId: c.get('requestId'), method: c.req.method, path: c.req.path.slice(0, 200) }, 'unhandled error');
    return sendError(c, new ApiError(500, 'internal', 'internal error; it has been logged'));
  });

  // Read from the routing table at the first miss: by then every route module has registered.
  let allowedMethods: ((path: string) => string[]) | undefined;
  app.notFound((c) => {
    allowedMethods ??= allowedMethodsOf(app.routes);
    const allow = allowedMethods(c.req.path);
    if (allow.length === 0) return sendError(c, new ApiError(404, 'not_found', 'no such endpoint'));
    return sendError(c, new ApiError(405, 'method_not_allowed', `${c.req.method.slice(0, 20)} is not allowed here; allowed: ${allow.join(', ')}`, { Allow: allow.join(', ') }));
  });

  // Bodies: bounded, JSON only (a POST without a body is fine where the body is optional).
  app.use('/v1/*', bodyLimit({ maxSize: config.api.bodyLimitBytes, onError: (c) => sendError(c, new ApiError(413, 'payload_too_large', `request body exceeds ${config.api.bodyLimitBytes} bytes`)) }));
  app.use('/__dmx/*', bodyLimit({ maxSize: 2_048, onError: (c) => sendError(c, new ApiError(413, 'payload_too_large', 'request body exceeds 2048 bytes')) }));
  app.use('/v1/*', async (c, next) => {
    if (c.req.method === 'POST' || c.req.method === 'PUT' || c.req.method === 'PATCH') {
      const length = c.req.header('content-length');
      const hasBody = (length !== undefined && length !== '0') || c.req.header('transfer-encoding') !== undefined;
      const type = c.req.header('content-type');
      if ((hasBody || type !== undefined) && !JSON_TYPE.test(type ?? '')) {
        throw new ApiError(415, 'unsupported_media_type', 'request body must be application/json');
      }
      if (hasBody) {
        // Strict JSON, checked once here on the bytes: the body parser the validators use would
        // also take what is not JSON (invalid UTF-8 replaced by U+FFFD, several leading byte order
        // marks). One leading BOM is ignored, as RFC 8259 allows.
        const bytes = new Uint8Array(await c.req.arrayBuffer());
        if (bytes.length > 0) {
          try {
            const text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
            JSON.parse(text.startsWith('\ufeff') ? text.slice(1) : text);
          } catch {
            throw new ApiError(400, 'malformed_json', 'request body is not valid JSON (UTF-8)');
          }
        }
      }
    }
    await next();
  });

  const auth: AuthOptions = { operatorToken: config.api.operatorToken, requireOperatorToken: config.api.requireOperatorToken, apiKeys: config.api.apiKeys };
  const rateLimit: MiddlewareHandler<ApiEnv> = async (c, next) => {
    const ip = clientIp(c, config.api.trustedProxyHeader);
    c.set('clientIp', ip);
    if (c.get('caller')?.kind === 'operator') return next();
    let decision;
    try {
      decision = await Promise.race([
        limiter.hit(ipBucket(ip)),
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error('rate limiter timed out')), 1_000).unref()),
      ]);
    } catch (err) {
      // Fail open: an unreachable Valkey must not take the API down (demo creation still checks the live-demo limit).
      log.warn({ err: (err as Error).message }, 'rate limiter unavailable; request let through');
      return next();
    }
    if (!decision.allowed) {
      throw new ApiError(429, 'rate_limited', `more than ${config.api.rateLimitPerMinute} requests per minute from this client`, { 'Retry-After': String(decision.retryAfterSeconds) });
    }
    await next();
  };
  const setIp: MiddlewareHandler<ApiEnv> = async (c, next) => {
    c.set('clientIp', clientIp(c, config.api.trustedProxyHeader));
    await next();
  };

  /**
   * One demo's endpoints: the caller is identified first, the rate limit applies to every attempt
   * (wrong tokens included; the operator is exempt), and only then is a refusal answered.
   */
  const demoGuard: MiddlewareHandler<ApiEnv> = async (c, next) => {
    let id: string | undefined;
    try {
      id = c.req.param('id');
    } catch {
      id = undefined; // undecodable: treated as a malformed id
    }
    const access = demoAccess(auth, deps.accessTokens, { authorization: c.req.header('authorization'), apiKey: c.req.header('x-api-key') }, id);
    c.set('caller', access.caller ?? { kind: 'anonymous' });
    await rateLimit(c, async () => {
      if (access.error) throw access.error;
      await next();
    });
  };

  const ctx: RouteContext = {
    deps,
    auth,
    publicGuard: every(publicAuth(auth), rateLimit),
    operatorGuard: every(operatorAuth(auth), setIp),
    demoGuard,
  };

  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', {
    type: 'http', scheme: 'bearer', description: 'the operator token (DMX_OPERATOR_TOKEN); on POST /v1/demos also an API key',
  });
  app.openAPIRegistry.registerComponent('securitySchemes', 'apiKey', { type: 'apiKey', in: 'header', name: 'X-Api-Key', description: 'an API key (DMX_API_KEYS), when keys are configured' });
  app.openAPIRegistry.registerComponent('securitySchemes', 'demoToken', {
    type: 'http', scheme: 'bearer', bearerFormat: 'dmxt_…',
    description: 'the `accessToken` POST /v1/demos returned for that demo. A token of another demo is answered like an unknown id (404), deliberately; anything not shaped like an access token is 401.',
  });

  registerSystemRoutes(app, ctx);
  registerCodecRoutes(app, ctx);
  registerDemoRoutes(app, ctx);
  registerPoolRoutes(app, ctx);
  registerVisitorRoutes(app, ctx);

  app.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: { title: 'demo-multiplexer API', version: '1.0.0', description: 'Ephemeral PrestaShop demo shops. Errors are `{"error": {"code", "message"}}`.' },
  });
  return app;
}
