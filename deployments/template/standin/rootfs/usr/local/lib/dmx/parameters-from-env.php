<?php
// Writes app/config/parameters.php from MYSQL_* / DB_PREFIX environment variables (fresh random
// secrets unless COOKIE_KEY/COOKIE_IV/NEW_COOKIE_KEY/SECRET are given) and clears var/cache/prod.
$app = '/var/www/html';
$env = fn (string $k, string $d = '') => (getenv($k) !== false && getenv($k) !== '') ? getenv($k) : $d;
$rand = fn (int $n) => bin2hex(random_bytes($n));
$p = ['parameters' => [
    'database_host' => $env('MYSQL_HOST', '127.0.0.1'),
    'database_port' => $env('MYSQL_PORT', ''),
    'database_name' => $env('MYSQL_DATABASE', 'prestashop'),
    'database_user' => $env('MYSQL_USER', 'prestashop'),
    'database_password' => $env('MYSQL_PASSWORD', ''),
    'database_prefix' => $env('DB_PREFIX', 'ps_'),
    'database_engine' => 'InnoDB',
    'secret' => $env('SECRET', $rand(32)),
    'ps_caching' => 'CacheMemcache',
    'ps_cache_enable' => false,
    'ps_creation_date' => date('Y-m-d'),
    'locale' => 'en-US',
    'cookie_key' => $env('COOKIE_KEY', $rand(32)),
    'cookie_iv' => $env('COOKIE_IV', $rand(8)),
    'new_cookie_key' => $env('NEW_COOKIE_KEY', 'def00000' . $rand(32)),
]];
$tmp = "$app/app/config/.parameters.php.tmp";
file_put_contents($tmp, '<?php return ' . var_export($p, true) . ";\n");
rename($tmp, "$app/app/config/parameters.php");
foreach (glob("$app/var/cache/prod/{,.}*[!.]*", GLOB_BRACE) ?: [] as $f) { if (is_file($f)) unlink($f); }
