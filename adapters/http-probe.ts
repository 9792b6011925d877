/** HTTP requests straight to a container's address with a chosen Host header (undici allows it; fetch does not). */
import { request } from 'undici';

export interface ProbeResult { status: number; headers: Record<string, string | string[] | undefined>; body: string }

export async function probeHttp(url: string, host: string, opts: { method?: 'GET' | 'POST'; timeoutMs?: number; headers?: Record<string, string>; body?: string } = {}): Promise<ProbeResult> {
  const res = await request(url, {
    method: opts.method ?? 'GET',
    headers: { host, ...opts.headers },
    body: opts.body,
    headersTimeout: opts.timeoutMs ?? 5_000,
    bodyTimeout: opts.timeoutMs ?? 5_000,
  });
  return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
}

/** Polls until `accept` holds or the deadline passes; returns the last result or throws the last error. */
export async function waitForHttp(url: string, host: string, accept: (r: ProbeResult) => boolean, timeoutMs: number, intervalMs = 100): Promise<ProbeResult> {
  const deadline = Date.now() + timeoutMs;
  let last: ProbeResult | undefined;
  let lastErr: unknown;
  for (;;) {
    try {
      last = await probeHttp(url, host, { timeoutMs: Math.min(5_000, Math.max(500, deadline - Date.now())) });
      if (accept(last)) return last;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() >= deadline) break;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  if (last) return last;
  throw new Error(`no HTTP answer from ${url} (Host ${host}) within ${timeoutMs} ms: ${(lastErr as Error)?.message ?? 'unknown error'}`);
}
