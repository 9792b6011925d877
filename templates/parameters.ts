/**
 * PrestaShop keeps DB settings and install-time secrets in app/config/parameters.php and compiles
 * them into var/cache/prod. A restored copy gets its own values, every other key kept, then the
 * compiled caches are removed so the next request rebuilds them. Two ways:
 * - from the host, without a process in the container: the file as PHP wrote it
 *   (`<?php return <var_export>;`) is rewritten to merge the new values over that same expression
 *   (`parametersWithValues`);
 * - ONE `podman exec` where the file has another shape: PHP merges the values (JSON on stdin).
 * Works the same on the stand-in and on prestashop-flashlight images (both have php-cli).
 */
export interface ShopParameters {
  database_host: string;
  database_port: string;
  database_name: string;
  database_user: string;
  database_password: string;
  database_prefix: string;
  cookie_key: string;
  cookie_iv: string;
  new_cookie_key: string;
  secret: string;
  /** Key of the one-time login links (the shop's dmx-login endpoint verifies them with it). */
  dmx_login_key: string;
}

const MERGE_PHP = [
  '$f = $argv[1];',
  '$p = is_file($f) ? require $f : ["parameters" => []];',
  '$n = json_decode(stream_get_contents(STDIN), true, 4, JSON_THROW_ON_ERROR);',
  '$p["parameters"] = array_merge($p["parameters"] ?? [], $n);',
  '$tmp = $f . ".dmx-tmp";',
  'file_put_contents($tmp, "<?php return " . var_export($p, true) . ";\\n");',
  'rename($tmp, $f);',
].join(' ');

/** The argv of the exec that rewrites parameters.php and clears the given cache folders. */
export function rewriteParametersCommand(appRoot: string, parametersFile: string, cacheDirs: string[]): string[] {
  const safe = /^[A-Za-z0-9_./-]+$/;
  for (const p of [appRoot, parametersFile, ...cacheDirs]) {
    if (!safe.test(p) || p.includes('..')) throw new TypeError(`unsafe path in template spec: ${p}`);
  }
  const file = `${appRoot}/${parametersFile}`;
  // `find -mindepth 1 -delete` empties a folder without removing it (php-fpm keeps its cwd).
  const clear = cacheDirs.map((d) => `if [ -d '${appRoot}/${d}' ]; then find '${appRoot}/${d}' -mindepth 1 -delete; fi`).join(' && ');
  const script = `php -r '${MERGE_PHP}' '${file}' && ${clear || 'true'}`;
  return ['sh', '-c', script];
}

/** A PHP single-quoted string literal (only `\\` and `'` need escaping there). */
const phpString = (v: string) => `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

/**
 * parameters.php with `values` merged over its `parameters`, the way MERGE_PHP merges them; undefined
 * when the file is not the plain `<?php return <expression>;` that var_export writes (the exec path
 * handles anything else). The original expression is kept verbatim, so nothing else changes.
 */
export function parametersWithValues(original: string, values: ShopParameters): string | undefined {
  const m = /^<\?php\s+return\s+(array\s*\([\s\S]*\)|\[[\s\S]*\])\s*;\s*$/.exec(original);
  if (!m) return undefined;
  const merged = Object.entries(values).map(([k, v]) => `${phpString(k)} => ${phpString(v)}`).join(', ');
  return `<?php $p = ${m[1]};\n$p['parameters'] = array_merge($p['parameters'] ?? [], [${merged}]);\nreturn $p;\n`;
}
