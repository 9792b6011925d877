/**
 * The profile's network pairs (pure: lib/config.ts and cli/network-plan.ts read them from the
 * environment; stack.sh creates them from the plan).
 *
 * Why pairs: a demo has one port on a demo network's Linux bridge (to MariaDB) and one on an edge
 * network's bridge (from Caddy), and one bridge takes at most 1,023 ports (BR_MAX_PORTS less port 0).
 * A host full of demos therefore needs several bridges of each kind. Pair k is the k-th /21 slice of
 * the profile's demo range and of its edge range (a /24 range holds one pair, the whole /24): every
 * demo address stays inside the range, so a demo account's host pattern (`10.90.%`) covers all pairs.
 * Each pair has its own gateway, where MariaDB listens for that pair's demos.
 */

/**
 * The most ports a Linux bridge takes (the kernel's BR_MAX_PORTS, 1,024, less the reserved port 0;
 * "Exchange full" past it). netavark does not report a full bridge: a demo restored past it ran
 * without a link to MariaDB ("No route to host"), seen on the way from 1,000 to 2,000 live demos.
 * Hence several network pairs, each new demo on the least busy one (activities/host.ts).
 */
export const BRIDGE_PORT_LIMIT = 1_023;

export interface NetworkPair {
  index: number;
  /** Demo network (demos <-> MariaDB at `gateway`). */
  network: string;
  subnet: string;
  gateway: string;
  /** Edge network (Caddy -> demos, from the host's `edgeGateway`). */
  edgeNetwork: string;
  edgeSubnet: string;
  edgeGateway: string;
}

export interface NetworkRanges {
  /** Name of the first pair's demo network; pair k > 0 is `<network>-<k>`. */
  network: string;
  /** The profile's demo range: an IPv4 /16 (32 pairs) or /24 (one pair). */
  subnet: string;
  edgeNetwork: string;
  edgeSubnet: string;
  pairs: number;
}

const PAIR_PREFIX = 21;
const RANGE = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.0\/(16|24)$/;

export class NetworkPlanError extends Error {
  override name = 'NetworkPlanError';
}

function slices(range: string, what: string): (k: number) => { subnet: string; gateway: string; max: number } {
  const m = RANGE.exec(range);
  if (!m || [m[1], m[2], m[3]].some((o) => Number(o) > 255) || (m[4] === '16' && m[3] !== '0')) {
    throw new NetworkPlanError(`${what} ${JSON.stringify(range)} is not an IPv4 /16 or /24 range like 10.90.0.0/16`);
  }
  const [a, b, c] = [m[1], m[2], Number(m[3])];
  if (m[4] === '24') return () => ({ subnet: range, gateway: `${a}.${b}.${c}.1`, max: 1 });
  const per = 2 ** (24 - PAIR_PREFIX);
  return (k) => ({ subnet: `${a}.${b}.${k * per}.0/${PAIR_PREFIX}`, gateway: `${a}.${b}.${k * per}.1`, max: 256 / per });
}

export function networkPairs(r: NetworkRanges): NetworkPair[] {
  const demo = slices(r.subnet, 'the demo range');
  const edge = slices(r.edgeSubnet, 'the edge range');
  const max = Math.min(demo(0).max, edge(0).max);
  if (!Number.isInteger(r.pairs) || r.pairs < 1 || r.pairs > max) {
    throw new NetworkPlanError(`network pairs must be a whole number from 1 to ${max} for the ranges ${r.subnet} and ${r.edgeSubnet} (got ${r.pairs})`);
  }
  if (r.network === r.edgeNetwork) throw new NetworkPlanError(`the demo and edge networks need different names (both ${r.network})`);
  return Array.from({ length: r.pairs }, (_, k) => {
    const d = demo(k);
    const e = edge(k);
    const suffix = k === 0 ? '' : `-${k}`;
    return {
      index: k,
      network: `${r.network}${suffix}`, subnet: d.subnet, gateway: d.gateway,
      edgeNetwork: `${r.edgeNetwork}${suffix}`, edgeSubnet: e.subnet, edgeGateway: e.gateway,
    };
  });
}

/** The pair whose demo or edge network a container is on (its networks as podman lists them). */
export function pairOf(pairs: NetworkPair[], networks: Record<string, unknown>): NetworkPair | undefined {
  return pairs.find((p) => networks[p.network] !== undefined || networks[p.edgeNetwork] !== undefined);
}

/** The pairs the environment describes (DMX_NETWORK, DMX_NETWORK_SUBNET, DMX_EDGE_NETWORK, DMX_EDGE_SUBNET, DMX_NETWORK_PAIRS). */
export function networkPairsFromEnv(env: Record<string, string | undefined>): NetworkPair[] {
  const missing = ['DMX_NETWORK', 'DMX_NETWORK_SUBNET', 'DMX_EDGE_NETWORK', 'DMX_EDGE_SUBNET'].filter((k) => !env[k]);
  if (missing.length) throw new NetworkPlanError(`${missing.join(', ')} must be set (deployments/lib.sh sets them per profile)`);
  const count = env.DMX_NETWORK_PAIRS ?? '1';
  if (!/^\d{1,3}$/.test(count)) throw new NetworkPlanError(`DMX_NETWORK_PAIRS must be a whole number (got ${JSON.stringify(count).slice(0, 40)})`);
  for (const k of ['DMX_NETWORK', 'DMX_EDGE_NETWORK']) {
    if (!/^[a-z0-9][a-z0-9_-]{0,36}$/.test(env[k]!)) throw new NetworkPlanError(`${k} must be letters, digits, - and _ (at most 37), got ${JSON.stringify(env[k]).slice(0, 60)}`);
  }
  return networkPairs({
    network: env.DMX_NETWORK!, subnet: env.DMX_NETWORK_SUBNET!, edgeNetwork: env.DMX_EDGE_NETWORK!, edgeSubnet: env.DMX_EDGE_SUBNET!, pairs: Number(count),
  });
}
