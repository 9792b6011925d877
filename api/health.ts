/**
 * Readiness: every backend the API or the demos need must answer within a short deadline. Each
 * check runs in parallel; the answer names what is down.
 */
export type Check = () => Promise<void>;

export interface CheckResult { ok: boolean; ms: number; error?: string }

function withTimeout(p: Promise<void>, ms: number, name: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${name} did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

export async function runChecks(checks: Record<string, Check>, timeoutMs = 2_000) {
  const entries = await Promise.all(
    Object.entries(checks).map(async ([name, check]): Promise<[string, CheckResult]> => {
      const t0 = performance.now();
      try {
        await withTimeout(Promise.resolve().then(check), timeoutMs, name);
        return [name, { ok: true, ms: Math.round(performance.now() - t0) }];
      } catch (err) {
        return [name, { ok: false, ms: Math.round(performance.now() - t0), error: ((err as Error).message ?? String(err)).slice(0, 500) }];
      }
    }),
  );
  const results = Object.fromEntries(entries);
  const down = entries.filter(([, r]) => !r.ok).map(([n]) => n);
  return { status: down.length ? ('not_ready' as const) : ('ready' as const), checks: results, down };
}
