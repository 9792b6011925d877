/**
 * Claiming a pooled demo at memory speed (API, tests, benchmark): one Valkey script takes the
 * oldest listed demo and records the claim (adapters/claim-store.ts); the answer is built from the
 * demo's record and derived values (URL from the id, back-office password HMAC-derived from the
 * master key), with no Temporal round trip; the demo's own workflow is then signalled
 * `demoClaimed` (never the pool) by the worker's deliverer (startClaimDelivery), off the API.
 *
 * Delivery guarantees, enforced here:
 * - the claim script queues the claim for delivery in the same atomic step, and the worker's
 *   deliverer signals it (startClaimDelivery) once it is `DMX_POOL_CLAIM_DELIVERY_HOLD_MS` old
 *   (CLAIM_DELIVERY_HOLD_MS says why); the claim stays in Valkey's `pending` set until the demo
 *   acknowledges it, and `redeliver` (every API process, at start and periodically) signals every
 *   claim unacknowledged CLAIM_REDELIVER_AFTER_SECONDS after its hold again, so a deliverer or
 *   claimer killed at any point still gives the demo its TTL (which runs from the claim's
 *   `expiresAt`, not from the delivery);
 * - `ensureDelivered` signals an unacknowledged claim before the claimer's extend or release is
 *   sent, so those reach a demo that already knows it is claimed (signals are idempotent by claim
 *   id, and Temporal keeps one client's signals in order);
 * - a claimed demo whose workflow has not applied the claim yet is presented as ready with the
 *   claim's expiry (`presentClaimed`).
 */
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import type { Redis } from 'iovalkey';
import { createClaimStore, type PooledDemoRecord } from '../adapters/claim-store';
import { CLAIM_REDELIVER_AFTER_SECONDS, demoClaimedSignal, poolDemandSignal, type DemoClaim, type DemoState } from '../contract';
import type { Config } from '../lib/config';
import { demoHostFor } from '../lib/public-urls';
import { adminPasswordFor, type SecretDeriver } from '../lib/secrets';
import { cachedTemplateSpecs } from '../templates/spec';
import { demoHandle } from './demos';
import { poolHandle } from './pools';
import { call, type CallOptions } from './retry';

export interface ClaimerDeps {
  client: Client;
  config: Config;
  valkey: Redis;
  secrets: SecretDeriver;
  log?: { warn(obj: object, msg: string): void };
  /** Told how long each background claim signal took (metrics, benchmark). */
  onSignal?: (ms: number, ok: boolean) => void;
}

export interface ClaimDemoInput {
  template: string;
  ttlSeconds: number;
  /** Hash of the caller's scope: only this scope sees the demo's secrets again on a replay. */
  owner: string;
  requestedBy: string;
  idempotencyKeyHash?: string;
  /** Wait this long for the next listed demo when none is (in order of arrival); 0: answer at once. */
  waitMs?: number;
}

export type ClaimAnswer =
  | { kind: 'claimed'; state: DemoState; claim: DemoClaim; valkeyMs: number }
  | { kind: 'empty' }
  | { kind: 'replay'; demoId: string; owner: string };

const SIGNAL_DEADLINE_MS = 5_000;
/** Claims the deliverer takes off the queue at once. */
const DELIVERY_BATCH = 32;

export type Claimer = ReturnType<typeof createClaimer>;

export function createClaimer(deps: ClaimerDeps) {
  const { client, config, valkey, secrets, log } = deps;
  const store = createClaimStore(valkey, { profile: config.profile, queuePrefix: config.temporal.queuePrefix });
  /** Template login details, read from disk at most once a second per template. */
  const specOf = cachedTemplateSpecs(config.stateDir);

  /** The claim answer: what the demo's workflow would answer once it applies the claim. */
  function present(demo: PooledDemoRecord, claim: DemoClaim): DemoState {
    const url = `${config.demos.scheme}://${demoHostFor(config, demo.demoId)}/`;
    const spec = specOf(demo.template);
    return {
      demoId: demo.demoId, template: demo.template, templateVersion: demo.templateVersion, status: 'ready',
      url, adminUrl: `${url.replace(/\/$/, '')}${spec?.adminPath ?? '/admin-dev'}/`,
      credentials: { email: spec?.adminEmail ?? 'admin@prestashop.com', password: adminPasswordFor(secrets, demo.demoId) },
      createdAt: demo.createdAt, readyAt: demo.readyAt, expiresAt: claim.expiresAt, maxExpiresAt: claim.maxExpiresAt,
      stepMs: {}, extendRequests: [],
    };
  }

  /** Signals the claim to its demo; `gone` when the workflow has ended (nothing left to deliver). */
  async function signalClaim(demoId: string, claim: DemoClaim, o: CallOptions = { deadlineMs: SIGNAL_DEADLINE_MS }): Promise<'delivered' | 'gone'> {
    const t0 = performance.now();
    try {
      await call(client, o, `claim signal ${demoId}`, () => demoHandle(client, demoId).signal(demoClaimedSignal, claim));
      deps.onSignal?.(performance.now() - t0, true);
      return 'delivered';
    } catch (err) {
      deps.onSignal?.(performance.now() - t0, false);
      if (err instanceof WorkflowNotFoundError) {
        await store.dropPending(demoId);
        return 'gone';
      }
      throw err;
    }
  }

  /**
   * Delivered before the claimer's extend, reset or release: once the signal is accepted it is in
   * the demo's history, so the record is marked acknowledged (no re-delivery, and reads go to the
   * workflow from now on, which then knows of every change the API made).
   */
  async function deliverNow(demoId: string, claim: DemoClaim): Promise<void> {
    const delivered = await signalClaim(demoId, claim, { deadlineMs: SIGNAL_DEADLINE_MS, retry: { attempts: 3, firstDelayMs: 100 } });
    if (delivered === 'delivered') await store.acknowledge(demoId, claim.claimId);
  }

  /** The claim of a record still waiting for its delivery, if any. */
  const undelivered = (r: Awaited<ReturnType<typeof store.read>>) => (r?.state === 'claimed' && r.claim && !r.acknowledged ? r.claim : undefined);

  /**
   * Signals a queued claim once its delivery hold has passed, unless it was acknowledged (an
   * extend or release delivers it at once) or its record went meanwhile.
   */
  async function deliverQueued(demoId: string): Promise<void> {
    let claim = undelivered(await store.read(demoId));
    if (!claim) return;
    // Never longer than the hold itself, whatever the clocks of the claimer's and this host say.
    const hold = config.pool.claimDeliveryHoldMs;
    const wait = Math.min(hold, Date.parse(claim.claimedAt) + hold - Date.now());
    if (wait > 0) {
      await new Promise((r) => setTimeout(r, wait));
      claim = undelivered(await store.read(demoId));
      if (!claim) return;
    }
    await signalClaim(demoId, claim);
  }

  const demand = (template: string, body: { requestId: string; until?: number; done?: boolean; served?: boolean }) =>
    poolHandle(client, config, template).signal(poolDemandSignal, body)
      .catch((err: Error) => log?.warn({ template, err: err.message }, 'could not tell the pool about waiting demand'));

  /** Waits for listed demos in order of arrival, on a connection of its own (BLMOVE blocks it). */
  async function claimWaiting(input: ClaimDemoInput, claimId: string, deadline: number): Promise<ClaimAnswer> {
    const requestId = randomUUID();
    void demand(input.template, { requestId, until: deadline });
    const blocking = valkey.duplicate();
    // Connection errors surface as failed commands below; without a listener ioredis prints them raw.
    blocking.on('error', (err: Error) => log?.warn({ err: err.message }, 'valkey connection error (claim wait)'));
    let served = false;
    try {
      while (Date.now() < deadline) {
        const list = await store.waitForListed(blocking, input.template, requestId, deadline - Date.now());
        if (!list) break;
        const out = await store.claim({ ...input, claimId, maxLifetimeSeconds: config.demos.maxLifetimeSeconds, fromList: list });
        await store.doneWaiting(list);
        if (out.kind !== 'empty') {
          served = out.kind === 'claimed';
          return out.kind === 'claimed' ? answer(out.demo, out.claim, 0) : out;
        }
        // The demo taken was withdrawn meanwhile (recycled, cancelled): wait for the next one.
      }
      return { kind: 'empty' };
    } finally {
      blocking.disconnect();
      void demand(input.template, { requestId, done: true, served });
    }
  }

  /** The claim script queued the delivery: the worker's deliverer signals the demo (startClaimDelivery). */
  function answer(demo: PooledDemoRecord, claim: DemoClaim, valkeyMs: number): ClaimAnswer {
    return { kind: 'claimed', state: present(demo, claim), claim, valkeyMs };
  }

  return {
    store,

    /** One claim; the answer does not wait for the demo's workflow (see the guarantees above). */
    async claim(input: ClaimDemoInput): Promise<ClaimAnswer> {
      const claimId = randomUUID();
      const t0 = performance.now();
      const out = await store.claim({ ...input, claimId, maxLifetimeSeconds: config.demos.maxLifetimeSeconds });
      const valkeyMs = performance.now() - t0;
      if (out.kind === 'claimed') return answer(out.demo, out.claim, valkeyMs);
      if (out.kind === 'replay' || !input.waitMs) return out;
      return claimWaiting(input, randomUUID(), Date.now() + input.waitMs);
    },

    /** Before a claimer's extend: its demo has been told it is claimed. */
    async ensureDelivered(demoId: string): Promise<void> {
      const claim = undelivered(await store.read(demoId));
      if (claim) await deliverNow(demoId, claim);
    },

    /**
     * Before a release: a listed demo is withdrawn first (never handed out once the release is
     * acknowledged); a claimed one (or one whose withdraw lost to a claim) is told of its claim first.
     */
    async prepareRelease(demoId: string): Promise<void> {
      const r = await store.read(demoId);
      let claim = undelivered(r);
      if (r?.state === 'listed') claim = (await store.withdraw(demoId, r.demo.template)).claim;
      if (claim) await deliverNow(demoId, claim);
    },

    /**
     * A demo claimed moments ago, read from Valkey without asking its workflow (the demo bar's
     * first call right after the launcher's claim): until the claim is acknowledged nothing but
     * the claim can have changed it through the API (extend, reset and release deliver the claim
     * first, which acknowledges it). Undefined for anything else: ask the workflow.
     */
    async presentUnacknowledged(demoId: string): Promise<DemoState | undefined> {
      const r = await store.read(demoId);
      const claim = undelivered(r);
      return claim && r ? present(r.demo, claim) : undefined;
    },

    /** A demo whose workflow still says `pooled` but that Valkey shows claimed is ready for its claimer. */
    async presentClaimed(state: DemoState): Promise<DemoState> {
      if (state.status !== 'pooled') return state;
      const r = await store.read(state.demoId);
      if (r?.state !== 'claimed' || !r.claim) return state;
      return { ...present(r.demo, r.claim), ...state, status: 'ready', expiresAt: r.claim.expiresAt, maxExpiresAt: r.claim.maxExpiresAt };
    },

    /** Takes up to a batch of the claims queued for delivery, waiting up to `timeoutSeconds` for some. */
    takeQueued(blocking: Redis, timeoutSeconds: number): Promise<string[]> {
      return store.takeDeliveries(blocking, DELIVERY_BATCH, timeoutSeconds);
    },

    /** Signals a taken claim after its hold; a failed signal is left to `redeliver`. Never throws. */
    async deliverTaken(demoId: string): Promise<void> {
      await deliverQueued(demoId).catch((err: Error) => {
        log?.warn({ demoId, err: err.message }, 'claim signal not delivered yet; it will be re-delivered');
      });
    },

    /** Signals every claim unacknowledged for a few seconds after its hold again; answers how many were sent. */
    async redeliver(now = Date.now()): Promise<number> {
      const ids = await store.unacknowledged(now - config.pool.claimDeliveryHoldMs - CLAIM_REDELIVER_AFTER_SECONDS * 1000);
      let sent = 0;
      for (const demoId of ids) {
        const claim = undelivered(await store.read(demoId));
        if (!claim) {
          await store.dropPending(demoId);
          continue;
        }
        try {
          if ((await signalClaim(demoId, claim)) === 'delivered') sent++;
        } catch (err) {
          log?.warn({ demoId, err: (err as Error).message }, 'claim re-delivery failed; next pass tries again');
        }
      }
      await store.sweepClaiming(now);
      return sent;
    },
  };
}
