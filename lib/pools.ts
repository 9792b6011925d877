/**
 * Client side of the warm pools (CLI, API, main command): start a pool if it is not running,
 * resize it, read its stats, list pools.
 */
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { assertTemplateName } from './ids';
import type { Config } from './config';
import {
  poolStatsQuery, poolWorkflowId, refreshTemplateSignal, SEARCH_ATTRIBUTES, setPoolTargetUpdate, TASK_QUEUES,
  type PoolInput, type PoolSettings, type PoolStats,
} from '../workflows/definitions';
import type { templatePool } from '../workflows/template-pool';
import { retryTransient } from './temporal-retry';

export function poolSettings(config: Config, template: string, target = config.pool.size, overrides: Partial<PoolSettings> = {}): PoolSettings {
  return {
    template: assertTemplateName(template),
    target,
    maxConcurrentProvisions: config.pool.maxConcurrentProvisions,
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
    await client.workflow.start<typeof templatePool>('templatePool', {
      workflowId: poolWorkflowId(settings.template, config.temporal.queuePrefix),
      taskQueue: config.temporal.queuePrefix + TASK_QUEUES.shared,
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
    if ((err as Error).name === 'WorkflowNotFoundError') return false;
    throw err;
  }
}

/** Templates with a running pool in this deployment. */
export async function listPoolTemplates(client: Client, config: Config): Promise<string[]> {
  const query = `DmxKind = 'pool' AND ExecutionStatus = 'Running' AND TaskQueue = '${config.temporal.queuePrefix}${TASK_QUEUES.shared}'`;
  const out: string[] = [];
  for await (const wf of client.workflow.list({ query })) {
    const head = poolWorkflowId('', config.temporal.queuePrefix);
    const template = wf.workflowId.startsWith(head) ? wf.workflowId.slice(head.length) : '';
    if (template) out.push(template);
  }
  return out.sort();
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
