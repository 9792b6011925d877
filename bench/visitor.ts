/**
 * The visitor's click, in Chromium: from the launcher's button to the landing page painted inside
 * the demo (warm pool: claim, hand-over to the demo's host, session, one-time login, landing page),
 * beside the floor measured in the same run: Chromium loading that same landing page directly in an
 * already logged-in session (no launcher, claim or login in between).
 */
import { chromium, type Page } from 'playwright-core';
import { fillPool } from './pool';
import type { BenchContext } from './context';
import type { Row } from './report';
import { summarize } from './stats';

/** The shop's landing page is in the frame, loaded, and is not the login hop. */
async function landed(page: Page): Promise<void> {
  await page.waitForURL(/\/__dmx\/$/, { timeout: 60_000 });
  // In the page (a string: the bench is compiled without DOM types).
  await page.waitForFunction(`(() => {
    const f = document.getElementById('shop');
    const doc = f && f.contentDocument;
    return !!doc && doc.readyState === 'complete' && !f.contentWindow.location.pathname.endsWith('dmx-login.php') && !!doc.body && doc.body.childElementCount > 0;
  })()`, undefined, { timeout: 60_000, polling: 'raf' });
}

/** The hops on the click's critical path, in order; the bar's session call runs beside the frame's hops. */
const STEPS = ['claim', 'barPage', 'login', 'landing'] as const;
type StepName = (typeof STEPS)[number];
type MarkName = Exclude<StepName, 'landing'> | 'session';
const STEP_LABELS: Record<StepName | 'session', string> = {
  claim: 'click → claim answered (POST /v1/demos)',
  barPage: 'claim answered → demo bar parsed on the demo host (DOMContentLoaded)',
  login: 'bar parsed → one-time login answered in the frame (redirect)',
  landing: 'login answered → landing page painted in the frame',
  session: 'beside the frame: bar parsed → session answered (POST /__dmx/session)',
};

/**
 * When each hop of the click's path completed, seen from the browser's events (all in this
 * process's performance.now() clock, so they subtract from the click's own t0).
 */
function watchSteps(page: Page): Partial<Record<MarkName, number>> {
  const marks: Partial<Record<MarkName, number>> = {};
  const first = (name: MarkName) => { marks[name] ??= performance.now(); };
  page.on('response', (res) => {
    const url = new URL(res.url());
    if (res.request().method() === 'POST' && url.pathname === '/v1/demos') first('claim');
    else if (url.pathname === '/__dmx/session') first('session');
    else if (url.pathname.endsWith('dmx-login.php')) first('login');
  });
  page.on('domcontentloaded', () => { if (marks.claim !== undefined) first('barPage'); });
  return marks;
}

/** The critical path's hops (consecutive differences; a missing mark ends it) and the session call beside them. */
function stepDurations(t0: number, marks: Partial<Record<MarkName, number>>, end: number): [StepName | 'session', number][] {
  const out: [StepName | 'session', number][] = [];
  let prev = t0;
  for (const name of STEPS) {
    const at = name === 'landing' ? end : marks[name];
    if (at === undefined) break;
    out.push([name, at - prev]);
    prev = at;
  }
  if (marks.session !== undefined && marks.barPage !== undefined) out.push(['session', marks.session - marks.barPage]);
  return out;
}

export async function measureVisitor(ctx: BenchContext): Promise<{ rows: Row[]; details: unknown }> {
  const n = ctx.opts.quick ? 3 : 10;
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const clicks: number[] = [];
  const direct: number[] = [];
  const steps: Record<StepName | 'session', number[]> = { claim: [], barPage: [], login: [], landing: [], session: [] };
  try {
    for (let i = 0; i < n; i++) {
      await fillPool(ctx, 2);
      // bypassCSP: the page's CSP forbids the string predicates the measurement evaluates in it.
      const context = await browser.newContext({ bypassCSP: true });
      const page = await context.newPage();
      await page.goto(`${ctx.api.url}/try/${ctx.opts.template}`);
      const marks = watchSteps(page);
      const t0 = performance.now();
      await page.click('#start');
      await landed(page);
      const t1 = performance.now();
      clicks.push(t1 - t0);
      // The session call runs beside the frame and may answer after the landing page painted.
      for (let waited = 0; marks.session === undefined && waited < 5_000; waited += 20) await new Promise((r) => setTimeout(r, 20));
      for (const [name, ms] of stepDurations(t0, marks, t1)) steps[name].push(ms);
      ctx.demos.add(new URL(page.url()).hostname.split('.')[0]!);
      // The floor: the same landing page, loaded directly in the now logged-in session.
      const landing = await page.evaluate<string>(`document.getElementById('shop').contentWindow.location.href`);
      const tDirect = performance.now();
      await page.goto(landing, { waitUntil: 'load' });
      direct.push(performance.now() - tDirect);
      await page.evaluate(() => fetch('/__dmx/release', { method: 'POST', headers: { 'x-dmx-bar': '1', 'content-type': 'application/json' }, body: '{}' }).catch(() => undefined));
      await context.close();
    }
  } finally {
    await browser.close();
  }
  const click = summarize(clicks);
  return {
    rows: [
      { group: 'visitor', name: 'click → landing page painted inside the demo (warm pool, Chromium)', unit: 'ms', summary: click, target: 'p50 ≤ 300', met: click.p50 <= 300 },
      ...[...STEPS, 'session' as const].map((name): Row => ({ group: 'visitor', name: `  step: ${STEP_LABELS[name]}`, unit: 'ms', summary: summarize(steps[name]) })),
      { group: 'visitor', name: '  floor: the same landing page loaded directly (logged in)', unit: 'ms', summary: summarize(direct) },
    ],
    details: { samples: clicks, floorSamples: direct, steps },
  };
}
