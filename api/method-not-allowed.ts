/**
 * Which methods a path takes, read from the app's own routing table, so a request with a method
 * that a declared path does not take is answered 405 with `Allow` (RFC 9110 §15.5.6) and only a
 * path that nothing declares is 404. Built from the registered routes, never from a second list
 * that could drift from them.
 */

interface RegisteredRoute {
  method: string;
  path: string;
}

/** Hono's path syntax (`/v1/demos/:id`, `:name{regex}`, `*`) as an anchored regular expression. */
function pathMatcher(path: string): RegExp {
  const source = path
    .split('/')
    .map((segment) => {
      if (segment === '*') return '.*';
      const param = /^:[A-Za-z0-9_]+(?:\{(.+)\})?(\?)?$/.exec(segment);
      if (param) return `(?:${param[1] ?? '[^/]+'})${param[2] ?? ''}`;
      return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    })
    .join('/');
  return new RegExp(`^${source}$`);
}

/**
 * A lookup from a request path to the methods its routes take (empty: no route has that path).
 * Middleware (method ALL) declares no method. HEAD is listed where GET is: Hono answers HEAD with
 * the GET route.
 */
export function allowedMethodsOf(routes: readonly RegisteredRoute[]): (path: string) => string[] {
  const byPath = new Map<string, Set<string>>();
  for (const r of routes) {
    if (r.method === 'ALL') continue;
    const methods = byPath.get(r.path) ?? new Set<string>();
    methods.add(r.method.toUpperCase());
    if (r.method.toUpperCase() === 'GET') methods.add('HEAD');
    byPath.set(r.path, methods);
  }
  const matchers = [...byPath].map(([path, methods]) => ({ matches: pathMatcher(path), methods }));
  return (path) => {
    const allowed = new Set<string>();
    for (const m of matchers) if (m.matches.test(path)) for (const method of m.methods) allowed.add(method);
    return [...allowed].sort();
  };
}
