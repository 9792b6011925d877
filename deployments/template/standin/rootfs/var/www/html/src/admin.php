<?php
declare(strict_types=1);

const ADMIN_COOKIE = 'PrestaShop-admin';

function admin_dispatch(string $sub, string $method): void
{
    if ($sub === '/' && $method === 'GET') {
        admin_dashboard();
    } elseif ($sub === '/login' && $method === 'GET') {
        admin_login_form(200, '');
    } elseif ($sub === '/login' && $method === 'POST') {
        admin_login();
    } elseif ($sub === '/dmx-login.php' && $method === 'GET') {
        admin_token_login();
    } elseif (preg_match('#^/module/([a-z0-9_]{1,64})$#', $sub, $m) && $method === 'GET') {
        admin_module_page($m[1]);
    } elseif ($sub === '/logout') {
        setcookie(ADMIN_COOKIE, '', ['expires' => 1, 'path' => ADMIN_PATH, 'httponly' => true, 'samesite' => 'Lax']);
        respond(302, '', 'text/html', ['Location' => ADMIN_PATH . '/login']);
    } else {
        respond(404, 'Not found', 'text/plain');
    }
}

function admin_login_form(int $status, string $error): void
{
    respond($status, "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>Back office - login</title>"
        . '<meta name="dmx-db-name" content="' . h((string) params()['database_name']) . "\"></head><body>\n"
        . ($error !== '' ? '<p class="error">' . h($error) . "</p>\n" : '')
        . '<form method="post" action="' . ADMIN_PATH . '/login"><input name="email" type="email">'
        . '<input name="passwd" type="password"><button>Log in</button></form></body></html>' . "\n");
}

function admin_login(): void
{
    $email = trim((string) ($_POST['email'] ?? ''));
    $passwd = (string) ($_POST['passwd'] ?? '');
    $e = q('SELECT id_employee, email, passwd FROM ' . t('employee') . ' WHERE email = ? AND active = 1 LIMIT 1', [$email])->fetch();
    if (!$e || !password_verify($passwd, $e['passwd'])) {
        wants_json() ? respond_json(401, ['error' => 'invalid credentials']) : admin_login_form(401, 'Authentication failed.');
        return;
    }
    admin_start_session($e);
    wants_json()
        ? respond_json(200, ['ok' => true, 'id_employee' => (int) $e['id_employee'], 'email' => $e['email']])
        : respond(302, '', 'text/html', ['Location' => ADMIN_PATH . '/']);
}

/** The back-office session cookie for an employee row (as the login form sets it). */
function admin_start_session(array $e): void
{
    q('UPDATE ' . t('employee') . ' SET last_connection_date = CURDATE() WHERE id_employee = ?', [$e['id_employee']]);
    // pwh ties the cookie to the current password hash: resetting the password invalidates old cookies.
    set_signed_cookie(ADMIN_COOKIE, ['id_employee' => (int) $e['id_employee'], 'email' => $e['email'],
        'pwh' => substr(hash('sha256', $e['passwd']), 0, 16), 'iat' => time()], ADMIN_PATH);
}

/**
 * One-time login link (the contract dmx's flashlight endpoint honours on real PrestaShop too):
 * GET {admin}/dmx-login.php?token=<exp>.<nonce>.<sig>&to=<admin-relative path>, where
 * sig = hex HMAC-SHA256(dmx_login_key, "dmx-login.v1.<exp>.<nonce>") and dmx_login_key is this
 * demo's own key in parameters.php (so a link of another demo never verifies here). Valid until
 * <exp> (dmx mints links for 60 s), once: the nonce is recorded in {prefix}dmx_login_token. Lands
 * logged in as the first active super-admin on <to>. Every refusal is a clear page, never a 500.
 */
function admin_token_login(): void
{
    $token = (string) ($_GET['token'] ?? '');
    $to = (string) ($_GET['to'] ?? '/');
    $key = (string) (params()['dmx_login_key'] ?? '');
    if (!preg_match('/^(\d{10})\.([A-Za-z0-9_-]{16,64})\.([0-9a-f]{64})$/', $token, $m)
        || !preg_match('#^/[A-Za-z0-9/_-]{0,200}$#', $to) || str_contains($to, '//')) {
        login_link_page(400, 'This login link is malformed.');
        return;
    }
    if ($key === '' || !hash_equals(hash_hmac('sha256', "dmx-login.v1.{$m[1]}.{$m[2]}", $key), $m[3])) {
        login_link_page(403, 'This login link does not belong to this demo.');
        return;
    }
    $exp = (int) $m[1];
    if ($exp < time()) {
        login_link_page(410, 'This login link has expired. Ask the demo for a new one.');
        return;
    }
    if ($exp > time() + 300) {
        login_link_page(400, 'This login link is not valid.');
        return;
    }
    try {
        q('INSERT INTO ' . t('dmx_login_token') . ' (nonce, used_at) VALUES (?, NOW())', [$m[2]]);
    } catch (PDOException $e) {
        if ((string) $e->getCode() === '23000') {   // duplicate nonce: the link was used before
            login_link_page(410, 'This login link has already been used. Ask the demo for a new one.');
            return;
        }
        throw $e;
    }
    $e = q('SELECT id_employee, email, passwd FROM ' . t('employee')
        . ' WHERE active = 1 AND id_profile = 1 ORDER BY id_employee LIMIT 1')->fetch();
    if (!$e) {
        login_link_page(409, 'This shop has no active administrator to log in as.');
        return;
    }
    admin_start_session($e);
    respond(302, '', 'text/html', ['Location' => ADMIN_PATH . ($to === '/' ? '/' : $to), 'Referrer-Policy' => 'no-referrer']);
}

function login_link_page(int $status, string $message): void
{
    respond($status, "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>Login link</title></head><body>\n"
        . '<h1>Login link</h1><p id="login-link-error">' . h($message) . '</p><p><a href="' . ADMIN_PATH
        . "/login\">Log in with the password instead</a></p></body></html>\n", 'text/html', ['Referrer-Policy' => 'no-referrer']);
}

/** A module's configuration page: where a vendor lands its visitors (e.g. {admin}/module/mymodule). */
function admin_module_page(string $module): void
{
    $e = admin_employee();
    if ($e === null) {
        respond(302, '', 'text/html', ['Location' => ADMIN_PATH . '/login']);
        return;
    }
    respond(200, "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>Configure " . h($module) . "</title></head><body>\n"
        . '<h1 id="module-title">Configure ' . h($module) . '</h1><p>Logged in as <span id="employee-email">' . h($e['email'])
        . "</span></p>\n<form><label>Setting <input name=\"setting\"></label><button>Save</button></form></body></html>\n");
}

function admin_employee(): ?array
{
    $c = cookie_decode($_COOKIE[ADMIN_COOKIE] ?? null);
    if (!$c || !isset($c['id_employee'], $c['email'], $c['pwh'])) {
        return null;
    }
    $e = q('SELECT id_employee, email, passwd, firstname, lastname FROM ' . t('employee')
        . ' WHERE id_employee = ? AND active = 1', [(int) $c['id_employee']])->fetch();
    if (!$e || $e['email'] !== $c['email'] || !hash_equals(substr(hash('sha256', $e['passwd']), 0, 16), (string) $c['pwh'])) {
        return null;
    }
    unset($e['passwd']);
    $e['id_employee'] = (int) $e['id_employee'];
    return $e;
}

function admin_dashboard(): void
{
    $e = admin_employee();
    if ($e === null) {
        wants_json() ? respond_json(401, ['error' => 'not logged in'])
            : respond(302, '', 'text/html', ['Location' => ADMIN_PATH . '/login']);
        return;
    }
    $data = [
        'employee' => $e,
        'products' => (int) q('SELECT COUNT(*) FROM ' . t('product'))->fetchColumn(),
        'carts' => (int) q('SELECT COUNT(*) FROM ' . t('cart'))->fetchColumn(),
        'shop_domain' => shop_url()['domain'],
        'shop_name' => configuration('PS_SHOP_NAME'),
        'db_name' => (string) params()['database_name'],
    ];
    if (wants_json()) {
        respond_json(200, $data);
        return;
    }
    respond(200, "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>Dashboard - " . h($data['shop_name']) . '</title>'
        . '<meta name="dmx-shop-domain" content="' . h($data['shop_domain']) . '">'
        . '<meta name="dmx-db-name" content="' . h($data['db_name']) . "\"></head><body>\n"
        . '<h1>Dashboard</h1><p>Logged in as <span id="employee-email">' . h($e['email']) . "</span></p>\n"
        . '<p>Products: <span id="products">' . $data['products'] . '</span>, carts: <span id="carts">' . $data['carts']
        . '</span></p><p><a href="' . ADMIN_PATH . "/logout\">Log out</a></p></body></html>\n");
}
