/**
 * Prometheus metrics (prom-client), on a registry of their own so several apps (tests) can coexist
 * in one process.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface ApiMetrics {
  registry: Registry;
  /** Demos handed out (or refused) through POST /v1/demos, by template, source and outcome. */
  claims: Counter<'template' | 'source' | 'outcome'>;
  /** Time from request to a ready demo. */
  claimSeconds: Histogram<'template' | 'source'>;
  /** Fresh provisionings (not from a pool), by outcome. */
  provisions: Counter<'template' | 'outcome'>;
  httpRequests: Counter<'method' | 'route' | 'status'>;
  httpSeconds: Histogram<'method' | 'route'>;
}

export function createMetrics(o: { liveDemos?: () => Promise<number | undefined>; defaultMetrics?: boolean } = {}): ApiMetrics {
  const registry = new Registry();
  if (o.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'dmx_api_' });
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
      buckets: [0.1, 0.25, 0.5, 1, 1.5, 2, 3, 5, 10, 20, 30, 60, 120],
      registers: [registry],
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
