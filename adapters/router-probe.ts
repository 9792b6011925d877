/**
 * The visitor's path, checked without a demo: a request through Caddy's demo router to the router
 * probe, a tiny container that `deployments/stack.sh up` keeps on the edge network under a random,
 * demo-shaped alias. It passes only when Caddy routes the host, aardvark-dns resolves the alias on the
 * edge network and a real upstream answers — the three things a stack can have wrong while every
 * service still answers its own health check (seen: podman on CNI, whose networks have no DNS).
 */
import { request } from 'undici';
import { demoContainerPrefix } from '../contract';
import { demoHostFor, type Config } from '../lib/config';

/** The router probe's names (stack.sh creates it): its id, its container, its name in the edge network's DNS. */
export function routerProbe(config: Config, purpose: string): { id: string; container: string; dnsName: string } {
  const id = config.caddy.routerProbeId;
  if (!id) throw new Error(`${purpose}: no router probe is configured (DMX_ROUTER_PROBE_ID; \`deployments/stack.sh up\` creates it)`);
  const prefix = demoContainerPrefix(config.profile);
  return { id, container: `${prefix}router-probe`, dnsName: `${prefix}${id}.dns.podman` };
}

export async function checkDemoRouter(config: Config, timeoutMs = 1_500): Promise<void> {
  const { id } = routerProbe(config, 'demo router');
  const url = `http://127.0.0.1:${config.caddy.httpPort}/`;
  let status: number;
  let body: string;
  try {
    // reset: a fresh connection each time (Caddy closes kept-alive ones when its config reloads).
    const res = await request(url, { headers: { host: demoHostFor(config, id) }, reset: true, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
    status = res.statusCode;
    body = (await res.body.text()).slice(0, 200);
  } catch (err) {
    throw new Error(`demo router: Caddy at ${url} did not answer: ${(err as Error).message}`, { cause: err });
  }
  if (status === 200 && body.startsWith(`dmx-router-probe ${id}`)) return;
  const excerpt = body.replace(/\s+/g, ' ').trim().slice(0, 100);
  throw new Error(
    `demo router: the router probe answered ${status} through Caddy ("${excerpt}"), so visitors cannot reach demos. `
    + `Likely causes: DNS on the edge network (aardvark-dns at udp/${config.podman.edgeGateway}:53), `
    + 'the demo router route missing from Caddy (the dmx worker installs it), or the probe container stopped (`stack.sh up` restarts it)',
  );
}
