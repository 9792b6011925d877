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
import { request } from 'undici';
import { repoRoot } from '../../lib/config';
import { LAUNCHER_LABEL, launcherUrl } from '../../lib/public-urls';
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
  // Where Caddy sends the launcher's host and each demo host's /__dmx/.
  api = await serveApi(apiTestConfig({ DMX_TASK_QUEUE_PREFIX: PREFIX, DMX_DEFAULT_TTL_SECONDS: '25', DMX_MAX_LIFETIME_SECONDS: '3600', DMX_MAX_TTL_SECONDS: '120' }), true);
  await h.deps.caddy.ensureDemoRouter((await import('../../adapters/caddy')).demoRouterOptions(api.deps.config));
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
  // The launcher as browsers get it: on the demos' site, through Caddy.
  await page.goto(launcherUrl(api.deps.config, 'standin'));
  await shot(page, '1-launcher');
  const states: string[] = [];
  const status = page.locator('#status');
  const watch = setInterval(() => { void status.getAttribute('data-state').then((s) => { if (s && states.at(-1) !== s) states.push(s); }).catch(() => undefined); }, 50);
  await page.click('#start');
  await page.waitForURL(/\/__dmx\/$/, { timeout: 60_000 });
  clearInterval(watch);
  // No pool on this suite's queues: a fresh demo, whose real status the launcher shows while it provisions.
  expect(states.filter((s) => s !== 'idle')).toContain('provisioning');
  return new URL(page.url()).host.split('.')[0]!;
}

describe('the visitor journey', () => {
  it('launcher → logged in on the module page in the demo bar → countdown → extend → reset → link reuse refused → end → ended page', async () => {
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
    expect(before).toBeLessThanOrEqual(25);
    await page.click('#extend');
    await expect.poll(() => page.locator('#dmx-message').textContent()).toBe('Extended.');
    expect(await secondsLeft()).toBeGreaterThan(before + 600);

    // Reset: data changed before is gone, the URL is the same, the visitor lands logged in again.
    const carts = () => page.evaluate(async () => ((await (await fetch('/admin-dev/', { headers: { accept: 'application/json' } })).json()) as { carts: number }).carts);
    const cartsBefore = await carts();
    const added = await page.evaluate(async () => (await fetch('/cart', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'id_product=1&qty=2' })).status);
    expect([200, 302]).toContain(added);
    expect(await carts()).toBe(cartsBefore + 1);
    const linkBeforeReset = await page.locator('#shop').getAttribute('src');
    const hostBefore = new URL(page.url()).host;
    await page.click('#reset');
    await expect.poll(() => page.locator('#dmx-message').textContent(), { timeout: 60_000 }).toBe('Reset.');
    await expect.poll(() => page.locator('#shop').getAttribute('src'), { timeout: 15_000 }).not.toBe(linkBeforeReset);
    await expect.poll(() => shop.locator('#module-title').textContent(), { timeout: 15_000 }).toBe('Configure dmxdemo');
    expect(new URL(page.url()).host).toBe(hostBefore);
    // Polled: the frame may still show the old container's page while its new login runs, and the
    // back office answers only once that login is done.
    await expect.poll(carts, { timeout: 15_000 }).toBe(cartsBefore);
    await shot(page, '2b-after-reset');

    // The link the frame used is single use: a fresh browser (no session) gets a clear page, not a login.
    const used = await page.locator('#shop').getAttribute('src');
    expect(used).toMatch(/\/admin-dev\/dmx-login\.php\?token=/);
    const other = await browser.newContext();
    const reuse = await other.newPage();
    const answer = await reuse.goto(new URL(used!, page.url()).toString());
    expect(answer?.status()).toBe(410);
    expect(await reuse.locator('#login-link-error').textContent()).toContain('already been used');
    // A foreign demo's bar cannot be used without its session.
    const bare = await reuse.goto(new URL('/__dmx/state', page.url()).toString());
    expect(bare?.status()).toBe(401);
    await other.close();

    await page.click('#end');
    await page.waitForURL(/\/__dmx\/ended$/);
    expect(await page.locator('h1').textContent()).toBe('This demo has ended');
    expect(await page.locator('#start-new').getAttribute('href')).toBe(launcherUrl(api.deps.config, 'standin'));
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

describe('the launcher on the demos\' site', () => {
  const viaCaddy = async (method: 'GET' | 'POST' | 'DELETE', path: string, headers: Record<string, string> = {}, body?: string) => {
    const c = api.deps.config;
    const res = await request(`http://127.0.0.1:${c.caddy.httpPort}${path}`, { method, headers: { host: `${LAUNCHER_LABEL}.${c.demos.domain}`, ...headers }, body, reset: true });
    return { status: res.statusCode, text: await res.body.text() };
  };

  // That Caddy tells the API the visitor's address: caddy-valkey.test.ts; that the API takes it from there alone: hardening.test.ts.
  it('reaches the API through Caddy: the claim, its status, its release; nothing else of the API is there', async () => {
    const created = await viaCaddy('POST', '/v1/demos', { 'content-type': 'application/json' }, JSON.stringify({ template: 'standin', wait: false, ttlSeconds: 60 }));
    expect(created.status, created.text).toBe(202);
    const { id, accessToken } = JSON.parse(created.text) as { id: string; accessToken: string };
    try {
      const polled = await viaCaddy('GET', `/v1/demos/${id}`, { authorization: `Bearer ${accessToken}` });
      expect(polled.status, polled.text).toBe(200);
    } finally {
      expect((await viaCaddy('DELETE', `/v1/demos/${id}`, { authorization: `Bearer ${accessToken}` })).status).toBe(202);
    }
    for (const path of ['/v1/pools', '/metrics', '/openapi.json', '/__dmx/state']) expect((await viaCaddy('GET', path)).status, path).toBe(404);
    expect((await viaCaddy('GET', '/embed.js')).text).toContain(JSON.stringify(launcherUrl(api.deps.config, 'x').replace(/\/try\/x$/, '')));
  });
});

describe('the launcher\'s hand-over', () => {
  it('starts the frame on the claim\'s one-time login link at once; a frame naming another origin is ignored', async () => {
    const { call } = await import('../api/helpers');
    const created = await call(api.base, 'POST', '/v1/demos', { json: { template: 'standin', ttlSeconds: 60 } });
    expect(created.status, created.text).toBe(201);
    const login = new URL(created.body.loginUrl as string);
    const bar = (hand: Record<string, string>) => new URL('/__dmx/#' + new URLSearchParams(hand).toString(), created.body.url as string).toString();
    const context = await browser.newContext();

    const hostile = await context.newPage();
    await hostile.goto(bar({ t: created.body.accessToken as string, f: '//example.com/x' }));
    // Ignored: the frame goes where the session call says (a fresh login link on the demo's own host).
    await expect.poll(() => hostile.locator('#shop').getAttribute('src'), { timeout: 15_000 }).toMatch(/^\/admin-dev\/dmx-login\.php\?token=/);
    expect(new URL(hostile.url()).hash).toBe('');

    const page = await context.newPage();
    await page.goto(bar({ t: created.body.accessToken as string, f: login.pathname + login.search }));
    expect(await page.locator('#shop').getAttribute('src')).toBe(login.pathname + login.search);
    await expect.poll(() => page.frameLocator('#shop').locator('#module-title').textContent(), { timeout: 15_000 }).toBe('Configure dmxdemo');
    await expect.poll(() => page.locator('#time-left').getAttribute('data-seconds')).toMatch(/^[1-9]\d*$/);
    await context.close();
    await call(api.base, 'DELETE', `/v1/demos/${created.body.id}`, { headers: { authorization: `Bearer ${created.body.accessToken}` } });
  });
});

describe('reset and login links through the API', () => {
  it('reset keeps URL and expiry, brings back the template\'s data, changes the password; a retried reset is answered, not redone', async () => {
    const { call } = await import('../api/helpers');
    const created = await call(api.base, 'POST', '/v1/demos', { json: { template: 'standin', ttlSeconds: 60 } });
    expect(created.status, created.text).toBe(201);
    const auth = { authorization: `Bearer ${created.body.accessToken}` };
    expect(created.body.loginUrl).toMatch(/\/admin-dev\/dmx-login\.php\?token=\d{10}\.[A-Za-z0-9_-]+\.[0-9a-f]{64}&to=/);
    const link = await call(api.base, 'POST', `/v1/demos/${created.body.id}/login-link`, { headers: auth });
    expect(link.status).toBe(200);
    expect(link.body.loginUrl).not.toBe(created.body.loginUrl);
    // Another demo's token: the same answer as an unknown demo.
    const other = await call(api.base, 'POST', `/v1/demos/${created.body.id}/login-link`, { headers: { authorization: 'Bearer dmxt_' + 'x'.repeat(43) } });
    expect(other.status).toBe(404);

    const headers = { ...auth, 'idempotency-key': 'reset-key-0123456789abcdef' };
    const first = await call(api.base, 'POST', `/v1/demos/${created.body.id}/reset`, { headers });
    expect(first.status, first.text).toBe(200);
    expect(first.body).toMatchObject({ id: created.body.id, status: 'ready', url: created.body.url, expiresAt: created.body.expiresAt });
    expect(first.body.credentials.password).not.toBe(created.body.credentials.password);
    const again = await call(api.base, 'POST', `/v1/demos/${created.body.id}/reset`, { headers });
    expect(again.status).toBe(200);
    expect(again.body.readyAt).toBe(first.body.readyAt);
    expect(again.body.credentials.password).toBe(first.body.credentials.password);
    await call(api.base, 'DELETE', `/v1/demos/${created.body.id}`, { headers: auth });
  });
});
