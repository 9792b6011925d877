/** /v1/pools: the warm pools of this deployment, for operators (they show internals). */
import { createRoute } from '@hono/zod-openapi';
import type { PoolStats as PoolStatsData } from '../../contract';
import { PoolList, PoolStats, PoolTemplateParams, ResizePoolRequest, type PoolStatsView } from '../schemas';
import { errorResponses, type ApiApp, type RouteContext } from './common';

/** The public shape: only the documented fields (the workflow's answer may carry more). */
export function toPoolView(s: PoolStatsData): PoolStatsView {
  return {
    template: s.template,
    ...(s.templateVersion ? { templateVersion: s.templateVersion } : {}),
    target: s.target,
    ready: s.ready,
    readyDemoIds: [...s.readyDemoIds],
    provisioning: s.provisioning,
    waitingClaims: s.waitingClaims,
    maxConcurrentProvisions: s.maxConcurrentProvisions,
    unclaimedMaxAgeSeconds: s.unclaimedMaxAgeSeconds,
    minTtlSeconds: s.minTtlSeconds,
    maxTtlSeconds: s.maxTtlSeconds,
    maxLifetimeSeconds: s.maxLifetimeSeconds,
    counters: { started: s.counters.started, claimed: s.counters.claimed, failed: s.counters.failed, recycled: s.counters.recycled, noCapacity: s.counters.noCapacity },
    consecutiveFailures: s.consecutiveFailures,
    ...(s.backoffUntil ? { backoffUntil: s.backoffUntil } : {}),
    ...(s.lastError ? { lastError: s.lastError.slice(0, 500) } : {}),
    claimWait: s.claimWait.map((b) => ({ le: b.le, count: b.count })),
  };
}

export function registerPoolRoutes(app: ApiApp, ctx: RouteContext): void {
  const { deps, operatorGuard } = ctx;
  const { pools, log } = deps;
  const security = [{ bearer: [] }];

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/pools',
      summary: 'Warm pools and their stats (operators)',
      tags: ['pools', 'operators'],
      security,
      middleware: operatorGuard,
      responses: {
        200: { description: 'every running pool of this deployment, by template', content: { 'application/json': { schema: PoolList } } },
        ...errorResponses(401, 403, 503),
      },
    }),
    async (c) => {
      const stats = await pools.list();
      c.header('Cache-Control', 'no-store');
      return c.json({ pools: stats.map(toPoolView) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/pools/{template}',
      summary: "A template's warm pool (operators)",
      tags: ['pools', 'operators'],
      security,
      middleware: operatorGuard,
      request: { params: PoolTemplateParams },
      responses: {
        200: { description: 'the pool stats', content: { 'application/json': { schema: PoolStats } } },
        ...errorResponses(400, 401, 403, 404, 503),
      },
    }),
    async (c) => {
      const stats = await pools.get(c.req.valid('param').template);
      c.header('Cache-Control', 'no-store');
      return c.json(toPoolView(stats), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'put',
      path: '/v1/pools/{template}',
      summary: 'Set a warm pool size, starting the pool if needed (operators)',
      description: 'Resizes the running pool (200), or starts one with this target (201). Lowering the target recycles the oldest ready demos.',
      tags: ['pools', 'operators'],
      security,
      middleware: operatorGuard,
      request: {
        params: PoolTemplateParams,
        body: { required: true, content: { 'application/json': { schema: ResizePoolRequest } } },
      },
      responses: {
        200: { description: 'resized; the pool stats', content: { 'application/json': { schema: PoolStats } } },
        201: { description: 'the pool was started; its stats', content: { 'application/json': { schema: PoolStats } } },
        ...errorResponses(400, 401, 403, 413, 415, 503),
      },
    }),
    async (c) => {
      const { template } = c.req.valid('param');
      const { target } = c.req.valid('json');
      const { stats, started } = await pools.resize(template, target);
      log.info({ template, target, started }, started ? 'pool started' : 'pool resized');
      c.header('Cache-Control', 'no-store');
      return started ? c.json(toPoolView(stats), 201) : c.json(toPoolView(stats), 200);
    },
  );
}
