/** Per-request variables the middlewares set for the handlers. */
export type Caller =
  | { kind: 'operator' }
  | { kind: 'key'; keyIndex: number }
  | { kind: 'anonymous' }
  /** Holds the access token of this one demo (demo-scoped endpoints only). */
  | { kind: 'demo'; demoId: string };

/** cspNonce: the nonce of the inline script/style of an HTML page (api/visitor). */
export type ApiEnv = { Variables: { caller: Caller; clientIp: string; requestId: string; cspNonce?: string } };
