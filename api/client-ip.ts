/**
 * The client address used for rate limits: the socket's peer, or the address a proxy recorded —
 * Caddy's on the edge socket (only Caddy can connect there; it sets X-Forwarded-For to the visitor's
 * address, replacing whatever the visitor sent), or, when a trusted proxy header is configured, the
 * right-most entry of that header (the proxy appended it; entries to its left are the client's own claims).
 */
import { getConnInfo } from '@hono/node-server/conninfo';
import type { Context } from 'hono';
import { isIP } from 'node:net';
import type { EdgeBindings } from './http-server';

export function normalizeIp(raw: string | undefined): string | undefined {
  if (!raw) return undefined;
  let ip = raw.trim();
  if (ip.startsWith('[') && ip.includes(']')) ip = ip.slice(1, ip.indexOf(']'));
  if (/^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(ip)) ip = ip.slice(7);
  if (!isIP(ip)) return undefined;
  return ip.toLowerCase();
}

export function ipFromHeader(value: string | undefined): string | undefined {
  if (!value) return undefined;
  const parts = value.split(',');
  return normalizeIp(parts[parts.length - 1]);
}

function socketIp(c: Context): string | undefined {
  try {
    return normalizeIp(getConnInfo(c).remote.address);
  } catch {
    // Not served by @hono/node-server (app.request in tests): no socket.
    return undefined;
  }
}

export function clientIp(c: Context, trustedProxyHeader: string): string {
  if ((c.env as EdgeBindings | undefined)?.viaEdge) {
    const fromCaddy = ipFromHeader(c.req.header('x-forwarded-for'));
    if (fromCaddy) return fromCaddy;
  }
  if (trustedProxyHeader) {
    const fromProxy = ipFromHeader(c.req.header(trustedProxyHeader));
    if (fromProxy) return fromProxy;
  }
  return socketIp(c) ?? 'unknown';
}
