/**
 * PrestaShop keeps DB settings and install-time secrets in app/config/parameters.php and compiles
 * them into var/cache/prod. A restored copy gets its own values by ONE `podman exec`: PHP merges
 * the new values (JSON on stdin) into the existing file, keeping every other key, then the
 * compiled caches are removed so the next request rebuilds them. Works the same on the stand-in
 * and on prestashop-flashlight images (both have php-cli).
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
