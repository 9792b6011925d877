/** Process and backend health, Prometheus metrics. */
import { createRoute, z } from '@hono/zod-openapi';
import type { PoolStats } from '../../contract';
import { identify } from '../auth';
import { runChecks } from '../health';
import { poolStatsForMetrics } from '../pool-service';
import { Health, Readiness } from '../schemas';
import type { ApiApp, RouteContext } from './common';

export function registerSystemRoutes(app: ApiApp, ctx: RouteContext): void {
  const { deps } = ctx;

  app.openapi(
    createRoute({
      method: 'get',
      path: '/healthz',
      summary: 'The process is up',
      tags: ['system'],
      responses: { 200: { description: 'up', content: { 'application/json': { schema: Health } } } },
    }),
    (c) => c.json({ status: 'ok' as const }, 200),
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/readyz',
      summary: "Temporal, Valkey, MariaDB, Caddy and the visitor's path through Caddy's demo router work; pools reported",
      description: 'Each check runs in parallel with a 2 s deadline; `down` names what failed. `demoRouter` requests the router probe through Caddy (routing, DNS on the edge network, a real upstream). `pools` lists each running pool; `lastError` only for the operator token.',
      tags: ['system'],
      responses: {
        200: { description: 'ready', content: { 'application/json': { schema: Readiness } } },
        503: { description: 'something is down (named in `down`)', content: { 'application/json': { schema: Readiness } } },
      },
    }),
    async (c) => {
      const [result, pools] = await Promise.all([runChecks(deps.checks), poolStatsForMetrics(deps.pools, 2_000)()]);
      if (deps.isDraining?.()) {
        result.status = 'not_ready';
        result.down.push('api');
        result.checks.api = { ok: false, ms: 0, error: 'shutting down' };
      }
      c.header('Cache-Control', 'no-store');
      // Pools are reported, not judged: an empty pool still serves (cold provisioning), and a
      // failing one is the operators' to see. Their errors may name internals: operators only.
      const operator = identify(ctx.auth, { authorization: c.req.header('authorization') })?.kind === 'operator';
      const body = { ...result, pools: pools?.map((p) => poolHealth(p, operator)) };
      return result.status === 'ready' ? c.json(body, 200) : c.json(body, 503);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/metrics',
      summary: 'Prometheus metrics',
      tags: ['system'],
      responses: { 200: { description: 'Prometheus text format', content: { 'text/plain': { schema: z.string() } } } },
    }),
    async (c) => {
      const body = await deps.metrics.registry.metrics();
      return c.text(body, 200, { 'Content-Type': deps.metrics.registry.contentType });
    },
  );
}

function poolHealth(p: PoolStats, withError: boolean) {
  return {
    template: p.template, target: p.target, ready: p.ready, provisioning: p.provisioning,
    consecutiveFailures: p.consecutiveFailures, backoffUntil: p.backoffUntil,
    lastError: withError ? p.lastError : undefined,
  };
}
