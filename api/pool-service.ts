/**
 * The API's side of the warm pools: claiming a demo from a template's ready list (a `DemoSource`
 * that falls back to a fresh demo when the template has no pool), and the operators' view of the pools
 * (list, stats, resize / start), presented as ApiErrors. The Temporal calls are the client module's.
 */
import { type Client } from '@temporalio/client';
import {
  ensurePool, isWorkflowGone, listPoolTemplates, poolHandle, poolSettings, poolStats, resizePool, runningPoolStats, withDeadline,
  type ClaimAnswer, type Claimer,
} from '../client';
import { isTemplateName, type PoolStats } from '../contract';
import type { Config } from '../lib/config';
import type { Logger } from '../lib/logger';
import { readTemplateSpec } from '../templates/spec';
import type { AcquireRequest, DemoSource } from './demo-service';
import { ApiError, temporalToApiError } from './errors';
import type { ApiMetrics } from './metrics';

export interface PoolDeps {
  client: Client;
  config: Config;
  log: Logger;
  metrics?: ApiMetrics;
  /** Per-call deadline for short calls (query, describe, resize), ms. */
  callTimeoutMs?: number;
}

/**
 * Claims from the template's Valkey ready list (client/claims.ts: one script, then a signal to the
 * demo, never a workflow task of the pool). An empty list: with `wait`, waits for the next listed
 * demo in order of arrival (telling the pool there is demand); without, 503 + Retry-After. Only
 * when the template has no running pool does the request go to `fallback` (a fresh demo); whether
 * a pool runs is asked of Temporal on that empty-list path only, and remembered for 1 s (a burst
 * against an empty pool asks once).
 */
export function createPoolDemoSource(deps: PoolDeps & { claimer: Claimer }, fallback: DemoSource): DemoSource {
  const { client, config, log, claimer } = deps;
  const poolRunning = new Map<string, { at: number; running: boolean }>();
  async function hasPool(template: string): Promise<boolean> {
    const known = poolRunning.get(template);
    if (known && Date.now() - known.at < 1_000) return known.running;
    let running: boolean;
    try {
      running = (await withDeadline(client, 5_000, () => poolHandle(client, config, template).describe())).status.name === 'RUNNING';
    } catch (err) {
      if (!isWorkflowGone(err)) throw temporalToApiError(err) ?? err;
      running = false;
    }
    poolRunning.set(template, { at: Date.now(), running });
    return running;
  }

  return {
    async acquire(req: AcquireRequest) {
      const input = {
        template: req.template, ttlSeconds: req.ttlSeconds, owner: req.owner, requestedBy: req.requestedBy,
        idempotencyKeyHash: req.idempotencyKeyHash, idempotencyTtlSeconds: config.api.idempotencyTtlSeconds,
      };
      let out: ClaimAnswer;
      try {
        out = await claimer.claim(input);
        if (out.kind === 'empty') {
          if (!(await hasPool(req.template))) return fallback.acquire(req);
          if (req.wait && config.pool.claimWaitSeconds > 0) out = await claimer.claim({ ...input, waitMs: config.pool.claimWaitSeconds * 1000 });
        }
      } catch (err) {
        if (err instanceof ApiError) throw err;
        log.error({ template: req.template, err: (err as Error).message }, 'claim from the ready list failed');
        throw ApiError.unavailable('unavailable', 'demos cannot be claimed now (Valkey unreachable); try again shortly', 2);
      }
      if (out.kind === 'replay') return { source: 'pool', replay: { demoId: out.demoId, owner: out.owner } };
      if (out.kind === 'empty') {
        log.info({ template: req.template, wait: req.wait }, 'pool has no ready demo');
        throw ApiError.unavailable('no_capacity', req.wait
          ? `no ${req.template} demo became ready within ${config.pool.claimWaitSeconds} s; try again later`
          : `no ready ${req.template} demo right now; try again later, or ask with "wait": true`, 2);
      }
      return { source: 'pool', state: out.state, valkeyMs: out.valkeyMs };
    },
  };
}

export interface PoolView { stats: PoolStats; started: boolean }

export interface PoolService {
  /** Stats of every running pool of this deployment (pools that vanish meanwhile are left out). */
  list(): Promise<PoolStats[]>;
  /** A running pool's stats; 404 when none runs. */
  get(template: string): Promise<PoolStats>;
  /** Sets the target, starting the pool when none runs (400 for an unknown template). */
  resize(template: string, target: number): Promise<PoolView>;
}

export function createPoolService(deps: PoolDeps): PoolService {
  const { client, config } = deps;
  const callMs = deps.callTimeoutMs ?? 10_000;
  const fail = (err: unknown): never => {
    throw temporalToApiError(err) ?? err;
  };
  const checkName = (template: string) => {
    if (!isTemplateName(template)) throw new ApiError(400, 'unknown_template', `unknown template ${JSON.stringify(String(template).slice(0, 64))}`);
  };

  const get = async (template: string): Promise<PoolStats> => {
    checkName(template);
    try {
      return await withDeadline(client, callMs, () => runningPoolStats(client, config, template));
    } catch (err) {
      if (isWorkflowGone(err)) throw ApiError.notFound(`pool of template ${template}`);
      return fail(err);
    }
  };

  return {
    async list() {
      let templates: string[];
      try {
        templates = await withDeadline(client, callMs, () => listPoolTemplates(client, config));
      } catch (err) {
        return fail(err);
      }
      const stats = await Promise.all(templates.map((t) => withDeadline(client, callMs, () => poolStats(client, config, t)).catch((err: unknown) => {
        if (isWorkflowGone(err)) return undefined;
        return fail(err);
      })));
      return stats.filter((s): s is PoolStats => s !== undefined);
    },

    get,

    async resize(template, target) {
      checkName(template);
      const resize = () => withDeadline(client, callMs, () => resizePool(client, config, template, target));
      try {
        return { stats: await resize(), started: false };
      } catch (err) {
        if (!isWorkflowGone(err)) fail(err);
      }
      if (!readTemplateSpec(config.stateDir, template)) throw new ApiError(400, 'unknown_template', `unknown template ${JSON.stringify(template)}`);
      let started: boolean;
      try {
        started = await withDeadline(client, callMs, () => ensurePool(client, config, poolSettings(config, template, target)));
        // An update reaches a pool that has just started (a query would not, before its first task).
        return { stats: await resize(), started };
      } catch (err) {
        return fail(err);
      }
    },
  };
}

/** Pool stats for the metrics scrape: bounded in time, never throws. */
export function poolStatsForMetrics(pools: PoolService, timeoutMs = 2_500): () => Promise<PoolStats[] | undefined> {
  return async () => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), timeoutMs);
    });
    try {
      return await Promise.race([pools.list().catch(() => undefined), timeout]);
    } finally {
      clearTimeout(timer);
    }
  };
}
