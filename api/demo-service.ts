/**
 * "Get me a demo" and what the API does with one afterwards, presented as ApiErrors. How a demo is
 * obtained is a `DemoSource`: a fresh `demoLifecycle` workflow started and awaited in one call
 * (Update-with-Start), or the warm pool (api/pool-service.ts: claim from the template's pool, fall
 * back to fresh when it has none), which the API process uses by default. Input checks every
 * source relies on (template exists, TTL in range) live in the service; the Temporal calls are the
 * client module's.
 */
import { WithStartWorkflowOperation, type Client } from '@temporalio/client';
import {
  countLiveDemos, demoHandle, demoStartOptions, describeDemo, extendDemo, isWorkflowGone, listDemos, readDemo, releaseDemo, resetDemo, withDeadline,
  type Claimer,
  type DemoListFilter, type DemoSummary,
} from '../client';
import {
  awaitDemoReadyUpdate, DEMO_ID_FORMAT, DEMO_WORKFLOW_TYPE, isDemoId, isTemplateName, releaseDemoSignal, type DemoState, type DemoStatus,
} from '../contract';
import type { Config } from '../lib/config';
import type { Logger } from '../lib/logger';
import { cachedTemplateSpecs } from '../templates/spec';
import type { demoLifecycle } from '../workflows/demo-lifecycle';
import { ApiError, temporalToApiError } from './errors';
import type { ApiMetrics } from './metrics';
import type { Demo } from './schemas';
import { randomDemoId } from '../lib/random-ids';


export interface AcquireRequest {
  template: string;
  ttlSeconds: number;
  /** false: answer as soon as provisioning has started (the state may still be `provisioning`). */
  wait: boolean;
  /** Who asked, for the operators' view (never a secret). */
  requestedBy: string;
  /** Hashed owner scope of the caller (api/quotas.ts): who may see this demo's secrets again. */
  owner: string;
  /** Hash of the Idempotency-Key: a retry gets the same demo (sources that can dedupe: the pool). */
  idempotencyKeyHash?: string;
  /** The HTTP request id, for correlation. */
  requestId?: string;
}

/** A demo handed out, and which source handed it out (metrics label): `pool` or `fresh`. */
export interface Handed { state: DemoState; source: string; replay?: undefined; valkeyMs?: number }

/** Handed out now, or an Idempotency-Key used before (by `owner`): the caller answers with that demo, or refuses. */
export type Acquired = Handed | { source: string; replay: { demoId: string; owner: string }; state?: undefined };

/** Something that hands out demos. Errors are ApiErrors (or Temporal errors the service maps). */
export interface DemoSource {
  acquire(req: AcquireRequest): Promise<Acquired>;
}

export type ListFilter = Omit<DemoListFilter, 'runningOnly'>;
export type { DemoSummary };

export interface DemoService {
  acquire(req: { template?: string; ttlSeconds?: number; wait?: boolean; requestedBy: string; owner: string; idempotencyKeyHash?: string; requestId?: string }): Promise<Acquired>;
  get(id: string): Promise<DemoState>;
  extend(id: string, seconds: number, idempotencyKey?: string): Promise<{ expiresAt: string }>;
  /** Back to the template's state: same URL and expiry, fresh data, container and back-office password. */
  reset?(id: string, requestId: string): Promise<DemoState>;
  /** Starts teardown; returns the status to report (`tearing_down`, or the final one if it had ended). */
  release(id: string, reason: string): Promise<DemoStatus>;
  list(filter: ListFilter): Promise<{ demos: DemoSummary[]; truncated: boolean }>;
  /** Running demo workflows of this deployment (metrics). */
  countLive(): Promise<number>;
  /** The earlier claim of an Idempotency-Key (its hash), if any. */
  replayOf(keyHash: string): Promise<{ demoId: string; owner: string } | undefined>;
}

export interface TemporalDemoDeps {
  client: Client;
  config: Config;
  log: Logger;
  metrics?: ApiMetrics;
  /** Per-call deadline for short calls (query, describe, signal, update), ms. */
  callTimeoutMs?: number;
  /** Pooled demos claimed in Valkey: presented as ready and told of their claim before an extend or release. */
  claimer?: Claimer;
}

/** A fresh demo per request: start `demoLifecycle` and wait for it to be ready, in one call. */
export function createFreshDemoSource(deps: TemporalDemoDeps): { acquire(req: AcquireRequest): Promise<Handed> } {
  const { client, config, log, metrics } = deps;
  return {
    async acquire(req) {
      const demoId = randomDemoId();
      const startWorkflowOperation = new WithStartWorkflowOperation<typeof demoLifecycle>(DEMO_WORKFLOW_TYPE, demoStartOptions(config, {
        demoId, template: req.template, ttlSeconds: req.ttlSeconds, requestedBy: req.requestedBy,
      }));
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
          await withDeadline(client, 5_000, () => demoHandle(client, demoId).signal(releaseDemoSignal, { reason: 'api: not handed out' }))
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

export function createTemporalDemoService(deps: TemporalDemoDeps & { source?: DemoSource }): DemoService {
  const { client, config } = deps;
  const callMs = deps.callTimeoutMs ?? 10_000;
  const source = deps.source ?? createFreshDemoSource(deps);
  const templateSpec = cachedTemplateSpecs(config.stateDir);

  const checkId = (id: string) => {
    if (!isDemoId(id)) throw new ApiError(400, 'invalid_demo_id', `demo ids are ${DEMO_ID_FORMAT}`);
  };
  const call = async <T>(id: string | undefined, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      throw temporalToApiError(err, id) ?? err;
    }
  };

  return {
    async acquire(req) {
      const template = req.template ?? config.demos.defaultTemplate;
      if (!isTemplateName(template) || !templateSpec(template)) {
        throw new ApiError(400, 'unknown_template', `unknown template ${JSON.stringify(template.slice(0, 64))}`);
      }
      const ttlSeconds = req.ttlSeconds ?? config.demos.defaultTtlSeconds;
      const { minTtlSeconds: min, maxTtlSeconds: max } = config.demos;
      if (!Number.isInteger(ttlSeconds) || ttlSeconds < min || ttlSeconds > max) {
        throw new ApiError(400, 'invalid_ttl', `ttlSeconds must be an integer between ${min} and ${max}`);
      }
      return source.acquire({ template, ttlSeconds, wait: req.wait ?? true, requestedBy: req.requestedBy, owner: req.owner, idempotencyKeyHash: req.idempotencyKeyHash, requestId: req.requestId });
    },

    async get(id) {
      checkId(id);
      // Claimed moments ago: Valkey knows everything there is to know, no workflow query needed.
      const fresh = await deps.claimer?.presentUnacknowledged(id).catch((err: Error) => {
        deps.log.warn({ demoId: id, err: err.message }, 'claim store unavailable; reading the demo from its workflow');
        return undefined;
      });
      if (fresh) return fresh;
      const state = await call(id, () => readDemo(client, id, { deadlineMs: callMs }));
      return deps.claimer ? deps.claimer.presentClaimed(state) : state;
    },

    async extend(id, seconds, idempotencyKey) {
      checkId(id);
      try {
        // Signal first (idempotent): the demo knows it is claimed before the extend reaches it.
        await deps.claimer?.ensureDelivered(id);
        return await extendDemo(client, id, seconds, idempotencyKey, { deadlineMs: callMs, retry: { attempts: 4, firstDelayMs: 100 } });
      } catch (err) {
        if (isWorkflowGone(err)) {
          // Closed workflows answer "not found" to updates: tell an ended demo from an unknown one.
          await call(id, () => describeDemo(client, id, { deadlineMs: callMs }));
          throw new ApiError(409, 'demo_ended', `demo ${id} has ended`);
        }
        throw temporalToApiError(err, id) ?? err;
      }
    },

    async reset(id, requestId) {
      checkId(id);
      try {
        // The demo knows it is claimed before the reset reaches it (a pooled demo refuses resets).
        await deps.claimer?.ensureDelivered(id);
        // A reset restores container and data anew: seconds, like a cold provision.
        return await resetDemo(client, id, requestId, { deadlineMs: 120_000, retry: { attempts: 4, firstDelayMs: 100 } });
      } catch (err) {
        if (isWorkflowGone(err)) throw new ApiError(409, 'demo_ended', `demo ${id} has ended`);
        throw temporalToApiError(err, id) ?? err;
      }
    },

    async release(id, reason) {
      checkId(id);
      // Listed: off the ready list before the release is acknowledged, so it is never handed out
      // after this answer. Claimed and not yet acknowledged: the claim reaches the demo first, so it
      // ends `released`, never `recycled`.
      await call(id, async () => deps.claimer?.prepareRelease(id));
      return call(id, () => releaseDemo(client, id, reason, { deadlineMs: callMs }));
    },

    async list(filter) {
      return call(undefined, () => listDemos(client, config, filter, { deadlineMs: callMs }));
    },

    async replayOf(keyHash) {
      return deps.claimer?.store.idempotent(keyHash);
    },

    async countLive() {
      return countLiveDemos(client, config, { deadlineMs: 3_000 });
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
