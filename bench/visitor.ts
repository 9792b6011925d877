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

export async function measureVisitor(ctx: BenchContext): Promise<{ rows: Row[]; details: unknown }> {
  const n = ctx.opts.quick ? 3 : 10;
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const clicks: number[] = [];
  const direct: number[] = [];
  try {
    for (let i = 0; i < n; i++) {
      await fillPool(ctx, 2);
      // bypassCSP: the page's CSP forbids the string predicates the measurement evaluates in it.
      const context = await browser.newContext({ bypassCSP: true });
      const page = await context.newPage();
      await page.goto(`${ctx.api.url}/try/${ctx.opts.template}`);
      const t0 = performance.now();
      await page.click('#start');
      await landed(page);
      clicks.push(performance.now() - t0);
      ctx.demos.add(new URL(page.url()).hostname.split('.')[0]!);
      // The floor: the same landing page, loaded directly in the now logged-in session.
      const landing = await page.evaluate<string>(`document.getElementById('shop').contentWindow.location.href`);
      const t1 = performance.now();
      await page.goto(landing, { waitUntil: 'load' });
      direct.push(performance.now() - t1);
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
      { group: 'visitor', name: '  floor: the same landing page loaded directly (logged in)', unit: 'ms', summary: summarize(direct) },
    ],
    details: { samples: clicks, floorSamples: direct },
  };
}
