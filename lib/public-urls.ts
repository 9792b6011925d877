/**
 * The addresses browsers use, all on the demos' site (`*.<demo domain>`): each demo's own host and
 * the launcher's. The launcher lives there too (`try.<demo domain>`, routed by Caddy to the API): the
 * visitor's one navigation from the launcher into the demo then stays on one site, so the browser
 * keeps the launcher's renderer process instead of starting one for a new site (about 60 ms of the
 * click's path on a 2-core host, measured with Chromium).
 */
import type { Config } from './config';

/** The launcher's host label. Not a demo id (those are 16 characters), so never a demo's host. */
export const LAUNCHER_LABEL = 'try';

/** `<label>.<demo domain>`, with the port unless it is the scheme's default. */
function publicHost(cfg: Config, label: string): string {
  const p = cfg.demos.publicPort;
  const dflt = cfg.demos.scheme === 'https' ? 443 : 80;
  return p === dflt ? `${label}.${cfg.demos.domain}` : `${label}.${cfg.demos.domain}:${p}`;
}

/** The public host of a demo: what the shop must consider its domain. */
export const demoHostFor = (cfg: Config, demoId: string): string => publicHost(cfg, demoId);

/** The launcher's origin (the embed snippet opens it; the ended page links to it). */
export const launcherOrigin = (cfg: Config): string => `${cfg.demos.scheme}://${publicHost(cfg, LAUNCHER_LABEL)}`;

/** The launcher page of a template. */
export const launcherUrl = (cfg: Config, template: string): string => `${launcherOrigin(cfg)}/try/${template}`;
