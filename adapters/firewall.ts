/**
 * Applies the profile's demo firewall (lib/firewall.ts) with `nft`, atomically: one `nft -f` runs the
 * whole script as a single transaction. `ensure` is what stack.sh up and every reconciler pass call.
 */
import { execa } from 'execa';
import { readFileSync } from 'node:fs';
import type { Config } from '../lib/config';
import { firewallRemoval, firewallRuleset, firewallTableName, type FirewallSpec } from '../lib/firewall';
import type { Podman } from './podman';

export class FirewallError extends Error {
  override name = 'FirewallError';
}

async function nft(args: string[], input?: string): Promise<string> {
  const r = await execa('nft', args, { input, reject: false, timeout: 30_000 });
  if (r.exitCode !== 0) throw new FirewallError(`nft ${args.join(' ')} failed (exit ${r.exitCode}): ${String(r.stderr).trim().split('\n').slice(-3).join(' | ')}`);
  return String(r.stdout);
}

/** Bridged traffic reaches the inet table only through br_netfilter; without it demos on one bridge would not be filtered. */
function assertBridgeFiltering(): void {
  for (const family of ['iptables', 'ip6tables']) {
    const path = `/proc/sys/net/bridge/bridge-nf-call-${family}`;
    let value: string;
    try {
      value = readFileSync(path, 'utf8').trim();
    } catch (err) {
      throw new FirewallError(`${path} is unreadable (${(err as Error).message}): br_netfilter is not loaded, bridged demo traffic would not be filtered; run deployments/setup.sh`);
    }
    if (value !== '1') throw new FirewallError(`${path} is ${value}, not 1: bridged demo traffic would not be filtered; run deployments/setup.sh`);
  }
}

export function createFirewall(config: Config, podman: Podman) {
  const table = firewallTableName(config.profile);

  async function spec(): Promise<FirewallSpec> {
    return {
      profile: config.profile,
      pairs: await Promise.all(config.podman.pairs.map(async (p) => ({
        demoBridge: await podman.bridgeName(p.network), edgeBridge: await podman.bridgeName(p.edgeNetwork), mariadbGateway: p.gateway,
      }))),
      mariadbPort: config.mariadb.port,
      egressAllow: config.podman.egressAllow,
    };
  }

  /** The table as the kernel holds it (rules without counters), or '' when it does not exist. */
  async function current(): Promise<string> {
    const r = await execa('nft', ['list', 'table', 'inet', table], { reject: false });
    if (r.exitCode !== 0) return '';
    return String(r.stdout).replace(/counter packets \d+ bytes \d+ /g, '');
  }

  return {
    table,
    spec,
    current,
    /** (Re)creates the table; returns true when it was missing or differed from what it must be. */
    async ensure(): Promise<{ changed: boolean }> {
      assertBridgeFiltering();
      const before = await current();
      await nft(['-f', '-'], firewallRuleset(await spec()));
      return { changed: before !== (await current()) };
    },
    async remove(): Promise<void> {
      await nft(['-f', '-'], firewallRemoval(config.profile));
    },
  };
}

export type Firewall = ReturnType<typeof createFirewall>;
