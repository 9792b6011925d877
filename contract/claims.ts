/**
 * Claims at memory speed: the names and shapes shared by the Valkey claim store (adapters), the
 * demo and pool workflows (which publish, withdraw and acknowledge), and the API (which claims).
 * A pooled demo is published to its template's ready list; a claim pops it in one Valkey script
 * and records who holds it; the demo's own workflow is told afterwards (demoClaimed, re-delivered
 * until acknowledged). Deterministic-safe: no Node builtins.
 */

/** Every claim key of one deployment (profile + task queue prefix): test suites never share them. */
export function claimKeys(profile: string, queuePrefix: string) {
  const ns = `dmx:${profile}:claims:${queuePrefix}`;
  return {
    ns,
    /** LIST of pooled demo ids, oldest first (RPUSH on publish, LPOP on claim). */
    ready: (template: string) => `${ns}:ready:${template}`,
    /** HASH per pooled demo: what a claim answer needs, its state, and the claim once claimed. */
    recordPrefix: `${ns}:demo:`,
    record: (demoId: string) => `${ns}:demo:${demoId}`,
    /** LIST of claimed demo ids to signal, in claim order (the claim script queues; the worker's deliverer pops). */
    deliveries: `${ns}:deliveries`,
    /** ZSET demoId -> claimedAt ms: claims recorded in Valkey and not yet acknowledged by the demo. */
    pending: `${ns}:pending`,
    /** STRING per Idempotency-Key hash: `<demoId> <owner scope>`. */
    idempotency: (keyHash: string) => `${ns}:idem:${keyHash}`,
    /** LIST per waiting request: the one demo id BLMOVE took for it off the ready list. */
    claiming: (template: string, requestId: string) => `${ns}:claiming:${template}:${requestId}`,
    /** ZSET claiming-list key -> taken-at ms, so a sweeper returns what a dead waiter took. */
    claimingIndex: `${ns}:claiming-index`,
  };
}

/**
 * `listed`: on the ready list, claimable. `claimed`: taken by exactly one claim (final: a claimed
 * demo is never listed again). `withdrawn`: taken off the list for recycling or teardown (final).
 */
export type ClaimState = 'listed' | 'claimed' | 'withdrawn';

/** The claim as the demo receives it (demoClaimed) and as re-delivery repeats it. */
export interface DemoClaim {
  /** Unique per claim: the demo applies a claim id once, so re-deliveries are harmless. */
  claimId: string;
  claimedAt: string;
  /** The TTL runs from the claim in Valkey, not from the signal's delivery. */
  expiresAt: string;
  maxExpiresAt: string;
  requestedBy?: string;
}

/** The outcome of taking a demo off its ready list before it is recycled or torn down. */
export interface WithdrawResult {
  /** `withdrawn`: now unclaimable; `claimed`: a claim got there first and wins; `absent`: never listed (or Valkey lost it). */
  state: 'withdrawn' | 'claimed' | 'absent';
  claim?: DemoClaim;
}

/**
 * How long after its claim a claim is signalled to its demo (`DMX_POOL_CLAIM_DELIVERY_HOLD_MS`).
 * Nothing a visitor waits for needs the signal: the claim's answer, the demo bar's first read and
 * the login come from Valkey, and an extend, reset or release delivers the claim itself first. The
 * signal's work, though — the demo's workflow tasks, its acknowledgement, the pool's task — costs
 * Temporal and the worker ~60 ms of CPU per claim (measured: 10 claims at once on a pool at rest
 * took 330–510 ms of Temporal's CPU and 250–280 ms of the worker's within 0.4 s), and sent at
 * once it shares a small host's cores with the burst of claims and with that visitor's first pages.
 */
export const CLAIM_DELIVERY_HOLD_MS = { default: 1_000, min: 0, max: 2_000 } as const;

/** Seconds a claim may stay unacknowledged after its delivery hold before it is delivered again. */
export const CLAIM_REDELIVER_AFTER_SECONDS = 3;
