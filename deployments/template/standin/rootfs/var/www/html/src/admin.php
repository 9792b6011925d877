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
    q('UPDATE ' . t('employee') . ' SET last_connection_date = CURDATE() WHERE id_employee = ?', [$e['id_employee']]);
    // pwh ties the cookie to the current password hash: resetting the password invalidates old cookies.
    set_signed_cookie(ADMIN_COOKIE, ['id_employee' => (int) $e['id_employee'], 'email' => $e['email'],
        'pwh' => substr(hash('sha256', $e['passwd']), 0, 16), 'iat' => time()], ADMIN_PATH);
    wants_json()
        ? respond_json(200, ['ok' => true, 'id_employee' => (int) $e['id_employee'], 'email' => $e['email']])
        : respond(302, '', 'text/html', ['Location' => ADMIN_PATH . '/']);
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
