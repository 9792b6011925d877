import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { allowedMethodsOf } from '../../api/method-not-allowed';

describe('allowedMethodsOf', () => {
  const app = new Hono();
  app.use('*', async (_c, next) => next()); // middleware declares no method
  app.get('/v1/demos', (c) => c.text('list'));
  app.post('/v1/demos', (c) => c.text('create'));
  app.delete('/v1/demos/:id', (c) => c.text('delete'));
  app.post('/v1/demos/:id/extend', (c) => c.text('extend'));
  app.get('/try/:template{[a-z][a-z0-9-]*}', (c) => c.text('try'));
  const allowed = allowedMethodsOf(app.routes);

  it('lists the methods of every route whose path matches, HEAD beside GET', () => {
    expect(allowed('/v1/demos')).toEqual(['GET', 'HEAD', 'POST']);
    expect(allowed('/v1/demos/abc')).toEqual(['DELETE']);
    expect(allowed('/v1/demos/abc/extend')).toEqual(['POST']);
    expect(allowed('/try/standin')).toEqual(['GET', 'HEAD']);
  });

  it('matches nothing for paths no route declares (a 404, not a 405)', () => {
    for (const path of ['/v1/demos/', '/v1/demos/a/b', '/v1/demos//extend', '/try/Bad', '/v1', '/', '/v1/demos.json']) {
      expect(allowed(path), path).toEqual([]);
    }
  });

  it('agrees with Hono: HEAD of a GET route is answered, not a miss', async () => {
    expect((await app.request('/v1/demos', { method: 'HEAD' })).status).toBe(200);
  });
});
