/**
 * Prints the profile's network pairs for deployments/stack.sh, one per line:
 * `index network subnet gateway edgeNetwork edgeSubnet edgeGateway` (lib/network-pairs.ts is the
 * one place that derives them; the shell only creates what it is told).
 */
import { networkPairsFromEnv, NetworkPlanError } from '../lib/network-pairs';

try {
  for (const p of networkPairsFromEnv(process.env)) {
    process.stdout.write(`${[p.index, p.network, p.subnet, p.gateway, p.edgeNetwork, p.edgeSubnet, p.edgeGateway].join(' ')}\n`);
  }
} catch (err) {
  if (!(err instanceof NetworkPlanError)) throw err;
  process.stderr.write(`dmx: ${err.message}\n`);
  process.exitCode = 2;
}
