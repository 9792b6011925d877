/**
 * The visitor's journey (not under /v1: these are pages and the demo bar's calls, not the JSON API):
 *   GET  /try/{template}     the launcher; GET /embed.js the vendor's embed snippet (browsers get both on
 *                            try.<demo domain>, routed to the API by Caddy: lib/public-urls.ts says why)
 *   on each demo's own host, routed to the API by Caddy (adapters/caddy.ts, DEMO_BAR_PREFIX):
 *   GET  /__dmx/             the demo bar (a page without secrets) that frames the shop
 *   POST /__dmx/session      the bar's first call: the launcher's hand-over (access token from the URL
 *                            fragment) becomes a cookie (HttpOnly, SameSite=Strict, Path=/__dmx: the shop
 *                            never sees it); answers the state and the frame's source (a one-time login link)
 *   GET  /__dmx/state, POST /__dmx/extend|reset|release   the bar's calls (cookie + X-Dmx-Bar header)
 *   GET  /__dmx/ended        "this demo has ended — start a new one"
 * The bar's POSTs need the custom header: a cross-site page cannot send it without a CORS preflight,
 * which is never granted, and the cookie is SameSite=Strict besides.
 */
import type { Context } from 'hono';
import { getCookie, setCookie } from 'hono/cookie';
import { randomBytes, randomUUID } from 'node:crypto';
import { isTemplateName, REQUEST_ID_PATTERN, type DemoState } from '../../contract';
import { launcherOrigin, launcherUrl } from '../../lib/public-urls';
import { readTemplateSpec } from '../../templates/spec';
import { ApiError } from '../errors';
import type { ApiApp, ApiEnv, RouteContext } from '../routes/common';
import { demoIdFromHost } from './demo-host';
import { barPage, contentSecurityPolicy, embedScript, endedPage, launcherPage, messagePage } from './pages';

const SESSION_COOKIE = 'dmx_bar';
const ENDED: ReadonlySet<string> = new Set(['tearing_down', 'expired', 'released', 'recycled', 'cancelled', 'failed']);
/** How much one press of the bar's Extend adds. */
const BAR_EXTEND_SECONDS = 900;

type C = Context<ApiEnv>;

export function registerVisitorRoutes(app: ApiApp, ctx: RouteContext): void {
  const { deps } = ctx;
  const { config, demos, accessTokens, loginLinks, log } = deps;

  const html = (c: C, body: string, status: 200 | 401 | 404 | 409 = 200, frames: 'self' | 'none' = 'none') => {
    c.header('Content-Security-Policy', contentSecurityPolicy(nonceOf(c), frames));
    c.header('Cache-Control', 'no-store');
    c.header('Referrer-Policy', 'no-referrer');
    c.header('X-Content-Type-Options', 'nosniff');
    return c.html(body, status);
  };
  const nonceOf = (c: C) => {
    let n = c.get('cspNonce');
    if (!n) c.set('cspNonce', (n = randomBytes(16).toString('base64')));
    return n;
  };

  /** The demo this request's Host names and whose session cookie it carries; undefined when either is missing. */
  const sessionDemo = (c: C): string | undefined => {
    const id = demoIdFromHost(c.req.header('host'), config.demos.domain);
    const token = getCookie(c, SESSION_COOKIE);
    return id && token && accessTokens.verify(id, token) ? id : undefined;
  };
  const requireBarCall = (c: C): string => {
    if (c.req.header('x-dmx-bar') !== '1') throw new ApiError(403, 'forbidden', 'demo bar calls need the X-Dmx-Bar header');
    const id = sessionDemo(c);
    if (!id) throw new ApiError(401, 'unauthorized', 'no demo session: open the demo from its launcher');
    return id;
  };
  const stateOrEnded = async (id: string): Promise<DemoState | undefined> => {
    try {
      const s = await demos.get(id);
      return ENDED.has(s.status) ? undefined : s;
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return undefined;
      throw err;
    }
  };
  const readJson = async (c: C): Promise<Record<string, unknown>> => {
    const text = await c.req.text();
    if (text.length > 2_000) throw new ApiError(413, 'payload_too_large', 'request body too large');
    try {
      const v = text ? JSON.parse(text) : {};
      if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
    } catch { /* answered below */ }
    throw new ApiError(400, 'malformed_json', 'request body must be a JSON object');
  };

  app.get('/try/:template', (c) => {
    const template = c.req.param('template');
    if (!isTemplateName(template) || !readTemplateSpec(config.stateDir, template)) {
      return html(c, messagePage({ nonce: nonceOf(c), title: 'Unknown demo', message: 'There is no demo of that name.' }), 404);
    }
    const landing = loginLinks.landing(template);
    return html(c, launcherPage({
      nonce: nonceOf(c), template, minutes: Math.round(config.demos.defaultTtlSeconds / 60),
      ...(landing.area === 'storefront' ? { storefrontPath: landing.path } : {}),
    }));
  });

  app.get('/embed.js', (c) => {
    c.header('Content-Type', 'application/javascript; charset=utf-8');
    c.header('Cache-Control', 'public, max-age=300');
    return c.body(embedScript(launcherOrigin(config)));
  });

  app.get('/__dmx', (c) => c.redirect('/__dmx/', 302));
  app.get('/__dmx/', (c) => html(c, barPage({ nonce: nonceOf(c), extendSeconds: BAR_EXTEND_SECONDS }), 200, 'self'));

  app.post('/__dmx/session', async (c) => {
    if (c.req.header('x-dmx-bar') !== '1') throw new ApiError(403, 'forbidden', 'demo bar calls need the X-Dmx-Bar header');
    const { token, login } = await readJson(c);
    let id: string | undefined;
    if (typeof token === 'string') {
      const named = demoIdFromHost(c.req.header('host'), config.demos.domain);
      id = named && accessTokens.verify(named, token) ? named : undefined;
      if (!id) throw ApiError.notFound('demo');
    } else {
      id = sessionDemo(c);
      if (!id) throw new ApiError(401, 'unauthorized', 'no demo session: open the demo from its launcher');
    }
    const state = await stateOrEnded(id);
    c.header('Cache-Control', 'no-store');
    if (!state) return c.json({ ended: true }, 200);
    if (typeof token === 'string') {
      setCookie(c, SESSION_COOKIE, token, {
        path: '/__dmx', httpOnly: true, sameSite: 'Strict', secure: config.demos.scheme === 'https',
        maxAge: Math.max(60, Math.ceil((Date.parse(state.maxExpiresAt) - Date.now()) / 1000)),
      });
    }
    const landing = loginLinks.landing(state.template);
    let frameSrc = landing.area === 'storefront' ? landing.path : '/';
    if (login === true && landing.area === 'backoffice') {
      const link = loginLinks.forDemo(state);
      if (link) frameSrc = new URL(link.loginUrl).pathname + new URL(link.loginUrl).search;
    }
    return c.json({ ended: false, template: state.template, expiresAt: state.expiresAt, maxExpiresAt: state.maxExpiresAt, frameSrc }, 200);
  });

  app.get('/__dmx/state', async (c) => {
    const id = sessionDemo(c);
    if (!id) throw new ApiError(401, 'unauthorized', 'no demo session: open the demo from its launcher');
    const state = await stateOrEnded(id);
    c.header('Cache-Control', 'no-store');
    return c.json(state ? { ended: false, status: state.status, expiresAt: state.expiresAt, maxExpiresAt: state.maxExpiresAt } : { ended: true }, 200);
  });

  app.post('/__dmx/extend', async (c) => {
    const id = requireBarCall(c);
    const { seconds } = await readJson(c);
    const s = typeof seconds === 'number' && Number.isInteger(seconds) && seconds > 0 && seconds <= BAR_EXTEND_SECONDS ? seconds : BAR_EXTEND_SECONDS;
    const { expiresAt } = await demos.extend(id, s);
    log.info({ demoId: id, seconds: s, expiresAt }, 'demo extended from the demo bar');
    return c.json({ id, expiresAt }, 200);
  });

  app.post('/__dmx/reset', async (c) => {
    const id = requireBarCall(c);
    const { requestId } = await readJson(c);
    const rid = typeof requestId === 'string' && REQUEST_ID_PATTERN.test(requestId) ? requestId : randomUUID();
    if (!demos.reset) throw new ApiError(409, 'update_rejected', 'reset is not available for this demo');
    await demos.reset(id, rid);
    log.info({ demoId: id }, 'demo reset from the demo bar');
    return c.json({ id, status: 'ready' }, 200);
  });

  app.post('/__dmx/release', async (c) => {
    const id = requireBarCall(c);
    const status = await demos.release(id, 'visitor ended the demo from the demo bar');
    return c.json({ id, status }, 202);
  });

  app.get('/__dmx/ended', async (c) => {
    const id = demoIdFromHost(c.req.header('host'), config.demos.domain);
    let template = config.demos.defaultTemplate;
    if (id && sessionDemo(c)) template = (await demos.get(id).catch(() => undefined))?.template ?? template;
    return html(c, endedPage({ nonce: nonceOf(c), launcherUrl: launcherUrl(config, template) }));
  });
}
