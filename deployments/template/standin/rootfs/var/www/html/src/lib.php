<?php
declare(strict_types=1);

const ADMIN_PATH = '/admin-dev';
const APP_ROOT = __DIR__ . '/..';

final class DbUnavailable extends RuntimeException {}

/**
 * Like Symfony's container: app/config/parameters.php is read ONCE and compiled into
 * var/cache/prod/parameters.cache.php; afterwards only the compiled copy is read. After changing
 * parameters.php, var/cache/prod must be cleared.
 */
function params(): array
{
    static $p = null;
    if ($p !== null) {
        return $p;
    }
    $compiled = APP_ROOT . '/var/cache/prod/parameters.cache.php';
    if (is_file($compiled)) {
        $c = @include $compiled;
        if (is_array($c)) {
            return $p = $c;
        }
    }
    $src = include APP_ROOT . '/app/config/parameters.php';
    if (!is_array($src) || !is_array($src['parameters'] ?? null)) {
        throw new RuntimeException('app/config/parameters.php does not return [parameters => [...]]');
    }
    $p = $src['parameters'];
    $dir = dirname($compiled);
    if (!is_dir($dir)) {
        @mkdir($dir, 0755, true);
    }
    $tmp = $dir . '/.parameters.' . bin2hex(random_bytes(6)) . '.tmp';
    file_put_contents($tmp, "<?php\n// compiled from app/config/parameters.php at " . gmdate('c')
        . "\nreturn " . var_export($p, true) . ";\n");
    rename($tmp, $compiled);
    return $p;
}

function prefix(): string
{
    $prefix = (string) (params()['database_prefix'] ?? 'ps_');
    if (!preg_match('/^[A-Za-z0-9_]*$/', $prefix)) {
        throw new RuntimeException('invalid database_prefix');
    }
    return $prefix;
}

/** Quoted table name with the configured prefix. */
function t(string $name): string
{
    return '`' . prefix() . $name . '`';
}

/** One non-persistent connection per request (a checkpoint between requests holds no DB socket). */
function db(): PDO
{
    static $pdo = null;
    if ($pdo !== null) {
        return $pdo;
    }
    $p = params();
    $host = (string) ($p['database_host'] ?? '127.0.0.1');
    $port = (string) ($p['database_port'] ?? '');
    if ($port === '' && preg_match('/^(.+):(\d+)$/', $host, $m)) {   // PrestaShop allows "host:port"
        [$host, $port] = [$m[1], $m[2]];
    }
    $dsn = sprintf('mysql:host=%s;port=%d;dbname=%s;charset=utf8mb4', $host, $port === '' ? 3306 : (int) $port,
        (string) ($p['database_name'] ?? ''));
    try {
        $pdo = new PDO($dsn, (string) ($p['database_user'] ?? ''), (string) ($p['database_password'] ?? ''), [
            PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION,
            PDO::ATTR_DEFAULT_FETCH_MODE => PDO::FETCH_ASSOC,
            PDO::ATTR_PERSISTENT => false,
            PDO::ATTR_TIMEOUT => 3,
        ]);
    } catch (PDOException $e) {
        throw new DbUnavailable($e->getMessage());
    }
    return $pdo;
}

function q(string $sql, array $args = []): PDOStatement
{
    $st = db()->prepare($sql);
    $st->execute($args);
    return $st;
}

function configuration(string $name): ?string
{
    static $all = null;
    if ($all === null) {
        $all = [];
        foreach (q('SELECT name, value FROM ' . t('configuration') . ' ORDER BY id_shop IS NOT NULL, id_configuration') as $r) {
            $all[$r['name']] ??= $r['value'];
        }
    }
    return $all[$name] ?? null;
}

/** The main active shop URL row ({prefix}shop_url). */
function shop_url(): array
{
    static $row = null;
    if ($row === null) {
        $row = q('SELECT domain, domain_ssl, physical_uri FROM ' . t('shop_url')
            . ' WHERE id_shop = 1 AND main = 1 AND active = 1 LIMIT 1')->fetch();
        if (!$row) {
            throw new RuntimeException('no main shop_url row');
        }
    }
    return $row;
}

function wants_json(): bool
{
    return str_contains($_SERVER['HTTP_ACCEPT'] ?? '', 'application/json');
}

function h(?string $s): string
{
    return htmlspecialchars((string) $s, ENT_QUOTES | ENT_SUBSTITUTE, 'UTF-8');
}

function respond(int $status, string $body, string $type = 'text/html', array $headers = []): void
{
    http_response_code($status);
    header('Content-Type: ' . $type . '; charset=utf-8');
    header('Cache-Control: no-store');
    foreach ($headers as $k => $v) {
        header("$k: $v");
    }
    echo $body;
}

function respond_json(int $status, array $data, array $headers = []): void
{
    respond($status, json_encode($data, JSON_UNESCAPED_SLASHES | JSON_PRETTY_PRINT) . "\n", 'application/json', $headers);
}

// ---- signed cookies: base64url(json) "." hex(HMAC-SHA256(payload, cookie_key . secret)) ----

function cookie_sign(string $payload): string
{
    $p = params();
    return hash_hmac('sha256', $payload, (string) ($p['cookie_key'] ?? '') . (string) ($p['secret'] ?? ''));
}

function cookie_encode(array $data): string
{
    $payload = rtrim(strtr(base64_encode(json_encode($data)), '+/', '-_'), '=');
    return $payload . '.' . cookie_sign($payload);
}

function cookie_decode(?string $raw): ?array
{
    if (!is_string($raw) || !preg_match('/^([A-Za-z0-9_-]+)\.([0-9a-f]{64})$/', $raw, $m)) {
        return null;
    }
    if (!hash_equals(cookie_sign($m[1]), $m[2])) {
        return null;
    }
    $data = json_decode((string) base64_decode(strtr($m[1], '-_', '+/')), true);
    return is_array($data) ? $data : null;
}

function set_signed_cookie(string $name, array $data, string $path): void
{
    setcookie($name, cookie_encode($data), ['path' => $path, 'httponly' => true, 'samesite' => 'Lax']);
}

// ---- "smarty" page cache: rendered HTML (absolute URLs) in var/cache/smarty + rows in the DB ----

function page_cache_file(string $key): string
{
    return APP_ROOT . '/var/cache/smarty/' . sha1($key) . '.html';
}

function page_cache_get(string $key): ?string
{
    $f = page_cache_file($key);
    $html = is_file($f) ? @file_get_contents($f) : false;
    return $html === false ? null : $html;
}

function page_cache_put(string $key, string $template, string $html): void
{
    $f = page_cache_file($key);
    if (!is_dir(dirname($f))) {
        @mkdir(dirname($f), 0755, true);
    }
    $tmp = $f . '.' . bin2hex(random_bytes(4)) . '.tmp';
    file_put_contents($tmp, $html);
    rename($tmp, $f);
    q('INSERT INTO ' . t('smarty_cache') . ' (id_smarty_cache, name, cache_id, content) VALUES (?, ?, ?, ?)'
        . ' ON DUPLICATE KEY UPDATE content = VALUES(content), modified = CURRENT_TIMESTAMP',
        [sha1($key), sha1($template), substr($key, 0, 64), $html]);
    q('INSERT INTO ' . t('smarty_lazy_cache') . ' (template_hash, cache_id, compile_id, filepath, last_update)'
        . ' VALUES (?, ?, ?, ?, NOW()) ON DUPLICATE KEY UPDATE filepath = VALUES(filepath), last_update = NOW()',
        [md5($template), substr($key, 0, 64), '', 'var/cache/smarty/' . basename($f)]);
}
