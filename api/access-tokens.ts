/**
 * Per-demo access tokens: the bearer secret `POST /v1/demos` hands to whoever created a demo, and
 * that `GET`, `extend` and `DELETE` of that demo require. Stateless: HMAC of the master key
 * (`$DMX_STATE_DIR/secret.key`) and the demo id (lib/secrets.ts, purpose `access-token`), so any
 * API replica sharing the key checks any token without a lookup, and nothing is stored. A demo id
 * is public (it is the subdomain); its token is not derivable from it without the master key.
 */
import { isDemoId } from '../contract';
import { safeEqual, type SecretDeriver } from '../lib/secrets';

/** `dmxt_` + 43 characters of [A-Za-z0-9] (~250 bits): recognisable by secret scanners, fits a header. */
export const ACCESS_TOKEN_PREFIX = 'dmxt_';
export const ACCESS_TOKEN_PATTERN = /^dmxt_[A-Za-z0-9]{43}$/;

export interface AccessTokens {
  /** The demo's token (the same every time: retried requests get the same one). */
  issue(demoId: string): string;
  /** Whether `token` is this demo's token; constant time, false for anything malformed. */
  verify(demoId: string, token: string): boolean;
}

export function createAccessTokens(secrets: SecretDeriver): AccessTokens {
  const issue = (demoId: string) => ACCESS_TOKEN_PREFIX + secrets.derive('access-token', demoId, 43);
  return {
    issue,
    verify(demoId, token) {
      if (!isDemoId(demoId)) return false;
      // Both sides are hashed to a fixed length first: the time does not depend on where they differ.
      return safeEqual(token, issue(demoId));
    },
  };
}
