/**
 * The API's side of the warm pools: claiming a demo from a template's pool (a `DemoSource` that
 * falls back to a fresh demo when the template has no pool), and the operators' view of the pools
 * (list, stats, resize / start), presented as ApiErrors. The Temporal calls are the client module's.
 */
import { type Client } from '@temporalio/client';
import { randomBytes } from 'node:crypto';
import {
  claimFromPool, demoHandle, ensurePool, isWorkflowGone, listPoolTemplates, poolHandle, poolSettings, poolStats, resizePool, retryAfterOf,
  runningPoolStats, withDeadline,
} from '../client';
import { FAILURE_TYPES, failureType, isTemplateName, releaseDemoSignal, type DemoState, type PoolStats } from '../contract';
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
 * Claims from the template's pool when one runs; otherwise hands the request to `fallback` (a fresh
 * demo). The claim's update id makes retries safe: the same `idempotencyKey` (already scoped to the
 * caller) returns the same demo for as long as the pool's workflow run lasts.
 */
export function createPoolDemoSource(deps: PoolDeps, fallback: DemoSource): DemoSource {
  const { client, config, log } = deps;
  return {
    async acquire(req: AcquireRequest) {
      const waitSeconds = req.wait ? config.pool.claimWaitSeconds : 0;
      const updateId = req.idempotencyKey ? `claim:${req.idempotencyKey}` : `claim-req:${req.requestId ?? 'none'}:${randomBytes(6).toString('hex')}`;
      let state: DemoState;
      try {
        // The update id makes a retried claim the same claim (transient failures applied nothing).
        state = await claimFromPool(client, config, req.template, { ttlSeconds: req.ttlSeconds, waitSeconds, requestedBy: req.requestedBy }, updateId, {
          deadlineMs: (waitSeconds + 10) * 1000,
          retry: { attempts: 4, firstDelayMs: 100, onRetry: (r) => log.warn(r, 'transient Temporal failure; retrying') },
        });
      } catch (err) {
        if (isWorkflowGone(err)) return fallback.acquire(req);
        if (failureType(err) === FAILURE_TYPES.noCapacity) {
          const retryAfter = retryAfterOf(err);
          log.info({ template: req.template, waitSeconds, retryAfter }, 'pool has no ready demo');
          throw ApiError.unavailable('no_capacity', waitSeconds
            ? `no ${req.template} demo became ready within ${waitSeconds} s; try again later`
            : `no ready ${req.template} demo right now; try again later, or ask with "wait": true`, retryAfter);
        }
        const mapped = temporalToApiError(err);
        if (mapped?.status === 503 && !req.idempotencyKey) {
          // The claim may still complete after we gave up: if it did, nobody will get that demo.
          void giveBackLateClaim(updateId, req.template);
        }
        if (mapped && mapped.status < 500 && mapped.code !== 'update_rejected' && mapped.code !== 'not_found') throw mapped;
        if (mapped?.status === 503) throw mapped;
        log.error({ template: req.template, err: (err as Error).message }, 'claim from the pool failed');
        throw ApiError.unavailable('unavailable', 'the demo pool did not answer as expected; try again later', 10);
      }
      return { source: 'pool', state };
    },
  };

  async function giveBackLateClaim(updateId: string, template: string): Promise<void> {
    try {
      const late = await withDeadline(client, 5_000, () => poolHandle(client, config, template).getUpdateHandle<DemoState>(updateId).result());
      await withDeadline(client, 5_000, () => demoHandle(client, late.demoId).signal(releaseDemoSignal, { reason: 'api: claim answered too late' }));
      log.warn({ demoId: late.demoId, template }, 'released a demo whose claim answered after the request gave up');
    } catch {
      // Not completed (then the pool answers nobody and keeps its demo) or unreachable: its TTL ends it.
    }
  }
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
