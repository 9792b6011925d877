/**
 * The visitor's journey in a real browser (Debian's chromium driven by playwright-core) against the
 * real stack: launcher → progress → landing logged in on the template's module page inside the demo
 * bar → countdown → extend → login link refused on reuse → end → the "ended" page; and expiry → the
 * ended page by itself. Screenshots go to test/artifacts/ (not committed).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../lib/config';
import { apiTestConfig, serveApi, type Served } from '../api/helpers';
import { startHarness, type Harness } from '../helpers/stack';

const PREFIX = 't-visit-';
const artifacts = join(repoRoot, 'test', 'artifacts');
let h: Harness;
let api: Served;
let browser: Browser;

beforeAll(async () => {
  mkdirSync(artifacts, { recursive: true });
  h = await startHarness(PREFIX);
  // On the configured API port: Caddy sends each demo host's /__dmx/ there.
  api = await serveApi(apiTestConfig({ DMX_TASK_QUEUE_PREFIX: PREFIX, DMX_DEFAULT_TTL_SECONDS: '45', DMX_MAX_LIFETIME_SECONDS: '3600', DMX_MAX_TTL_SECONDS: '120' }), h.config.api.port);
  await h.deps.caddy.ensureDemoRouter((await import('../../lib/config')).demoRouterOptions(api.deps.config));
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});
afterAll(async () => {
  await browser?.close();
  await api?.close();
  await h?.stop();
});

const shot = (page: Page, name: string) => page.screenshot({ path: join(artifacts, `${name}.png`) });

async function launch(page: Page): Promise<string> {
  await page.goto(`${api.base}/try/standin`);
  await shot(page, '1-launcher');
  const states: string[] = [];
  const status = page.locator('#status');
  const watch = setInterval(() => { void status.getAttribute('data-state').then((s) => { if (s && states.at(-1) !== s) states.push(s); }).catch(() => undefined); }, 50);
  await page.click('#start');
  await page.waitForURL(/\/__dmx\/\?login=1$/, { timeout: 60_000 });
  clearInterval(watch);
  // No pool on this suite's queues: a fresh demo, whose real status the launcher shows while it provisions.
  expect(states.filter((s) => s !== 'idle')).toContain('provisioning');
  return new URL(page.url()).host.split('.')[0]!;
}

describe('the visitor journey', () => {
  it('launcher → logged in on the module page in the demo bar → countdown → extend → link reuse refused → end → ended page', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const demoId = await launch(page);
    expect(demoId).toMatch(/^[a-z0-9]{16}$/);

    const shop = page.frameLocator('#shop');
    await expect.poll(() => shop.locator('#module-title').textContent(), { timeout: 15_000 }).toBe('Configure dmxdemo');
    expect(await shop.locator('#employee-email').textContent()).toBe('admin@prestashop.com');
    await shot(page, '2-bar-module-page');

    const secondsLeft = async () => Number(await page.locator('#time-left').getAttribute('data-seconds'));
    await expect.poll(secondsLeft).toBeGreaterThan(0);
    const before = await secondsLeft();
    expect(before).toBeLessThanOrEqual(45);
    await page.click('#extend');
    await expect.poll(() => page.locator('#dmx-message').textContent()).toBe('Extended.');
    expect(await secondsLeft()).toBeGreaterThan(before + 600);

    // The link the frame used is single use: a fresh browser (no session) gets a clear page, not a login.
    const used = await page.locator('#shop').getAttribute('src');
    expect(used).toMatch(/\/admin-dev\/dmx-login\.php\?token=/);
    const other = await browser.newContext();
    const reuse = await other.newPage();
    const answer = await reuse.goto(new URL(used!, page.url()).toString());
    expect(answer?.status()).toBe(410);
    expect(await reuse.locator('#login-link-error').textContent()).toContain('already been used');
    // A foreign demo's bar cannot be used without its session.
    const bare = await reuse.goto(new URL('/__dmx/', page.url()).toString());
    expect(bare?.status()).toBe(401);
    await other.close();

    await page.click('#end');
    await page.waitForURL(/\/__dmx\/ended$/);
    expect(await page.locator('h1').textContent()).toBe('This demo has ended');
    expect(await page.locator('#start-new').getAttribute('href')).toBe(`${api.deps.config.api.publicUrl}/try/standin`);
    await shot(page, '3-ended');
    // Once torn down, the shop's own URL says the same instead of an empty error.
    await expect.poll(async () => (await page.goto(new URL('/', page.url()).toString()))?.status(), { timeout: 30_000 }).toBe(404);
    expect(await page.locator('h1').textContent()).toBe('This demo has ended');
    await context.close();
  });

  it('when time runs out the bar shows the ended page by itself', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await launch(page);
    await page.waitForURL(/\/__dmx\/ended$/, { timeout: 90_000 });
    expect(await page.locator('h1').textContent()).toBe('This demo has ended');
    await context.close();
  });
});
