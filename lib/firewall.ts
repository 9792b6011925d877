/**
 * The demo firewall as an nftables ruleset, one table per profile (pure: the adapter in
 * activities/adapters/firewall.ts applies it).
 *
 * Why nftables tables of our own rather than iptables rules: netavark inserts
 * `FORWARD -j NETAVARK_FORWARD` (which ACCEPTs its subnets) at the top of iptables' FORWARD chain
 * when its first container starts, so an iptables DROP rule worked or not depending on which came
 * first on the host. nftables evaluates every base chain registered on a hook, each table on its
 * own, and a `drop` in any of them is final: an ACCEPT in netavark's table (iptables-nft's `ip
 * filter`) cannot undo it. Our table therefore holds whatever the order of start-up, re-creation of
 * netavark's rules, or an `iptables -F`. The reconciler re-applies it on every pass in case it
 * was deleted (`nft flush ruleset`, a reboot).
 *
 * What a demo (and a template container while it is checkpointed: it runs on the demo network) may do:
 *   - reach MariaDB at its own pair's gateway on MariaDB's port, and nothing else on the host
 *     (API, Temporal, Valkey, Caddy, the names server: no DNS or PTR answers either);
 *   - answer connections the host opened (Caddy, health probes);
 *   - nothing between containers (of one pair or of two: routed between bridges), nor to the outside
 *     unless the egress allowlist names it. Bridged
 *     traffic (two containers on one bridge) passes the inet forward hook through br_netfilter
 *     (bridge-nf-call-iptables/ip6tables=1, which the adapter checks) with the bridge as both input
 *     and output interface, so one rule covers bridged and routed, IPv4 and IPv6. (A bridge-family
 *     table matching the bridge name would not need br_netfilter, but this kernel is built without
 *     NFT_BRIDGE_META: `meta ibrname` is "Operation not supported".)
 */

export interface EgressRule { cidr: string; port: number }

/** One network pair's bridges (lib/network-pairs.ts). */
export interface FirewallPair {
  /** Bridge of the pair's demo network (demos <-> MariaDB). */
  demoBridge: string;
  /** Bridge of the pair's edge network (Caddy -> demos). */
  edgeBridge: string;
  /** Gateway of the pair's demo network, where MariaDB listens for its demos. */
  mariadbGateway: string;
}

export interface FirewallSpec {
  profile: string;
  pairs: FirewallPair[];
  mariadbPort: number;
  egressAllow: EgressRule[];
}

const BRIDGE = /^[A-Za-z0-9_.-]{1,15}$/;
const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
const CIDR4 = /^(\d{1,3}\.){3}\d{1,3}\/(\d|[12]\d|3[0-2])$/;

export const firewallTableName = (profile: string) => `dmx_${profile}`;

/** Parses DMX_DEMO_EGRESS_ALLOW: `cidr:port,...` (e.g. `203.0.113.0/24:443`); empty means no egress. */
export function parseEgressAllow(value: string): EgressRule[] {
  return value.split(',').map((s) => s.trim()).filter(Boolean).map((entry) => {
    const m = /^([0-9./]+):(\d{1,5})$/.exec(entry);
    const port = m ? Number(m[2]) : 0;
    if (!m || !CIDR4.test(m[1]!) || port < 1 || port > 65535) {
      throw new TypeError(`invalid egress rule ${JSON.stringify(entry).slice(0, 60)}: expected an IPv4 cidr:port like 203.0.113.0/24:443`);
    }
    return { cidr: m[1]!, port };
  });
}

function check(spec: FirewallSpec): void {
  if (!/^[a-z][a-z0-9]{0,11}$/.test(spec.profile)) throw new TypeError(`invalid profile ${spec.profile}`);
  if (spec.pairs.length === 0) throw new TypeError('no network pair');
  for (const p of spec.pairs) {
    for (const b of [p.demoBridge, p.edgeBridge]) {
      if (!BRIDGE.test(b)) throw new TypeError(`invalid bridge name ${JSON.stringify(b)}`);
    }
    if (!IPV4.test(p.mariadbGateway)) throw new TypeError(`invalid gateway ${p.mariadbGateway}`);
  }
  if (!Number.isInteger(spec.mariadbPort) || spec.mariadbPort < 1 || spec.mariadbPort > 65535) throw new TypeError(`invalid port ${spec.mariadbPort}`);
  for (const r of spec.egressAllow) if (!CIDR4.test(r.cidr)) throw new TypeError(`invalid egress cidr ${r.cidr}`);
}

/**
 * The nft script that (re)creates the profile's tables in one transaction: the `add` + `delete`
 * pair removes any previous version (and is valid when there is none), so applying it twice gives
 * the same ruleset and a partially deleted table is restored whole.
 */
export function firewallRuleset(spec: FirewallSpec): string {
  check(spec);
  const table = firewallTableName(spec.profile);
  const set = (bridges: string[]) => `{ ${bridges.map((b) => `"${b}"`).join(', ')} }`;
  const demoBridges = set(spec.pairs.map((p) => p.demoBridge));
  const all = set(spec.pairs.flatMap((p) => [p.demoBridge, p.edgeBridge]));
  const egress = spec.egressAllow.map((r) => `    iifname ${demoBridges} ip daddr ${r.cidr} tcp dport ${r.port} accept`);
  // Each pair's demos reach MariaDB at their own gateway only (the host would answer any of its addresses).
  const mariadb = spec.pairs.map((p) => `    iifname "${p.demoBridge}" ip daddr ${p.mariadbGateway} tcp dport ${spec.mariadbPort} accept`);
  return [
    `add table inet ${table}`,
    `delete table inet ${table}`,
    `table inet ${table} {`,
    `  comment "dmx-${spec.profile}: demo isolation (lib/firewall.ts)"`,
    '  chain input {',
    '    type filter hook input priority filter - 10; policy accept;',
    `    iifname != ${all} return`,
    '    ct state established,related accept',
    ...mariadb,
    '    counter drop',
    '  }',
    '  chain forward {',
    '    type filter hook forward priority filter - 10; policy accept;',
    ...egress,
    `    iifname ${all} counter drop`,
    `    oifname ${all} ct state established,related accept`,
    `    oifname ${all} counter drop`,
    '  }',
    '}',
    '',
  ].join('\n');
}

/** Removes the profile's table (nothing to do when they are gone). */
export function firewallRemoval(profile: string): string {
  const table = firewallTableName(profile);
  return [`add table inet ${table}`, `delete table inet ${table}`, ''].join('\n');
}
