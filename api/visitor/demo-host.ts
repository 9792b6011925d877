/** Which demo a request through Caddy's `/__dmx/` route is about: the demo id is the Host's first label. */
import { isDemoId } from '../../contract';

export function demoIdFromHost(host: string | undefined, domain: string): string | undefined {
  if (!host) return undefined;
  const name = host.replace(/:\d{1,5}$/, '').toLowerCase();
  if (!name.endsWith(`.${domain}`)) return undefined;
  const id = name.slice(0, -domain.length - 1);
  return isDemoId(id) ? id : undefined;
}
