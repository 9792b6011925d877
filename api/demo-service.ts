/**
 * "Get me a demo" and what the API does with one afterwards, over Temporal. How a demo is obtained
 * is a `DemoSource`: a fresh `demoLifecycle` workflow started and awaited in one call
 * (Update-with-Start), or the warm pool (api/pool-service.ts: claim from the template's pool, fall
 * back to fresh when it has none), which the API process uses by default. Input checks every source relies on (template exists,
 * TTL in range) live in the service.
 */
import { WithStartWorkflowOperation, type Client, type WorkflowExecutionInfo } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/common';
import { randomUUID } from 'node:crypto';
import { readTemplateSpec } from '../activities/templates/spec';
import type { Config } from '../lib/config';
import { demoIdFromWorkflowId, demoWorkflowId, isDemoId, isTemplateName } from '../lib/ids';
import { randomDemoId } from '../lib/random-ids';
import type { Logger } from '../lib/logger';
import { retryTransient } from '../lib/temporal-retry';
import {
  awaitDemoReadyUpdate,
  demoStateQuery,
  extendDemoUpdate,
  releaseDemoSignal,
  SEARCH_ATTRIBUTES,
  TASK_QUEUES,
  type DemoState,
  type DemoStatus,
} from '../workflows/definitions';
import type { demoLifecycle } from '../workflows/demo-lifecycle';
import { ApiError, isWorkflowClosed, temporalToApiError } from './errors';
import type { ApiMetrics } from './metrics';
import type { Demo } from './schemas';
import { DEMO_STATUSES } from './schemas';

export const DEMO_WORKFLOW_TYPE = 'demoLifecycle';

export interface AcquireRequest {
  template: string;
  ttlSeconds: number;
  /** false: answer as soon as provisioning has started (the state may still be `provisioning`). */
  wait: boolean;
  /** Who asked, for the operators' view (never a secret). */
  requestedBy: string;
  /**
   * A retried request with the same key gets the same demo (sources that can dedupe: the pool).
   * Already scoped to the caller and safe for a Temporal update id.
   */
  idempotencyKey?: string;
  /** The HTTP request id, for correlation. */
  requestId?: string;
}

export interface Acquired {
  state: DemoState;
  /** Which source handed it out (metrics label): `pool` or `fresh`. */
  source: string;
}

/** Something that hands out demos. Errors are ApiErrors (or Temporal errors the service maps). */
export interface DemoSource {
  acquire(req: AcquireRequest): Promise<Acquired>;
}

export interface ListFilter { status?: DemoStatus; template?: string; limit: number }
export interface DemoSummary {
  id: string;
  template?: string;
  status?: string;
  workflowStatus: string;
  host?: string;
  createdAt: string;
  expiresAt?: string;
  closedAt?: string;
}

export interface DemoService {
  acquire(req: { template?: string; ttlSeconds?: number; wait?: boolean; requestedBy: string; idempotencyKey?: string; requestId?: string }): Promise<Acquired>;
  get(id: string): Promise<DemoState>;
  extend(id: string, seconds: number, idempotencyKey?: string): Promise<{ expiresAt: string }>;
  /** Starts teardown; returns the status to report (`tearing_down`, or the final one if it had ended). */
  release(id: string, reason: string): Promise<DemoStatus>;
  list(filter: ListFilter): Promise<{ demos: DemoSummary[]; truncated: boolean }>;
  /** Running demo workflows of this deployment (metrics). */
  countLive(): Promise<number>;
}

export interface TemporalDemoDeps {
  client: Client;
  config: Config;
  log: Logger;
  metrics?: ApiMetrics;
  /** Per-call deadline for short calls (query, describe, signal, update), ms. */
  callTimeoutMs?: number;
}

function sharedQueue(config: Config): string {
  return config.temporal.queuePrefix + TASK_QUEUES.shared;
}

function withDeadline<T>(client: Client, ms: number, fn: () => Promise<T>): Promise<T> {
  return client.connection.withDeadline(Date.now() + ms, fn);
}

/** A fresh demo per request: start `demoLifecycle` and wait for it to be ready, in one call. */
export function createFreshDemoSource(deps: TemporalDemoDeps): DemoSource {
  const { client, config, log, metrics } = deps;
  return {
    async acquire(req) {
      const demoId = randomDemoId();
      const workflowId = demoWorkflowId(demoId);
      const startWorkflowOperation = new WithStartWorkflowOperation<typeof demoLifecycle>(DEMO_WORKFLOW_TYPE, {
        workflowId,
        taskQueue: sharedQueue(config),
        args: [{ demoId, template: req.template, ttlSeconds: req.ttlSeconds, maxLifetimeSeconds: config.demos.maxLifetimeSeconds, requestedBy: req.requestedBy }],
        workflowIdConflictPolicy: 'FAIL',
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
        typedSearchAttributes: [
          { key: SEARCH_ATTRIBUTES.kind, value: 'demo' },
          { key: SEARCH_ATTRIBUTES.template, value: req.template },
        ],
      });
      const count = (outcome: string) => metrics?.provisions.inc({ template: req.template, outcome });

      if (!req.wait) {
        try {
          await withDeadline(client, 10_000, () => client.workflow.start<typeof demoLifecycle>(DEMO_WORKFLOW_TYPE, startWorkflowOperation.options));
        } catch (err) {
          count('unavailable');
          throw temporalToApiError(err, demoId) ?? err;
        }
        count('started');
        const now = new Date().toISOString();
        return { source: 'fresh', state: { demoId, template: req.template, status: 'provisioning', createdAt: now, maxExpiresAt: new Date(Date.now() + config.demos.maxLifetimeSeconds * 1000).toISOString(), stepMs: {}, extendRequests: [] } };
      }

      let state: DemoState;
      try {
        state = await withDeadline(client, config.api.acquireTimeoutSeconds * 1000, () =>
          client.workflow.executeUpdateWithStart(awaitDemoReadyUpdate, { updateId: 'await-ready', startWorkflowOperation }),
        );
      } catch (err) {
        const mapped = temporalToApiError(err, demoId);
        // The workflow may have started: make sure a demo nobody will receive is torn down.
        const started = await startWorkflowOperation.workflowHandle().then(() => true, () => false);
        if (started) {
          await withDeadline(client, 5_000, () => client.workflow.getHandle(workflowId).signal(releaseDemoSignal, { reason: 'api: not handed out' }))
            .catch((e: Error) => log.warn({ demoId, err: e.message }, 'could not release a demo that was not handed out; its TTL will end it'));
        }
        if (mapped?.status === 503) {
          count('timeout_or_unavailable');
          log.warn({ demoId, template: req.template, err: (err as Error).message }, 'demo not provisioned in time');
          throw ApiError.unavailable('no_capacity', started
            ? `no demo became ready within ${config.api.acquireTimeoutSeconds} s; try again later`
            : 'demos cannot be started now (Temporal unreachable); try again shortly', started ? 30 : 5);
        }
        if (mapped && mapped.status < 500 && mapped.code !== 'update_rejected' && mapped.code !== 'not_found') throw mapped;
        // Anything else (the workflow refused the update, failed, or an unexpected error): no demo to hand out.
        count('error');
        log.error({ demoId, template: req.template, err: (err as Error).message }, 'demo could not be provisioned');
        throw ApiError.unavailable('provisioning_failed', 'the demo could not be provisioned; try again later', 30);
      }
      if (state.status !== 'ready') {
        count('failed');
        log.error({ demoId, template: req.template, status: state.status, error: state.error }, 'demo provisioning failed');
        throw ApiError.unavailable('provisioning_failed', 'the demo could not be provisioned; try again later', 30);
      }
      count('ready');
      return { source: 'fresh', state };
    },
  };
}

type ExecutionInfo = Pick<WorkflowExecutionInfo, 'status' | 'typedSearchAttributes' | 'startTime' | 'closeTime'>;

function statusFromExecution(info: ExecutionInfo): DemoStatus {
  const fromSa = info.typedSearchAttributes.get(SEARCH_ATTRIBUTES.status);
  switch (info.status.name) {
    case 'RUNNING':
      return (DEMO_STATUSES as readonly string[]).includes(fromSa ?? '') ? (fromSa as DemoStatus) : 'provisioning';
    case 'COMPLETED':
      return fromSa === 'released' ? 'released' : 'expired';
    case 'CANCELLED':
      return 'cancelled';
    default:
      return 'failed';
  }
}

function stateFromExecution(info: ExecutionInfo, demoId: string): DemoState {
  const expires = info.typedSearchAttributes.get(SEARCH_ATTRIBUTES.expiresAt);
  return {
    demoId,
    template: info.typedSearchAttributes.get(SEARCH_ATTRIBUTES.template) ?? 'unknown',
    status: statusFromExecution(info),
    createdAt: info.startTime.toISOString(),
    expiresAt: expires?.toISOString(),
    maxExpiresAt: '',
    endedAt: info.closeTime?.toISOString(),
    stepMs: {},
    extendRequests: [],
  };
}

export function createTemporalDemoService(deps: TemporalDemoDeps & { source?: DemoSource }): DemoService {
  const { client, config } = deps;
  const callMs = deps.callTimeoutMs ?? 10_000;
  const source = deps.source ?? createFreshDemoSource(deps);

  const handleOf = (id: string) => {
    if (!isDemoId(id)) throw new ApiError(400, 'invalid_demo_id', 'demo ids are 16 characters of [a-z0-9]');
    return client.workflow.getHandle<typeof demoLifecycle>(demoWorkflowId(id));
  };
  const call = async <T>(id: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await withDeadline(client, callMs, fn);
    } catch (err) {
      throw temporalToApiError(err, id) ?? err;
    }
  };
  const describe = async (id: string) => {
    const d = await call(id, () => handleOf(id).describe());
    if (d.type !== DEMO_WORKFLOW_TYPE) throw ApiError.notFound(`demo ${id}`);
    return d;
  };

  return {
    async acquire(req) {
      const template = req.template ?? config.demos.defaultTemplate;
      if (!isTemplateName(template) || !readTemplateSpec(config.stateDir, template)) {
        throw new ApiError(400, 'unknown_template', `unknown template ${JSON.stringify(template.slice(0, 64))}`);
      }
      const ttlSeconds = req.ttlSeconds ?? config.demos.defaultTtlSeconds;
      const { minTtlSeconds: min, maxTtlSeconds: max } = config.demos;
      if (!Number.isInteger(ttlSeconds) || ttlSeconds < min || ttlSeconds > max) {
        throw new ApiError(400, 'invalid_ttl', `ttlSeconds must be an integer between ${min} and ${max}`);
      }
      return source.acquire({ template, ttlSeconds, wait: req.wait ?? true, requestedBy: req.requestedBy, idempotencyKey: req.idempotencyKey, requestId: req.requestId });
    },

    async get(id) {
      const d = await describe(id);
      if (d.status.name === 'RUNNING') return call(id, () => handleOf(id).query(demoStateQuery));
      if (d.status.name === 'COMPLETED') {
        const result = await call(id, () => handleOf(id).result()).catch(() => undefined);
        if (result) return result;
      }
      const state = stateFromExecution(d, id);
      if (state.status === 'failed') state.error = 'the demo could not be provisioned';
      return state;
    },

    async extend(id, seconds, idempotencyKey) {
      const handle = handleOf(id);
      try {
        // Always a request id (random without an Idempotency-Key), so a retried extend applies once.
        const requestId = idempotencyKey ?? `api-${randomUUID()}`;
        return await withDeadline(client, callMs, () => retryTransient(`extend ${id}`, () =>
          handle.executeUpdate(extendDemoUpdate, { args: [{ seconds, requestId }], updateId: `extend:${requestId}` }),
        { attempts: 4, firstDelayMs: 100 }));
      } catch (err) {
        if (err instanceof WorkflowNotFoundError || isWorkflowClosed(err)) {
          // Closed workflows answer "not found" to updates: tell an ended demo from an unknown one.
          await describe(id);
          throw new ApiError(409, 'demo_ended', `demo ${id} has ended`);
        }
        throw temporalToApiError(err, id) ?? err;
      }
    },

    async release(id, reason) {
      const d = await describe(id);
      if (d.status.name !== 'RUNNING') return statusFromExecution(d);
      try {
        // A signal is durable at once (no worker needed); teardown is idempotent, so repeats are harmless.
        await withDeadline(client, callMs, () => handleOf(id).signal(releaseDemoSignal, { reason: reason.slice(0, 200) }));
      } catch (err) {
        if (err instanceof WorkflowNotFoundError || isWorkflowClosed(err)) return statusFromExecution(await describe(id));
        throw temporalToApiError(err, id) ?? err;
      }
      return 'tearing_down';
    },

    async list(filter) {
      const clauses = [`DmxKind = 'demo'`, `TaskQueue = '${sharedQueue(config)}'`];
      // Both values are checked against closed sets / strict patterns before they reach the query.
      if (filter.status) {
        if (!(DEMO_STATUSES as readonly string[]).includes(filter.status)) throw new ApiError(400, 'validation_failed', 'unknown status');
        clauses.push(`DmxStatus = '${filter.status}'`);
      }
      if (filter.template) {
        if (!isTemplateName(filter.template)) throw new ApiError(400, 'validation_failed', 'invalid template name');
        clauses.push(`DmxTemplate = '${filter.template}'`);
      }
      const demos: DemoSummary[] = [];
      let truncated = false;
      try {
        await withDeadline(client, callMs, async () => {
          for await (const w of client.workflow.list({ query: clauses.join(' AND '), pageSize: Math.min(filter.limit + 1, 1000) })) {
            const id = demoIdFromWorkflowId(w.workflowId);
            if (!id) continue;
            if (demos.length >= filter.limit) {
              truncated = true;
              break;
            }
            demos.push({
              id,
              template: w.typedSearchAttributes.get(SEARCH_ATTRIBUTES.template),
              status: w.typedSearchAttributes.get(SEARCH_ATTRIBUTES.status),
              workflowStatus: w.status.name,
              host: w.typedSearchAttributes.get(SEARCH_ATTRIBUTES.host),
              createdAt: w.startTime.toISOString(),
              expiresAt: w.typedSearchAttributes.get(SEARCH_ATTRIBUTES.expiresAt)?.toISOString(),
              closedAt: w.closeTime?.toISOString(),
            });
          }
        });
      } catch (err) {
        throw temporalToApiError(err) ?? err;
      }
      return { demos, truncated };
    },

    async countLive() {
      const r = await withDeadline(client, 3_000, () =>
        client.workflow.count(`DmxKind = 'demo' AND TaskQueue = '${sharedQueue(config)}' AND ExecutionStatus = 'Running'`),
      );
      return r.count;
    },
  };
}

/** The API's view of a demo: the link and login only while it is ready. */
export function toDemoView(s: DemoState): Demo {
  const ready = s.status === 'ready';
  return {
    id: s.demoId,
    template: s.template,
    status: s.status,
    ...(ready && s.url ? { url: s.url } : {}),
    ...(ready && s.adminUrl ? { adminUrl: s.adminUrl } : {}),
    ...(ready && s.credentials ? { credentials: { email: s.credentials.email, password: s.credentials.password } } : {}),
    createdAt: s.createdAt,
    ...(s.readyAt ? { readyAt: s.readyAt } : {}),
    ...(s.expiresAt ? { expiresAt: s.expiresAt } : {}),
    ...(s.maxExpiresAt ? { maxExpiresAt: s.maxExpiresAt } : {}),
    ...(s.endedAt ? { endedAt: s.endedAt } : {}),
    ...(s.status === 'failed' ? { error: 'the demo could not be provisioned' } : {}),
  };
}
