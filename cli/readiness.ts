/** `dmx status`: the API's own readiness answer (with the operator token, so pool errors show). */
import { request } from 'undici';
import type { Config } from '../lib/config';

export interface ReadinessAnswer {
  status: 'ready' | 'not_ready';
  checks: Record<string, { ok: boolean; ms: number; error?: string }>;
  down: string[];
  pools?: Array<{ template: string; target: number; ready: number; provisioning: number; consecutiveFailures: number; lastError?: string }>;
}

export async function readiness(config: Config): Promise<ReadinessAnswer> {
  const url = `http://127.0.0.1:${config.api.port}/readyz`;
  const headers: Record<string, string> = config.api.operatorToken ? { authorization: `Bearer ${config.api.operatorToken}` } : {};
  let res;
  try {
    res = await request(url, { headers, headersTimeout: 10_000, bodyTimeout: 10_000 });
  } catch (err) {
    throw new Error(`the dmx API at ${url} did not answer (is it running? bash deployments/up.sh starts it)`, { cause: err });
  }
  const text = await res.body.text();
  if (res.statusCode !== 200 && res.statusCode !== 503) throw new Error(`${url} answered ${res.statusCode}: ${text.slice(0, 200)}`);
  return JSON.parse(text) as ReadinessAnswer;
}
