/**
 * The visitor's path, checked without a demo: a request through Caddy's demo router to the router
 * probe, a tiny container that `deployments/stack.sh up` keeps on the edge network under a random,
 * demo-shaped name. It passes only when Caddy routes the host, the names server resolves the name and
 * a real upstream answers on the edge network — the three things a stack can have wrong while every
 * service still answers its own health check.
 */
import { request } from 'undici';
import { demoContainerPrefix } from '../contract';
import { NAMES_ZONE } from './demo-names';
import type { Config } from '../lib/config';
import { demoHostFor, launcherOrigin } from '../lib/public-urls';

/** The router probe's names (stack.sh creates it): its id, its container, its name at the names server. */
export function routerProbe(config: Config, purpose: string): { id: string; container: string; name: string; dnsName: string } {
  const id = config.caddy.routerProbeId;
  if (!id) throw new Error(`${purpose}: no router probe is configured (DMX_ROUTER_PROBE_ID; \`deployments/stack.sh up\` creates it)`);
  const prefix = demoContainerPrefix(config.profile);
  return { id, container: `${prefix}router-probe`, name: `${prefix}${id}`, dnsName: `${prefix}${id}.${NAMES_ZONE}` };
}

/** One GET through Caddy's HTTP port for `host`; `what` names the check in the error when Caddy does not answer. */
async function throughCaddy(config: Config, what: string, host: string, path: string, timeoutMs: number): Promise<{ status: number; body: string }> {
  const url = `http://127.0.0.1:${config.caddy.httpPort}${path}`;
  try {
    // reset: a fresh connection each time (Caddy closes kept-alive ones when its config reloads).
    const res = await request(url, { headers: { host }, reset: true, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
    return { status: res.statusCode, body: await res.body.text() };
  } catch (err) {
    throw new Error(`${what}: Caddy at ${url} did not answer: ${(err as Error).message}`, { cause: err });
  }
}

export async function checkDemoRouter(config: Config, timeoutMs = 1_500): Promise<void> {
  const { id } = routerProbe(config, 'demo router');
  const { status, body } = await throughCaddy(config, 'demo router', demoHostFor(config, id), '/', timeoutMs);
  if (status === 200 && body.startsWith(`dmx-router-probe ${id}`)) return;
  const excerpt = body.slice(0, 200).replace(/\s+/g, ' ').trim().slice(0, 100);
  throw new Error(
    `demo router: the router probe answered ${status} through Caddy ("${excerpt}"), so visitors cannot reach demos. `
    + `Likely causes: the names server (udp 127.0.0.1:${config.names.port}, \`stack.sh up\` starts it), `
    + 'the demo router route missing from Caddy (the dmx worker installs it), or the probe container stopped (`stack.sh up` restarts it)',
  );
}

/**
 * The launcher's path: its script through Caddy's launcher route and the API's edge socket — what
 * breaks "Try the demo" while the API answers on its own port (the socket gone, the route missing).
 */
export async function checkLauncher(config: Config, timeoutMs = 1_500): Promise<void> {
  const host = new URL(launcherOrigin(config)).host;
  const { status, body } = await throughCaddy(config, 'launcher', host, '/embed.js', timeoutMs);
  if (status === 200 && body.includes('dmx-try-demo')) return;
  throw new Error(
    `launcher: ${host}/embed.js answered ${status} through Caddy, so "Try the demo" fails. Likely causes: the API's edge socket `
    + `(${config.api.edgeSocket || 'off'}) not answering, or the launcher route missing from Caddy (the dmx worker installs it)`,
  );
}
