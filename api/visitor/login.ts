/** The one-time back-office login link of a ready demo, landing where its template says (lib/login-links.ts). */
import type { DemoState } from '../../contract';
import { loginUrl, mintLoginToken } from '../../lib/login-links';
import type { SecretDeriver } from '../../lib/secrets';
import { landingFor, type Landing } from './landing';

export interface LoginLinks {
  /** A fresh single-use link for a ready demo (undefined when it has no back office URL yet). */
  forDemo(state: DemoState): { loginUrl: string; expiresAt: string } | undefined;
  landing(template: string): Landing;
}

export function createLoginLinks(secrets: SecretDeriver, landings: Record<string, Landing>): LoginLinks {
  return {
    forDemo(state) {
      if (state.status !== 'ready' || !state.adminUrl) return undefined;
      const landing = landingFor(landings, state.template);
      const { token, expiresAt } = mintLoginToken(secrets, state.demoId);
      return { loginUrl: loginUrl(state.adminUrl, token, landing.area === 'backoffice' ? landing.to : '/'), expiresAt };
    },
    landing: (template) => landingFor(landings, template),
  };
}
