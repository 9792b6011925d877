/** Per-request variables the middlewares set for the handlers. */
export type Caller = { kind: 'operator' } | { kind: 'key'; keyIndex: number } | { kind: 'anonymous' };

export type ApiEnv = { Variables: { caller: Caller; clientIp: string; requestId: string } };
