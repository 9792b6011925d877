/**
 * The API's HTTP server. Requests refused before the app sees them are answered with the same JSON
 * error shape as everything else:
 * - by Node's parser (CR/LF or NUL in a header, a malformed request line, headers over the size
 *   limit, a header timeout): 400 / 431 / 408, then the connection is closed;
 * - by the Node adapter (a backslash in the path, an invalid Host header or absolute URL): 400.
 */
import { getRequestListener, RequestError } from '@hono/node-server';
import { chmodSync, lstatSync, mkdirSync, unlinkSync } from 'node:fs';
import { createServer, STATUS_CODES, type Server } from 'node:http';
import { connect } from 'node:net';
import { dirname } from 'node:path';
import type { Duplex } from 'node:stream';

type Fetch = Parameters<typeof getRequestListener>[0];

function jsonError(status: number, code: string, message: string): Response {
  return new Response(JSON.stringify({ error: { code, message } }), { status, headers: { 'content-type': 'application/json', 'cache-control': 'no-store' } });
}

export function answerClientErrorsAsJson(server: Server): void {
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const [status, code, message] =
      err.code === 'HPE_HEADER_OVERFLOW' ? [431, 'headers_too_large', 'request headers are too large']
        : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' || err.code === 'HPE_HEADERS_TIMEOUT' ? [408, 'request_timeout', 'the request took too long to arrive']
          : [400, 'bad_request', 'malformed HTTP request'];
    const body = JSON.stringify({ error: { code, message } });
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `Cache-Control: no-store\r\nConnection: close\r\n\r\n${body}`,
    );
  });
}

/** An HTTP server for `fetch` (the Hono app's), not yet listening. */
export function createApiServer(fetch: Fetch): Server {
  const listener = getRequestListener(fetch, {
    // Called when the request cannot even be turned into a URL (or, never expected, app.fetch throws synchronously).
    errorHandler: (err) => err instanceof RequestError
      ? jsonError(400, 'bad_request', 'malformed request target or Host header')
      : jsonError(500, 'internal', 'internal error; it has been logged'),
  });
  // Without a Host header the adapter refuses the request itself (JSON 400 above) rather than Node (an empty 400).
  const server = createServer({ requireHostHeader: false }, (req, res) => {
    // A request refused before its body was read (413, 415, …) leaves unread bytes on the socket,
    // and Node then drops the connection after the answer: say so in the answer, or a keep-alive
    // client reuses the socket and its next request fails with "other side closed".
    const writeHead = res.writeHead.bind(res) as (...args: unknown[]) => typeof res;
    res.writeHead = ((...args: unknown[]) => {
      if (!req.complete) res.setHeader('Connection', 'close');
      return writeHead(...args);
    }) as typeof res.writeHead;
    void listener(req, res);
  });
  answerClientErrorsAsJson(server);
  return server;
}

/** What the app sees in `c.env` on requests that came through the edge socket (see client-ip.ts). */
export interface EdgeBindings { viaEdge?: true }

/** The same app for the edge socket: its requests are marked as Caddy's (`c.env.viaEdge`). */
export function edgeFetch(fetch: Fetch): Fetch {
  return (req, env) => fetch(req, { ...env, viaEdge: true } as typeof env & EdgeBindings);
}

/**
 * Listens on a unix socket in a directory only root can enter (the socket itself 0600). A socket
 * file left by an API that died is replaced; one a running API still answers on is not taken over.
 */
export async function listenOnUnixSocket(server: Server, path: string): Promise<void> {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const listen = () => new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      server.off('error', reject);
      resolve();
    });
  });
  try {
    await listen();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    const answered = await new Promise<boolean>((resolve) => {
      const probe = connect(path, () => { probe.destroy(); resolve(true); });
      probe.once('error', () => resolve(false));
    });
    if (answered) throw new Error(`${path} is in use by another running API (DMX_API_EDGE_SOCKET)`, { cause: err });
    if (!lstatSync(path).isSocket()) throw new Error(`${path} exists and is not a socket (DMX_API_EDGE_SOCKET)`, { cause: err });
    unlinkSync(path);
    await listen();
  }
  chmodSync(path, 0o600);
}
