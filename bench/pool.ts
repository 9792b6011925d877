/** Pool sizing for the benchmark: resize the template's warm pool and wait until it is full and idle. */
import { resizePool } from '../client';
import { sleep, stats, type BenchContext } from './context';

export interface FillResult {
  from: number;
  to: number;
  seconds: number;
  /** Ready demos per minute while filling (the pool's refill rate). */
  perMinute: number;
  timeline: Array<[number, number]>;
}

/** Sets the pool's target and waits until `ready === target` with nothing provisioning. */
export async function fillPool(ctx: BenchContext, target: number, timeoutMs = 15 * 60_000): Promise<FillResult> {
  const before = await stats(ctx);
  const t0 = performance.now();
  await resizePool(ctx.client, ctx.config, ctx.opts.template, target);
  const timeline: Array<[number, number]> = [[0, before.ready]];
  let last = before.ready;
  let unanswered = 0;
  for (;;) {
    // A query may time out while Temporal's dev server (one SQLite file) is saturated by the refill
    // itself (seen at ~600 live demos with ksmd on): ask again, up to the fill's own timeout.
    const s = await stats(ctx).catch((err: Error) => {
      if (performance.now() - t0 > timeoutMs) throw err;
      process.stderr.write(`  pool stats unanswered (${++unanswered}): ${err.message}\n`);
      return undefined;
    });
    if (!s) {
      await sleep(1_000);
      continue;
    }
    const t = (performance.now() - t0) / 1000;
    if (s.ready !== last) {
      timeline.push([Math.round(t * 10) / 10, s.ready]);
      last = s.ready;
    }
    if (s.ready === target && s.provisioning === 0) break;
    if (s.lastError && s.consecutiveFailures > 3) throw new Error(`pool keeps failing: ${s.lastError}`);
    if (t * 1000 > timeoutMs) throw new Error(`pool did not reach ${target} ready in ${timeoutMs / 1000} s (ready ${s.ready}, provisioning ${s.provisioning})`);
    await sleep(250);
  }
  const seconds = (performance.now() - t0) / 1000;
  const added = target - before.ready;
  return { from: before.ready, to: target, seconds, perMinute: added > 0 ? (added / seconds) * 60 : Number.NaN, timeline };
}

/** Waits until no demo workflow of ours is still running its teardown (quiet between rounds). */
export async function settle(ctx: BenchContext, timeoutMs = 120_000): Promise<void> {
  const query = `DmxKind = 'demo' AND ExecutionStatus = 'Running' AND DmxStatus = 'tearing_down' AND TaskQueue = '${ctx.config.temporal.queuePrefix}dmx-shared'`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { count } = await ctx.client.workflow.count(query);
    if (count === 0 || Date.now() > deadline) return;
    await sleep(500);
  }
}

/**
 * The host at rest: no teardown running (settle) and no template database being cloned into the
 * data stock (the copy a provision's refill starts in MariaDB once its demo is pooled).
 */
export async function atRest(ctx: BenchContext, timeoutMs = 120_000): Promise<void> {
  await settle(ctx, timeoutMs);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [rows] = await ctx.sql.query("SHOW DATABASES LIKE 'dmx\\_f\\_%'");
    if ((rows as unknown[]).length === 0 || Date.now() > deadline) return;
    await sleep(200);
  }
}
