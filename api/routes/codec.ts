/**
 * The payload codec endpoint (Temporal's remote codec protocol): `temporal --codec-endpoint
 * http://127.0.0.1:<api>/codec --codec-auth "Bearer <operator token>"` and the Web UI's Data Encoder
 * decode the encrypted payloads (lib/payload-codec.ts) through it. Operators only: the operator
 * token as a bearer token, or, for the Web UI (which cannot send a header of ours), inside the
 * endpoint path `/codec/t/<operator token>` — the access log records the route pattern, not the path.
 */
import { createRoute, z } from '@hono/zod-openapi';
import type { Payload } from '@temporalio/common';
import type { MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { cors } from 'hono/cors';
import { safeEqual } from '../../lib/secrets';
import { ApiError, sendError } from '../errors';
import { errorResponses, type ApiApp, type ApiEnv, type RouteContext } from './common';

const CODEC_BODY_LIMIT = 4 * 1024 * 1024;
const base64 = z.string().max(CODEC_BODY_LIMIT).regex(/^[A-Za-z0-9+/_-]*={0,2}$/, 'base64');
const Payloads = z.object({
  payloads: z.array(z.object({ metadata: z.record(z.string().max(256), base64).optional(), data: base64.optional() })).max(10_000),
}).openapi('Payloads', { description: "Temporal's JSON form of Payloads: metadata values and data in base64" });

const fromJson = (p: z.infer<typeof Payloads>['payloads'][number]): Payload => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
  data: Buffer.from(p.data ?? '', 'base64'),
});
const toJson = (p: Payload) => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
  data: Buffer.from(p.data ?? new Uint8Array()).toString('base64'),
});

export function registerCodecRoutes(app: ApiApp, ctx: RouteContext): void {
  const { deps } = ctx;
  const ui = deps.config.temporal.uiUrl;
  app.use('/codec/*', cors({
    origin: [ui, ui.replace('//localhost:', '//127.0.0.1:')],
    allowMethods: ['POST', 'OPTIONS'],
    allowHeaders: ['content-type', 'authorization', 'x-namespace'],
    maxAge: 600,
  }));
  app.use('/codec/*', bodyLimit({ maxSize: CODEC_BODY_LIMIT, onError: (c) => sendError(c, new ApiError(413, 'payload_too_large', `codec request exceeds ${CODEC_BODY_LIMIT} bytes`)) }));

  const pathToken: MiddlewareHandler<ApiEnv> = async (c, next) => {
    const token = deps.config.api.operatorToken;
    if (!token || !safeEqual(c.req.param('token') ?? '', token)) throw new ApiError(401, 'unauthorized', 'operator token required in the codec endpoint path');
    c.set('caller', { kind: 'operator' });
    await next();
  };

  for (const op of ['encode', 'decode'] as const) {
    for (const variant of ['bearer', 'path'] as const) {
      const route = createRoute({
        method: 'post',
        path: variant === 'bearer' ? `/codec/${op}` : `/codec/t/{token}/${op}`,
        summary: `${op === 'encode' ? 'Encrypts' : 'Decrypts'} Temporal payloads (remote codec)${variant === 'path' ? ', token in the path (Web UI)' : ''}`,
        tags: ['operators'],
        security: variant === 'bearer' ? [{ bearer: [] }] : [],
        middleware: [variant === 'bearer' ? ctx.operatorGuard : pathToken] as const,
        request: {
          ...(variant === 'path' ? { params: z.object({ token: z.string().min(16).max(200) }) } : {}),
          body: { required: true, content: { 'application/json': { schema: Payloads } } },
        },
        responses: {
          200: { description: 'the payloads, encoded or decoded', content: { 'application/json': { schema: Payloads } } },
          ...errorResponses(400, 401, 403, 413),
        },
      });
      app.openapi(route, async (c) => {
        const { payloads } = c.req.valid('json') as z.infer<typeof Payloads>;
        let out: Payload[];
        try {
          out = await (op === 'encode' ? deps.codec.encode(payloads.map(fromJson)) : deps.codec.decode(payloads.map(fromJson)));
        } catch (err) {
          throw new ApiError(400, 'bad_request', `cannot ${op} these payloads: ${(err as Error).message}`);
        }
        return c.json({ payloads: out.map(toJson) }, 200);
      });
    }
  }
}
