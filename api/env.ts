/** Per-request variables the middlewares set for the handlers. */
export type Caller =
  | { kind: 'operator' }
  | { kind: 'key'; keyIndex: number }
  | { kind: 'anonymous' }
  /** Holds the access token of this one demo (demo-scoped endpoints only). */
  | { kind: 'demo'; demoId: string };

export type ApiEnv = { Variables: { caller: Caller; clientIp: string; requestId: string } };
