/**
 * The API's side of the warm pools: claiming a demo from a template's pool (a `DemoSource` that
 * falls back to a fresh demo when the template has no pool), and the operators' view of the pools
 * (list, stats, resize / start). Everything goes through lib/pools.ts and the pool's Update/Query.
 */
import { type Client } from '@temporalio/client';
import { ApplicationFailure, WorkflowNotFoundError } from '@temporalio/common';
import { randomBytes } from 'node:crypto';
import { readTemplateSpec } from '../activities/templates/spec';
import type { Config } from '../lib/config';
import { demoWorkflowId, isTemplateName } from '../lib/ids';
import type { Logger } from '../lib/logger';
import { ensurePool, poolHandle, poolSettings, poolStats, resizePool } from '../lib/pools';
import { retryTransient } from '../lib/temporal-retry';
import {
  claimDemoUpdate, FAILURE_TYPES, poolWorkflowId, releaseDemoSignal, SEARCH_ATTRIBUTES, TASK_QUEUES, type DemoState, type PoolStats,
} from '../workflows/definitions';
import type { AcquireRequest, DemoSource } from './demo-service';
import { ApiError, failureType, isWorkflowClosed, temporalToApiError } from './errors';
import type { ApiMetrics } from './metrics';

export interface PoolDeps {
  client: Client;
  config: Config;
  log: Logger;
  metrics?: ApiMetrics;
  /** Per-call deadline for short calls (query, describe, resize), ms. */
  callTimeoutMs?: number;
}

function withDeadline<T>(client: Client, ms: number, fn: () => Promise<T>): Promise<T> {
  return client.connection.withDeadline(Date.now() + ms, fn);
}

/** The pool is not there (never started, or closed): updates and describes answer "not found". */
function isNoPool(err: unknown): boolean {
  return err instanceof WorkflowNotFoundError || isWorkflowClosed(err);
}

/** `retryAfterSeconds` from a NoCapacity failure's details, clamped to something sensible. */
export function retryAfterOf(err: unknown, fallback = 5): number {
  let e = err as { cause?: unknown } | undefined;
  for (let i = 0; e && i < 6; i++, e = e.cause as typeof e) {
    if (e instanceof ApplicationFailure) {
      const v = (e.details?.[0] as { retryAfterSeconds?: unknown } | undefined)?.retryAfterSeconds;
      if (typeof v === 'number' && Number.isFinite(v)) return Math.min(3600, Math.max(1, Math.ceil(v)));
      return fallback;
    }
  }
  return fallback;
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
      const handle = poolHandle(client, config, req.template);
      let state: DemoState;
      try {
        // The update id makes a retried claim the same claim (transient failures applied nothing).
        state = await withDeadline(client, (waitSeconds + 10) * 1000, () => retryTransient(`claim ${req.template}`, () =>
          handle.executeUpdate(claimDemoUpdate, { args: [{ ttlSeconds: req.ttlSeconds, waitSeconds, requestedBy: req.requestedBy }], updateId }),
        { attempts: 4, firstDelayMs: 100, onRetry: (r) => log.warn(r, 'transient Temporal failure; retrying') }));
      } catch (err) {
        if (isNoPool(err)) return fallback.acquire(req);
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
          void giveBackLateClaim(handle, updateId, req.template);
        }
        if (mapped && mapped.status < 500 && mapped.code !== 'update_rejected' && mapped.code !== 'not_found') throw mapped;
        if (mapped?.status === 503) throw mapped;
        log.error({ template: req.template, err: (err as Error).message }, 'claim from the pool failed');
        throw ApiError.unavailable('unavailable', 'the demo pool did not answer as expected; try again later', 10);
      }
      return { source: 'pool', state };
    },
  };

  async function giveBackLateClaim(handle: ReturnType<typeof poolHandle>, updateId: string, template: string): Promise<void> {
    try {
      const late = await withDeadline(client, 5_000, () => handle.getUpdateHandle<DemoState>(updateId).result());
      await withDeadline(client, 5_000, () => client.workflow.getHandle(demoWorkflowId(late.demoId)).signal(releaseDemoSignal, { reason: 'api: claim answered too late' }));
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
    const handle = poolHandle(client, config, template);
    try {
      // A closed pool still answers queries (by replay): only a running one counts.
      const d = await withDeadline(client, callMs, () => handle.describe());
      if (d.status.name !== 'RUNNING') throw new WorkflowNotFoundError('pool not running', handle.workflowId, undefined);
      return await withDeadline(client, callMs, () => poolStats(client, config, template));
    } catch (err) {
      if (isNoPool(err)) throw ApiError.notFound(`pool of template ${template}`);
      return fail(err);
    }
  };

  return {
    async list() {
      let templates: string[];
      try {
        templates = await withDeadline(client, callMs, () => runningPoolTemplates(client, config));
      } catch (err) {
        return fail(err);
      }
      const stats = await Promise.all(templates.map((t) => withDeadline(client, callMs, () => poolStats(client, config, t)).catch((err: unknown) => {
        if (isNoPool(err)) return undefined;
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
        if (!isNoPool(err)) fail(err);
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

/**
 * Templates with a running pool in this deployment. Like lib/pools.ts `listPoolTemplates`, but the
 * template comes from the pool's DmxTemplate search attribute (or its workflow id minus the
 * deployment's prefix): parsing the id alone misreads prefixes ending in `pool-` (`t-pool-pool-x`).
 */
export async function runningPoolTemplates(client: Client, config: Config): Promise<string[]> {
  const prefix = config.temporal.queuePrefix;
  const query = `DmxKind = 'pool' AND ExecutionStatus = 'Running' AND TaskQueue = '${prefix}${TASK_QUEUES.shared}'`;
  const idPrefix = poolWorkflowId('', prefix);
  const out = new Set<string>();
  for await (const wf of client.workflow.list({ query })) {
    const fromSa = wf.typedSearchAttributes.get(SEARCH_ATTRIBUTES.template);
    const fromId = wf.workflowId.startsWith(idPrefix) ? wf.workflowId.slice(idPrefix.length) : undefined;
    const template = fromSa ?? fromId;
    if (isTemplateName(template) && wf.workflowId === poolWorkflowId(template, prefix)) out.add(template);
  }
  return [...out].sort();
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
