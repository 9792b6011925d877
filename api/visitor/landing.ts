/**
 * Where a visitor lands in a template's demo: the storefront, or the back office on a given page
 * (e.g. the vendor's module configuration). From DMX_LANDINGS, e.g.
 * `standin=backoffice:/module/dmxdemo,shop=storefront:/` (`to` is what the shop's dmx-login endpoint
 * takes: an admin-relative path on the stand-in, a controller name such as AdminModules on PrestaShop).
 */
import { LANDING_PATH_PATTERN } from '../../lib/login-links';

export type Landing = { area: 'storefront'; path: string } | { area: 'backoffice'; to: string };

const DEFAULT: Landing = { area: 'backoffice', to: '/' };

export function parseLandings(spec: string): Record<string, Landing> {
  const out: Record<string, Landing> = {};
  for (const entry of spec.split(',').map((e) => e.trim()).filter(Boolean)) {
    const m = /^([a-z][a-z0-9-]{0,30})=(storefront|backoffice):(\S{1,200})$/.exec(entry);
    if (!m) throw new TypeError(`DMX_LANDINGS: "${entry.slice(0, 80)}" is not template=storefront:/path or template=backoffice:<page>`);
    const [, template, area, target] = m as unknown as [string, string, 'storefront' | 'backoffice', string];
    if (area === 'storefront' && !LANDING_PATH_PATTERN.test(target)) throw new TypeError(`DMX_LANDINGS: storefront path of ${template} must look like /a/b`);
    if (area === 'backoffice' && !/^[A-Za-z0-9/_-]{1,200}$/.test(target)) throw new TypeError(`DMX_LANDINGS: back-office page of ${template} must be a path or a controller name`);
    out[template] = area === 'storefront' ? { area, path: target } : { area, to: target };
  }
  return out;
}

export function landingFor(landings: Record<string, Landing>, template: string): Landing {
  return landings[template] ?? DEFAULT;
}
