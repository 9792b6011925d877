/** The reconciler as everyone else sees it: its input, its findings, and where they are kept. */

/** The workflow type name (the schedule starts it by name). */
export const RECONCILE_WORKFLOW_TYPE = 'reconcile';

export interface ReconcileInput {
  /** The host whose containers and services this pass checks (its own task queue). */
  hostId: string;
  /** Report only; remove nothing. */
  dryRun: boolean;
  /** How long a resource must have been orphaned before it is removed. */
  graceSeconds: number;
}

export const RESOURCE_KINDS = ['container', 'database', 'tables', 'account', 'valkey', 'name'] as const;
export type ResourceKind = (typeof RESOURCE_KINDS)[number];

export interface Orphan { kind: ResourceKind; demoId: string; name: string; firstSeen: string }

export interface Findings {
  at: string;
  liveDemos: number;
  /** Orphans seen now, due or not. */
  orphans: Orphan[];
  /** Orphans past the grace period (removed unless dry run). */
  due: Orphan[];
  /** Live demos whose container is gone from this host: released so they do not serve errors. */
  lostContainers: string[];
  /**
   * Ready or pooled demos whose container runs here but whose name the names server no longer has
   * (its directory wiped, say): Caddy would tell their visitors the demo ended. Published again.
   */
  lostNames: string[];
  /** Containers on each network pair of this host (by pair index); a Linux bridge takes 1,023. */
  pairPorts: number[];
  routerRecreated: boolean;
  /** The demo firewall was missing or altered and has been re-applied. */
  firewallReasserted: boolean;
  /** Why the names server does not resolve the router probe (no demo can be reached then). */
  namesError?: string;
}

export interface ReconcileResult extends Findings { dryRun: boolean; removed: number; released: number; republished: number }

/** Valkey: when each orphan was first seen, per profile. */
export const reconcilerFirstSeenKey = (profile: string) => `dmx:reconciler:${profile}:first-seen`;
/** Valkey: the last pass's findings, per profile (exported to /metrics by the API). */
export const reconcilerFindingsKey = (profile: string) => `dmx:reconciler:${profile}:last`;
/** One schedule per deployment and host. */
export const reconcilerScheduleId = (queuePrefix: string, hostId: string) => `${queuePrefix}dmx-reconciler-${hostId}`;
