/**
 * Prometheus metrics (prom-client), on a registry of their own so several apps (tests) can coexist
 * in one process.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { RESOURCE_KINDS } from '../contract';
import { BRIDGE_PORT_LIMIT } from '../lib/network-pairs';

export interface ApiMetrics {
  registry: Registry;
  /** Demos handed out (or refused) through POST /v1/demos, by template, source and outcome. */
  claims: Counter<'template' | 'source' | 'outcome'>;
  /** Time from request to a ready demo, by source (`pool` or `fresh`). */
  claimSeconds: Histogram<'template' | 'source'>;
  /** The claim's steps beside the whole request: the Valkey script, and the demoClaimed signal sent after the answer. */
  claimValkeySeconds: Histogram<'template'>;
  claimSignalSeconds: Histogram<'outcome'>;
  /** Fresh provisionings (not from a pool), by outcome. */
  provisions: Counter<'template' | 'outcome'>;
  httpRequests: Counter<'method' | 'route' | 'status'>;
  httpSeconds: Histogram<'method' | 'route'>;
}

/** What the pool gauges need of a pool's stats. */
export interface PoolGaugeStats { template: string; ready: number; provisioning: number; target: number; waitingClaims: number }

export interface MetricsOptions {
  liveDemos?: () => Promise<number | undefined>;
  /** Stats of the running pools at scrape time; undefined when they could not be read (bounded by the caller). */
  pools?: () => Promise<PoolGaugeStats[] | undefined>;
  /** The reconciler's last findings (kept in Valkey by its pass); undefined when none yet. */
  reconciler?: () => Promise<ReconcilerSnapshot | undefined>;
  defaultMetrics?: boolean;
}

export interface ReconcilerSnapshot { at: string; orphans: Array<{ kind: string }>; due: unknown[]; lostContainers: unknown[]; lostNames?: unknown[]; pairPorts?: number[] }

function reconcilerGauges(registry: Registry, fetch: () => Promise<ReconcilerSnapshot | undefined>): void {
  const snapshot = sharedSnapshot(() => fetch().catch(() => undefined));
  new Gauge({
    name: 'dmx_reconciler_orphans',
    help: 'Resources no live demo owns, by kind, at the reconciler\'s last pass',
    labelNames: ['kind'],
    registers: [registry],
    async collect() {
      const f = await snapshot();
      this.reset();
      if (!f) return;
      for (const kind of RESOURCE_KINDS) this.set({ kind }, f.orphans.filter((o) => o.kind === kind).length);
    },
  });
  const simple = (name: string, help: string, pick: (f: ReconcilerSnapshot) => number) => new Gauge({
    name, help, registers: [registry],
    async collect() {
      const f = await snapshot();
      if (f) this.set(pick(f));
    },
  });
  new Gauge({
    name: 'dmx_network_pair_ports',
    help: `Containers on each network pair (its busier bridge) at the reconciler's last pass; a Linux bridge takes ${BRIDGE_PORT_LIMIT}, a restore then takes another pair`,
    labelNames: ['pair'],
    registers: [registry],
    async collect() {
      const f = await snapshot();
      this.reset();
      f?.pairPorts?.forEach((ports, pair) => this.set({ pair: String(pair) }, ports));
    },
  });
  simple('dmx_reconciler_orphans_due', 'Orphans past their grace period at the last pass (removed unless dry run)', (f) => f.due.length);
  simple('dmx_reconciler_lost_containers', 'Live demos whose container was gone at the last pass (released)', (f) => f.lostContainers.length);
  simple('dmx_reconciler_lost_names', 'Live demos whose name the names server had lost at the last pass (published again)', (f) => f.lostNames?.length ?? 0);
  simple('dmx_reconciler_last_pass_timestamp_seconds', 'When the reconciler last ran (Unix time)', (f) => Date.parse(f.at) / 1000);
}

/** Pool stats are read once per scrape, however many gauges ask (prom-client collects them in parallel). */
function sharedSnapshot<T>(fetch: () => Promise<T>, maxAgeMs = 1_000): () => Promise<T> {
  let last: { at: number; value: Promise<T> } | undefined;
  return () => {
    if (!last || Date.now() - last.at > maxAgeMs) last = { at: Date.now(), value: fetch() };
    return last.value;
  };
}

function poolGauges(registry: Registry, fetchPools: () => Promise<PoolGaugeStats[] | undefined>): void {
  const snapshot = sharedSnapshot(() => fetchPools().catch(() => undefined));
  const gauge = (name: string, help: string, pick: (s: PoolGaugeStats) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['template'],
      registers: [registry],
      async collect() {
        const pools = await snapshot();
        // Only the pools running now: a stopped pool's series disappears rather than going stale.
        this.reset();
        for (const p of pools ?? []) this.set({ template: p.template }, pick(p));
      },
    });
  gauge('dmx_api_pool_ready', 'Ready, unclaimed demos in the template\'s warm pool (at scrape time)', (p) => p.ready);
  gauge('dmx_api_pool_provisioning', 'Demos the template\'s warm pool is provisioning (at scrape time)', (p) => p.provisioning);
  gauge('dmx_api_pool_target', 'Target size of the template\'s warm pool', (p) => p.target);
  gauge('dmx_api_pool_waiting_claims', 'Claims waiting in the template\'s warm pool for a demo', (p) => p.waitingClaims);
  new Gauge({
    name: 'dmx_api_pool_stats_up',
    help: '1 when the pool stats could be read at this scrape, 0 when not (the pool gauges are then empty)',
    registers: [registry],
    async collect() {
      this.set((await snapshot()) ? 1 : 0);
    },
  });
}

export function createMetrics(o: MetricsOptions = {}): ApiMetrics {
  const registry = new Registry();
  if (o.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'dmx_api_' });
  if (o.pools) poolGauges(registry, o.pools);
  if (o.reconciler) reconcilerGauges(registry, o.reconciler);
  const liveDemos = o.liveDemos;
  if (liveDemos) {
    new Gauge({
      name: 'dmx_api_live_demos',
      help: 'Demo workflows running on this deployment (Temporal visibility count at scrape time)',
      registers: [registry],
      async collect() {
        const n = await liveDemos().catch(() => undefined);
        if (n !== undefined) this.set(n);
      },
    });
  }
  return {
    registry,
    claims: new Counter({ name: 'dmx_api_demo_claims_total', help: 'Demo requests by outcome', labelNames: ['template', 'source', 'outcome'], registers: [registry] }),
    claimSeconds: new Histogram({
      name: 'dmx_api_demo_claim_seconds',
      help: 'Seconds from a demo request to a ready demo',
      labelNames: ['template', 'source'],
      // Pool claims take milliseconds, cold provisions about a second.
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 1.5, 2, 3, 5, 10, 20, 30, 60, 120],
      registers: [registry],
    }),
    claimValkeySeconds: new Histogram({
      name: 'dmx_api_claim_valkey_seconds', help: 'Seconds of the claim script in Valkey (one round trip)', labelNames: ['template'],
      buckets: [0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.1], registers: [registry],
    }),
    claimSignalSeconds: new Histogram({
      name: 'dmx_api_claim_signal_seconds', help: 'Seconds of the demoClaimed signal to the demo (after the answer)', labelNames: ['outcome'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5], registers: [registry],
    }),
    provisions: new Counter({ name: 'dmx_api_demo_provisions_total', help: 'Fresh demo provisionings by outcome', labelNames: ['template', 'outcome'], registers: [registry] }),
    httpRequests: new Counter({ name: 'dmx_api_http_requests_total', help: 'HTTP requests', labelNames: ['method', 'route', 'status'], registers: [registry] }),
    httpSeconds: new Histogram({
      name: 'dmx_api_http_request_seconds',
      help: 'HTTP request duration',
      labelNames: ['method', 'route'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
      registers: [registry],
    }),
  };
}
