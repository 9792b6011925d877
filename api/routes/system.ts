/** Process and backend health, Prometheus metrics. */
import { createRoute, z } from '@hono/zod-openapi';
import { runChecks } from '../health';
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
      summary: 'Temporal, Valkey, MariaDB and Caddy are reachable',
      tags: ['system'],
      responses: {
        200: { description: 'ready', content: { 'application/json': { schema: Readiness } } },
        503: { description: 'something is down (named in `down`)', content: { 'application/json': { schema: Readiness } } },
      },
    }),
    async (c) => {
      const result = await runChecks(deps.checks);
      if (deps.isDraining?.()) {
        result.status = 'not_ready';
        result.down.push('api');
        result.checks.api = { ok: false, ms: 0, error: 'shutting down' };
      }
      c.header('Cache-Control', 'no-store');
      return result.status === 'ready' ? c.json(result, 200) : c.json(result, 503);
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
