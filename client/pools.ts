/**
 * The warm pools over Temporal (CLI, API, main command, benchmark): start a pool if it is not
 * running, resize it, read its stats, list the running ones.
 */
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import {
  assertTemplateName, isTemplateName, POOL_WORKFLOW_TYPE, poolStatsQuery, poolWorkflowId, refreshTemplateSignal, SEARCH_ATTRIBUTES,
  setPoolTargetUpdate, taskQueuesFor, type PoolInput, type PoolSettings, type PoolStats,
} from '../contract';
import type { Config } from '../lib/config';
import type { templatePool } from '../workflows/template-pool';
import { retryTransient } from './retry';

export function poolSettings(config: Config, template: string, target = config.pool.size, overrides: Partial<PoolSettings> = {}): PoolSettings {
  return {
    template: assertTemplateName(template),
    target,
    maxConcurrentProvisions: config.pool.maxConcurrentProvisions,
    refillHoldMs: config.pool.refillHoldMs,
    unclaimedMaxAgeSeconds: config.pool.unclaimedMaxAgeSeconds,
    minTtlSeconds: config.demos.minTtlSeconds,
    maxTtlSeconds: config.demos.maxTtlSeconds,
    maxLifetimeSeconds: config.demos.maxLifetimeSeconds,
    ...overrides,
  };
}

/** Starts the template's pool unless it runs already; returns whether it was started now. */
export async function ensurePool(client: Client, config: Config, settings: PoolSettings): Promise<boolean> {
  try {
    await client.workflow.start<typeof templatePool>(POOL_WORKFLOW_TYPE, {
      workflowId: poolWorkflowId(settings.template, config.temporal.queuePrefix),
      taskQueue: taskQueuesFor(config.temporal.queuePrefix).shared,
      args: [settings satisfies PoolInput],
      workflowIdConflictPolicy: 'FAIL',
      typedSearchAttributes: [
        { key: SEARCH_ATTRIBUTES.kind, value: 'pool' },
        { key: SEARCH_ATTRIBUTES.template, value: settings.template },
      ],
    });
    return true;
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return false;
    throw err;
  }
}

export function poolHandle(client: Client, config: Config, template: string) {
  return client.workflow.getHandle<typeof templatePool>(poolWorkflowId(assertTemplateName(template), config.temporal.queuePrefix));
}

export async function poolStats(client: Client, config: Config, template: string): Promise<PoolStats> {
  return retryTransient(`pool ${template} stats`, () => poolHandle(client, config, template).query(poolStatsQuery));
}

/** A running pool's stats; WorkflowNotFoundError when none runs (a closed pool still answers queries, by replay). */
export async function runningPoolStats(client: Client, config: Config, template: string): Promise<PoolStats> {
  const handle = poolHandle(client, config, template);
  const d = await handle.describe();
  if (d.status.name !== 'RUNNING') throw new WorkflowNotFoundError('pool not running', handle.workflowId, undefined);
  return handle.query(poolStatsQuery);
}

export async function resizePool(client: Client, config: Config, template: string, target: number, requestId?: string): Promise<PoolStats> {
  // Setting a target is idempotent, so a retry after a transient failure cannot over-apply.
  return retryTransient(`pool ${template} resize`, () => poolHandle(client, config, template).executeUpdate(setPoolTargetUpdate, { args: [{ target }], updateId: requestId }));
}

/** Tells a running pool that the template may have a new checkpoint version; no-op without a pool. */
export async function refreshPoolTemplate(client: Client, config: Config, template: string): Promise<boolean> {
  try {
    await retryTransient(`pool ${template} refresh`, () => poolHandle(client, config, template).signal(refreshTemplateSignal));
    return true;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return false;
    throw err;
  }
}

/**
 * Templates with a running pool in this deployment. The template comes from the pool's DmxTemplate
 * search attribute (or its workflow id minus the deployment's prefix), and the pool's id must be
 * exactly that template's: parsing the id alone misreads prefixes ending in `pool-` (`t-pool-pool-x`).
 */
export async function listPoolTemplates(client: Client, config: Config): Promise<string[]> {
  const prefix = config.temporal.queuePrefix;
  const query = `DmxKind = 'pool' AND ExecutionStatus = 'Running' AND TaskQueue = '${taskQueuesFor(prefix).shared}'`;
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

export class PoolNotReadyError extends Error {
  override name = 'PoolNotReadyError';
  constructor(message: string, readonly stats: PoolStats | undefined) {
    super(message);
  }
}

/**
 * Waits until the template's pool has `minReady` ready demos. Gives up early when the pool keeps
 * failing (three provisioning failures in a row with too few ready: it is backing off, and its last
 * error says why), or at the deadline; either way the error carries the pool's last error.
 */
export async function waitForReadyDemos(
  client: Client, config: Config, template: string,
  o: { minReady: number; timeoutMs: number; pollMs?: number; onProgress?: (s: PoolStats) => void },
): Promise<PoolStats> {
  const deadline = Date.now() + o.timeoutMs;
  let last: PoolStats | undefined;
  for (;;) {
    last = await poolStats(client, config, template);
    o.onProgress?.(last);
    if (last.ready >= o.minReady) return last;
    const why = last.lastError ? `; last provisioning error: ${last.lastError}` : '';
    if (last.consecutiveFailures >= 3) {
      throw new PoolNotReadyError(`pool ${template} failed ${last.consecutiveFailures} provisions in a row (ready ${last.ready}/${o.minReady})${why}`, last);
    }
    if (Date.now() >= deadline) {
      throw new PoolNotReadyError(`pool ${template} had ${last.ready} of ${o.minReady} demos ready after ${Math.round(o.timeoutMs / 1000)} s${why}`, last);
    }
    await new Promise((r) => setTimeout(r, o.pollMs ?? 1_000));
  }
}
