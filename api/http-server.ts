/**
 * The API's HTTP server. Requests refused before the app sees them are answered with the same JSON
 * error shape as everything else:
 * - by Node's parser (CR/LF or NUL in a header, a malformed request line, headers over the size
 *   limit, a header timeout): 400 / 431 / 408, then the connection is closed;
 * - by the Node adapter (a backslash in the path, an invalid Host header or absolute URL): 400.
 */
import { getRequestListener, RequestError } from '@hono/node-server';
import { createServer, STATUS_CODES, type Server } from 'node:http';
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
