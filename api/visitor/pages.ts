/**
 * The visitor's pages: the launcher (`/try/<template>`, on the API's origin), and on each demo's own
 * host under `/__dmx/` (routed to the API by Caddy): the entry that turns the launcher's hand-over
 * into a session cookie, the demo bar framing the shop, and the "ended" page. Plain HTML with a little
 * inline script, served with a CSP that allows only that script (by nonce) and same-origin requests.
 */
const esc = (s: string) => s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
/** JSON inside <script type="application/json">: `<` escaped so no value can close the element. */
const jsonData = (v: unknown) => JSON.stringify(v).replace(/</g, '\\u003c');

const STYLE = `
  body { font: 16px/1.5 system-ui, sans-serif; margin: 0; color: #1f2937; background: #f3f4f6; }
  main { max-width: 32rem; margin: 12vh auto; background: #fff; padding: 2rem; border-radius: .75rem; box-shadow: 0 1px 4px #0002; }
  button { font: inherit; padding: .6rem 1.2rem; border: 0; border-radius: .5rem; background: #df0067; color: #fff; cursor: pointer; }
  button[disabled] { opacity: .5; cursor: default; }
  .muted { color: #6b7280; font-size: .9rem; }`;

export function page(o: { title: string; nonce: string; body: string; script?: string; data?: unknown; style?: string }): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(o.title)}</title><style nonce="${o.nonce}">${STYLE}${o.style ?? ''}</style></head>
<body>${o.body}
${o.data === undefined ? '' : `<script type="application/json" id="dmx-data">${jsonData(o.data)}</script>`}
${o.script ? `<script nonce="${o.nonce}">${o.script}</script>` : ''}
</body></html>
`;
}

export function contentSecurityPolicy(nonce: string, frames: 'self' | 'none'): string {
  return [`default-src 'none'`, `script-src 'nonce-${nonce}'`, `style-src 'nonce-${nonce}'`, `connect-src 'self'`,
    `frame-src ${frames === 'self' ? "'self'" : "'none'"}`, `img-src 'self' data:`, `base-uri 'none'`, `form-action 'self'`,
    `frame-ancestors 'none'`].join('; ');
}

/** The launcher: one button, then a real status (claim → provisioning → ready), retries on 503/429. */
export function launcherPage(o: { nonce: string; template: string; minutes: number; storefrontPath?: string }): string {
  return page({
    title: `Try the ${o.template} demo`,
    nonce: o.nonce,
    data: { template: o.template, storefrontPath: o.storefrontPath ?? null },
    body: `<main><h1>Try the demo</h1>
<p>Your own ${esc(o.template)} shop with its back office, ready in a moment, for ${o.minutes} minute${o.minutes === 1 ? '' : 's'}.</p>
<p><button id="start">Start the demo</button></p>
<p id="status" role="status" aria-live="polite" data-state="idle"></p></main>`,
    script: LAUNCHER_SCRIPT,
  });
}

const LAUNCHER_SCRIPT = `
const { template, storefrontPath } = JSON.parse(document.getElementById('dmx-data').textContent);
const button = document.getElementById('start');
const status = document.getElementById('status');
const say = (state, text) => { status.dataset.state = state; status.textContent = text; };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function countdown(state, seconds, text) {
  for (let s = seconds; s > 0; s--) { say(state, text.replace('N', s)); await sleep(1000); }
}
async function start() {
  button.disabled = true;
  for (;;) {
    say('claiming', 'Getting your demo…');
    let res, body;
    try {
      res = await fetch('/v1/demos', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ template, wait: false }) });
      body = await res.json().catch(() => ({}));
    } catch (e) { await countdown('unreachable', 5, 'The demo service cannot be reached — retrying in N s'); continue; }
    const retry = Math.min(60, Math.max(1, Number(res.headers.get('retry-after')) || 5));
    if (res.status === 201) return enter(body);
    if (res.status === 202) return follow(body);
    if (res.status === 503) { await countdown('no-capacity', retry, 'No demo is free right now — retrying in N s'); continue; }
    if (res.status === 429) { await countdown('rate-limited', retry, 'Too many demos from your network right now — retrying in N s'); continue; }
    say('failed', 'The demo could not be started: ' + ((body.error && body.error.message) || res.status));
    button.disabled = false;
    return;
  }
}
async function follow(created) {
  const auth = { authorization: 'Bearer ' + created.accessToken };
  for (;;) {
    const res = await fetch('/v1/demos/' + created.id, { headers: auth });
    const demo = await res.json().catch(() => ({}));
    if (res.ok && demo.status === 'ready') return enter({ ...demo, accessToken: created.accessToken });
    if (!res.ok || demo.status === 'failed' || demo.status === 'expired' || demo.status === 'released') {
      say('failed', 'The demo could not be prepared' + (demo.error ? ': ' + demo.error : '') + '.');
      button.disabled = false;
      return;
    }
    say('provisioning', 'Preparing your shop (' + demo.status + ')…');
    await new Promise((r) => setTimeout(r, 500));
  }
}
function enter(demo) {
  say('ready', 'Your demo is ready — opening it…');
  // The hand-over travels in the fragment: browsers never send it to a server, a log or a Referer.
  // t: the access token (the bar turns it into its cookie); f: the frame's first page — the storefront
  // landing, or the one-time login link the claim answered — so the bar starts the shop at once
  // instead of after its session call (one round trip off the click's path).
  const hand = new URLSearchParams({ t: demo.accessToken });
  const frame = storefrontPath || (demo.loginUrl ? new URL(demo.loginUrl).pathname + new URL(demo.loginUrl).search : '');
  if (frame) hand.set('f', frame);
  location.assign(new URL('/__dmx/#' + hand.toString(), demo.url).toString());
}
button.addEventListener('click', start);
if (new URLSearchParams(location.search).has('autostart')) start();
`;

/**
 * The demo bar: time left, extend, reset, end; the shop below it in a same-origin frame. The page
 * itself holds nothing secret: its script turns the launcher's hand-over (the access token in the
 * URL fragment) into the session cookie with one call that also answers the demo's state; the frame
 * starts on the page the hand-over names (the claim's one-time login link or the storefront landing)
 * while that call runs, or on the page the call answers when the bar is opened without a hand-over.
 */
export function barPage(o: { nonce: string; extendSeconds: number }): string {
  return page({
    title: 'Your demo',
    nonce: o.nonce,
    data: { extendSeconds: o.extendSeconds },
    style: `
  body { display: flex; flex-direction: column; height: 100vh; background: #fff; }
  #dmx-bar { display: flex; gap: 1rem; align-items: center; padding: .4rem 1rem; background: #111827; color: #fff; font-size: .9rem; }
  #dmx-bar button { padding: .25rem .8rem; font-size: .85rem; }
  #dmx-bar .spacer { flex: 1; }
  #dmx-message { color: #fcd34d; }
  iframe { flex: 1; border: 0; width: 100%; }`,
    body: `<div id="dmx-bar" role="banner"><strong>Demo</strong>
<span>Time left: <span id="time-left">–</span></span><span id="dmx-message" role="status"></span><span class="spacer"></span>
<button id="extend">Extend ${Math.round(o.extendSeconds / 60)} min</button><button id="reset">Reset</button><button id="end">End demo</button></div>
<iframe id="shop" title="Your demo shop"></iframe>`,
    script: BAR_SCRIPT,
  });
}

const BAR_SCRIPT = `
const { extendSeconds } = JSON.parse(document.getElementById('dmx-data').textContent);
const left = document.getElementById('time-left');
const message = document.getElementById('dmx-message');
const shop = document.getElementById('shop');
const headers = { 'content-type': 'application/json', 'x-dmx-bar': '1' };
let expiresAt;
/** Opens (or renews) the session; login: land through a fresh one-time login link. */
async function session(login) {
  const hand = new URLSearchParams(location.hash.slice(1));
  const token = hand.get('t');
  if (location.hash) history.replaceState(null, '', location.pathname);
  // The launcher's first frame page: only a path on this host (never another origin) starts at once.
  const f = hand.get('f') || '';
  const frame = token && f[0] === '/' && new URL(f, location.href).origin === location.origin ? f : '';
  if (frame) shop.src = frame;
  const r = await fetch('/__dmx/session', { method: 'POST', headers, body: JSON.stringify(token ? { token, login: !frame } : { login }) });
  const s = await r.json().catch(() => ({}));
  if (r.status === 401 || r.status === 404) { message.textContent = 'Open this demo from its launcher.'; return; }
  if (!r.ok || s.ended) { location.replace('/__dmx/ended'); return; }
  expiresAt = Date.parse(s.expiresAt);
  if (!frame) shop.src = s.frameSrc;
  tick();
}
const fmt = (ms) => { const s = Math.max(0, Math.round(ms / 1000)); return Math.floor(s / 60) + ':' + String(s % 60).padStart(2, '0'); };
function tick() {
  if (expiresAt === undefined) return;
  const ms = expiresAt - Date.now();
  left.textContent = fmt(ms);
  left.dataset.seconds = String(Math.max(0, Math.round(ms / 1000)));
  if (ms <= 0) checkEnded();
}
async function checkEnded() {
  const r = await fetch('/__dmx/state', { headers });
  const s = await r.json().catch(() => ({}));
  if (!r.ok || s.ended) location.replace('/__dmx/ended');
  else if (s.expiresAt) expiresAt = Date.parse(s.expiresAt);
}
async function post(path, body) {
  const r = await fetch(path, { method: 'POST', headers, body: JSON.stringify(body || {}) });
  return { ok: r.ok, body: await r.json().catch(() => ({})) };
}
document.getElementById('extend').addEventListener('click', async () => {
  const r = await post('/__dmx/extend', { seconds: extendSeconds });
  if (r.ok) { expiresAt = Date.parse(r.body.expiresAt); message.textContent = 'Extended.'; tick(); }
  else message.textContent = (r.body.error && r.body.error.message) || 'Could not extend.';
});
document.getElementById('reset').addEventListener('click', async () => {
  message.textContent = 'Resetting…';
  const r = await post('/__dmx/reset', { requestId: crypto.randomUUID() });
  if (r.ok) { message.textContent = 'Reset.'; await session(true); }
  else message.textContent = (r.body.error && r.body.error.message) || 'Could not reset.';
});
document.getElementById('end').addEventListener('click', async () => {
  await post('/__dmx/release', {});
  location.replace('/__dmx/ended');
});
session(new URLSearchParams(location.search).get('login') === '1');
setInterval(tick, 1000);
setInterval(checkEnded, 30000);
`;

export function endedPage(o: { nonce: string; launcherUrl: string }): string {
  return page({
    title: 'This demo has ended',
    nonce: o.nonce,
    body: `<main><h1>This demo has ended</h1><p>Its shop and everything done in it are gone.</p>
<p><a id="start-new" href="${esc(o.launcherUrl)}">Start a new demo</a></p></main>`,
  });
}

export function messagePage(o: { nonce: string; title: string; message: string }): string {
  return page({ title: o.title, nonce: o.nonce, body: `<main><h1>${esc(o.title)}</h1><p id="message">${esc(o.message)}</p></main>` });
}

/** The embed snippet's script: a button on the vendor's page that opens the launcher in a new tab. */
export function embedScript(launcherOrigin: string): string {
  return `(function () {
  var s = document.currentScript;
  var template = (s && s.getAttribute('data-template')) || 'standin';
  if (!/^[a-z][a-z0-9-]{0,30}$/.test(template)) return;
  var b = document.createElement('button');
  b.type = 'button';
  b.textContent = (s && s.getAttribute('data-label')) || 'Try the demo';
  b.className = 'dmx-try-demo';
  b.addEventListener('click', function () { window.open(${JSON.stringify(launcherOrigin)} + '/try/' + template + '?autostart=1', '_blank', 'noopener'); });
  s.parentNode.insertBefore(b, s.nextSibling);
})();
`;
}
