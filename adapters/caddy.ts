/**
 * Caddy admin API adapter (undici). Demos are routed without a config reload per demo: one
 * "demo router" route sends `<label>.<demo domain>` to `<prefix><label>.dmx:80` (the demo's
 * container name, `dmx-<profile>-<id>`), resolved by the profile's names server (demo-names.ts): a
 * demo is routable as soon as its name is published, with no Caddy change. Every admin change
 * reloads the whole config (~200 ms at 2,000 routes), so per-demo admin routes would not scale;
 * this one route changes only when it is missing.
 */
import { Agent, request } from 'undici';
import { DEMO_ID_SOURCE, demoContainerPrefix } from '../contract';
import type { Config } from '../lib/config';
import { LAUNCHER_LABEL, launcherUrl } from '../lib/public-urls';
import { NAMES_ZONE, namesServerAddress } from './demo-names';

export const DEMO_ROUTER_ID = 'dmx-demo-router';

export class CaddyError extends Error {
  override name = 'CaddyError';
}

export interface DemoRouterOptions {
  domain: string;
  /** host:port of the names server (udp), which resolves `<prefix><label>.dmx`. */
  namesServer: string;
  /** Prepended to the host's first label to make the upstream's name: the profile's demo container prefix. */
  upstreamPrefix: string;
  /**
   * Caddy's dial address of the dmx API (`unix/<edge socket>` or host:port), which serves the launcher
   * on `try.<domain>` and `/__dmx/` (the demo bar) on every demo's own host. None: neither is routed.
   */
  apiUpstream?: string;
  /** Where the "this demo has ended" page sends a visitor for a new demo (the launcher). */
  launcherUrl?: string;
  serverName?: string;
}

/** Caddy's demo router as this deployment needs it: demo hosts, the names server, the demo bar, the ended page's launcher link. */
export function demoRouterOptions(cfg: Config): DemoRouterOptions {
  return {
    domain: cfg.demos.domain,
    namesServer: namesServerAddress(cfg),
    upstreamPrefix: demoContainerPrefix(cfg.profile),
    apiUpstream: cfg.api.edgeSocket ? `unix/${cfg.api.edgeSocket}` : `127.0.0.1:${cfg.api.port}`,
    launcherUrl: launcherUrl(cfg, cfg.demos.defaultTemplate),
  };
}

export const DEMO_BAR_ID = 'dmx-demo-bar';
/** The path prefix reserved on every demo's host for dmx itself (the demo bar, its session, the ended page). */
export const DEMO_BAR_PREFIX = '/__dmx';

function demoHostMatch(o: DemoRouterOptions) {
  const escaped = o.domain.replace(/\./g, '\\.');
  return { host: [`*.${o.domain}`], vars_regexp: { '{http.request.host}': { pattern: `^${DEMO_ID_SOURCE}\\.${escaped}$` } } };
}

/** To the dmx API, telling it the visitor's address (replacing any X-Forwarded-For the visitor sent). */
const toApi = (dial: string) => ({
  handler: 'reverse_proxy',
  upstreams: [{ dial }],
  headers: { request: { set: { 'X-Forwarded-For': ['{http.request.remote.host}'] } } },
});

/**
 * `/__dmx/*` on a demo's own host goes to the dmx API, not to the demo: the demo bar is then
 * same-origin with the shop it frames (a cross-site frame would lose the shop's cookies in current
 * browsers), and the demo's own server never sees the bar's session cookie (path-scoped to /__dmx).
 */
export function demoBarRoute(o: DemoRouterOptions & { apiUpstream: string }) {
  return {
    '@id': DEMO_BAR_ID,
    match: [{ ...demoHostMatch(o), path: [DEMO_BAR_PREFIX, `${DEMO_BAR_PREFIX}/*`] }],
    handle: [toApi(o.apiUpstream)],
    terminal: true,
  };
}

export const LAUNCHER_ROUTE_ID = 'dmx-launcher';
const launcherMatch = (o: DemoRouterOptions) => ({ host: [`${LAUNCHER_LABEL}.${o.domain}`] });

/**
 * The launcher on the demos' own site (lib/public-urls.ts says why): its page and script, and the
 * two API calls it makes (the claim, then the demo's status while it provisions). Nothing else of
 * the API is served on the demos' site.
 */
export function launcherRoute(o: DemoRouterOptions & { apiUpstream: string }) {
  return {
    '@id': LAUNCHER_ROUTE_ID,
    match: [{ ...launcherMatch(o), path: ['/try/*', '/embed.js', '/v1/demos', '/v1/demos/*'] }],
    handle: [toApi(o.apiUpstream)],
    terminal: true,
  };
}

/** Only hosts shaped like a demo id reach the proxy: nothing else on the edge network is routable. */
export function demoRouterRoute(o: DemoRouterOptions) {
  const labelIndex = o.domain.split('.').length;
  return {
    '@id': DEMO_ROUTER_ID,
    match: [demoHostMatch(o)],
    handle: [
      {
        handler: 'reverse_proxy',
        upstreams: [{ dial: `${o.upstreamPrefix}{http.request.host.labels.${labelIndex}}.${NAMES_ZONE}:80` }],
        // No retries: a name exists exactly while its demo is routable, so an unknown one is an
        // ended demo (the ended page at once) and anything else a demo that cannot answer now.
        transport: { protocol: 'http', dial_timeout: '2s', resolver: { addresses: [`udp/${o.namesServer}`] } },
      },
    ],
    terminal: true,
  };
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

const apiUnavailable = {
  handler: 'static_response',
  status_code: 503,
  headers: { 'Content-Type': ['text/plain; charset=utf-8'], 'Cache-Control': ['no-store'], 'Retry-After': ['5'] },
  body: 'The demo service is not reachable right now; try again in a few seconds.\n',
};

/**
 * A demo host whose upstream cannot be reached although its name exists (a reset replaces the
 * demo's container under the same name), or whose lookup failed (the names server is down). Telling
 * that visitor "this demo has ended" would be false; the page retries by itself and a script gets
 * 503 with Retry-After.
 */
const demoUnreachable = {
  handler: 'static_response',
  status_code: 503,
  headers: { 'Content-Type': ['text/html; charset=utf-8'], 'Cache-Control': ['no-store'], 'Retry-After': ['2'] },
  body: '<!doctype html><html><head><meta charset="utf-8"><title>One moment</title><meta http-equiv="refresh" content="2"></head><body>'
    + '<h1 id="demo-unreachable">One moment…</h1><p>Your demo cannot be reached right now; this page tries again by itself.</p></body></html>\n',
};

/** Caddy's message for a demo name the names server does not know (NXDOMAIN): the demo is gone. */
const NO_SUCH_DEMO = { vars_regexp: { '{http.error.message}': { pattern: 'no such host' } } };

/** A visitor whose demo is gone sees a page that says so and offers a new one, not an empty 404. */
function notFoundRoute(o: DemoRouterOptions) {
  const next = o.launcherUrl ? `<p><a id="start-new" href="${escapeHtml(o.launcherUrl)}">Start a new demo</a></p>` : '';
  return {
    '@id': 'dmx-not-found',
    handle: [{
      handler: 'static_response',
      status_code: 404,
      headers: { 'Content-Type': ['text/html; charset=utf-8'], 'Cache-Control': ['no-store'] },
      body: '<!doctype html><html><head><meta charset="utf-8"><title>This demo has ended</title></head><body>'
        + '<h1>This demo has ended</h1><p>This demo does not exist or has expired.</p>' + next + '</body></html>\n',
    }],
  };
}

/** JSON with object keys sorted: Caddy hands back its config with its own key order. */
function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x) => (x && typeof x === 'object' && !Array.isArray(x)
    ? Object.fromEntries(Object.entries(x as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)))
    : x));
}

/**
 * `adminSocket`: the unix socket Caddy's admin API listens on, in the 0700 state directory, so only
 * root can reconfigure Caddy (a TCP admin port would let any local user serve, say, the state dir).
 */
export function createCaddy(adminSocket: string, serverName = 'dmx') {
  const dispatcher = new Agent({ connect: { socketPath: adminSocket } });
  async function call(method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE', path: string, body?: unknown) {
    let res;
    try {
      res = await request(`http://localhost${path}`, {
        method,
        dispatcher,
        // Caddy accepts only an empty Host on a unix-socket admin listener.
        headers: { 'content-type': 'application/json', host: '' },
        body: body === undefined ? undefined : JSON.stringify(body),
        headersTimeout: 10_000,
        bodyTimeout: 10_000,
      });
    } catch (err) {
      throw new CaddyError(`Caddy admin API at unix:${adminSocket} unreachable (${method} ${path}): ${(err as Error).message}`);
    }
    const text = await res.body.text();
    return { status: res.statusCode, text };
  }

  return {
    async ping(): Promise<void> {
      const r = await call('GET', '/config/');
      if (r.status !== 200) throw new CaddyError(`Caddy admin API answered ${r.status}: ${r.text.slice(0, 200)}`);
    },

    async getRoute(id: string): Promise<unknown | undefined> {
      const r = await call('GET', `/id/${encodeURIComponent(id)}`);
      if (r.status === 404 || (r.status === 500 && /unknown object ID/i.test(r.text))) return undefined;
      if (r.status !== 200) throw new CaddyError(`GET /id/${id} answered ${r.status}: ${r.text.slice(0, 200)}`);
      return JSON.parse(r.text);
    },

    async listRouteIds(): Promise<string[]> {
      const r = await call('GET', `/config/apps/http/servers/${serverName}/routes`);
      if (r.status !== 200) throw new CaddyError(`listing routes answered ${r.status}: ${r.text.slice(0, 200)}`);
      const routes = (JSON.parse(r.text) ?? []) as Array<{ '@id'?: string }>;
      return routes.map((x) => x['@id'] ?? '');
    },

    async deleteRoute(id: string): Promise<boolean> {
      const r = await call('DELETE', `/id/${encodeURIComponent(id)}`);
      if (r.status === 200) return true;
      if (r.status === 404 || /unknown object ID/i.test(r.text)) return false;
      throw new CaddyError(`DELETE /id/${id} answered ${r.status}: ${r.text.slice(0, 200)}`);
    },

    /**
     * Another HTTP server beside dmx's (the benchmark's own launcher, on a port of its own): the
     * reconciler keeps dmx's server as it wants it and leaves other servers alone.
     */
    async putServer(name: string, listenPort: number, routes: unknown[]): Promise<void> {
      if (name === serverName) throw new CaddyError(`${name} is dmx's own server`);
      const r = await call('PUT', `/config/apps/http/servers/${encodeURIComponent(name)}`, { listen: [`:${listenPort}`], routes, automatic_https: { disable: true } });
      if (r.status !== 200) throw new CaddyError(`adding server ${name} answered ${r.status}: ${r.text.slice(0, 300)}`);
    },

    async deleteServer(name: string): Promise<void> {
      const r = await call('DELETE', `/config/apps/http/servers/${encodeURIComponent(name)}`);
      if (r.status !== 200 && !/not exist|unknown|invalid traversal/i.test(r.text)) throw new CaddyError(`removing server ${name} answered ${r.status}: ${r.text.slice(0, 300)}`);
    },

    /**
     * Idempotent: makes the dmx server's routes exactly [launcher, demo bar, demo router, not-found fallback] and
     * maps proxy errors: the demo's name no longer resolves → the ended page (404); anything else → 503. Returns true when Caddy's
     * config had to change (e.g. after Caddy restarted without it).
     */
    async ensureDemoRouter(o: DemoRouterOptions): Promise<boolean> {
      const notFound = notFoundRoute(o);
      const api = o.apiUpstream;
      const want = {
        routes: [...(api ? [launcherRoute({ ...o, apiUpstream: api }), demoBarRoute({ ...o, apiUpstream: api })] : []), demoRouterRoute(o), notFound],
        errors: {
          routes: [
            // The launcher's and the bar's own errors (the API unreachable) say so; a demo whose name no
            // longer resolves is gone and gets the ended page; any other failure to reach it is a moment's outage.
            ...(api ? [{ match: [launcherMatch(o), { path: [DEMO_BAR_PREFIX, `${DEMO_BAR_PREFIX}/*`] }], handle: [apiUnavailable] }] : []),
            { match: [NO_SUCH_DEMO], handle: [{ ...notFound.handle[0] }] },
            { handle: [demoUnreachable] },
          ],
        },
      };
      const base = `/config/apps/http/servers/${serverName}`;
      const [routes, errors] = await Promise.all([call('GET', `${base}/routes`), call('GET', `${base}/errors`)]);
      if (routes.status !== 200) throw new CaddyError(`reading ${base}/routes answered ${routes.status}: ${routes.text.slice(0, 200)}`);
      const same = canonical(JSON.parse(routes.text)) === canonical(want.routes)
        && errors.status === 200 && canonical(JSON.parse(errors.text)) === canonical(want.errors);
      if (same) return false;
      for (const [path, value] of [[`${base}/routes`, want.routes], [`${base}/errors`, want.errors]] as const) {
        // PATCH replaces an existing value; a missing key (fresh server) needs PUT.
        let r = await call('PATCH', path, value);
        if (r.status !== 200) r = await call('PUT', path, value);
        if (r.status !== 200) throw new CaddyError(`setting ${path} answered ${r.status}: ${r.text.slice(0, 300)}`);
      }
      return true;
    },
  };
}

export type Caddy = ReturnType<typeof createCaddy>;
