<?php
/**
 * demo-multiplexer one-time login for real PrestaShop 8.x and 9.x (prestashop-flashlight). `dmx checkpoint
 * --kind flashlight` copies this file and dmx-login-ps9.php into the admin folder before the checkpoint,
 * so every demo restored from it has them. Contract (the same as the stand-in's, see lib/login-links.ts):
 *   GET <admin>/dmx-login.php?token=<exp>.<nonce>.<sig>&to=<AdminController name, e.g. AdminModules>[&configure=<module>]
 *   sig = hex HMAC-SHA256(dmx_login_key, "dmx-login.v1.<exp>.<nonce>"), dmx_login_key from this demo's
 *   app/config/parameters.php (dmx writes it there for each demo). Valid until <exp>, once (the nonce is
 *   recorded in <prefix>dmx_login_token). Logs in the first active SuperAdmin, then redirects to the
 *   admin link of <to> with its security token.
 * The checks above are done here, once, before any login. Then 8.x logs in the way
 * AdminLoginController::processLogin does (psAdmin cookie fields, EmployeeSession, write); 9.x
 * authenticates the back office with Symfony security instead, so dmx-login-ps9.php logs in through
 * Symfony's Security::login() on the admin firewall (its header says how, from which PrestaShop
 * sources, and what is unverified). This file stays PHP 7.2 syntax: PrestaShop 8 runs on 7.2+.
 */
define('_PS_ADMIN_DIR_', __DIR__);
require dirname(__DIR__) . '/config/config.inc.php';

function dmx_login_page(int $status, string $message): void
{
    http_response_code($status);
    header('Content-Type: text/html; charset=utf-8');
    header('Cache-Control: no-store');
    header('Referrer-Policy: no-referrer');
    echo '<!doctype html><html><head><meta charset="utf-8"><title>Login link</title></head><body><h1>Login link</h1><p id="login-link-error">'
        . htmlspecialchars($message, ENT_QUOTES, 'UTF-8') . '</p></body></html>';
    exit;
}

$token = (string) Tools::getValue('token');
$to = (string) Tools::getValue('to', 'AdminDashboard');
$configure = (string) Tools::getValue('configure', '');
if (!preg_match('/^(\d{10})\.([A-Za-z0-9_-]{16,64})\.([0-9a-f]{64})$/', $token, $m)
    || !Validate::isControllerName($to) || ($configure !== '' && !Validate::isModuleName($configure))) {
    dmx_login_page(400, 'This login link is malformed.');
}
$parameters = require _PS_ROOT_DIR_ . '/app/config/parameters.php';
$key = (string) ($parameters['parameters']['dmx_login_key'] ?? '');
if ($key === '' || !hash_equals(hash_hmac('sha256', "dmx-login.v1.{$m[1]}.{$m[2]}", $key), $m[3])) {
    dmx_login_page(403, 'This login link does not belong to this demo.');
}
if ((int) $m[1] < time()) {
    dmx_login_page(410, 'This login link has expired. Ask the demo for a new one.');
}
if ((int) $m[1] > time() + 300) {
    dmx_login_page(400, 'This login link is not valid.');
}
$db = Db::getInstance();
$db->execute('CREATE TABLE IF NOT EXISTS `' . _DB_PREFIX_ . 'dmx_login_token` (`nonce` varchar(64) NOT NULL PRIMARY KEY, `used_at` datetime NOT NULL) ENGINE=InnoDB');
if (!$db->execute('INSERT IGNORE INTO `' . _DB_PREFIX_ . "dmx_login_token` (nonce, used_at) VALUES ('" . pSQL($m[2]) . "', NOW())")
    || $db->Affected_Rows() !== 1) {
    dmx_login_page(410, 'This login link has already been used. Ask the demo for a new one.');
}
$id = (int) $db->getValue('SELECT id_employee FROM `' . _DB_PREFIX_ . 'employee` WHERE active = 1 AND id_profile = ' . (int) _PS_ADMIN_PROFILE_ . ' ORDER BY id_employee');
$employee = new Employee($id);
if (!Validate::isLoadedObject($employee)) {
    dmx_login_page(409, 'This shop has no active administrator to log in as.');
}
if (version_compare(_PS_VERSION_, '9.0.0', '>=')) {
    require __DIR__ . '/dmx-login-ps9.php';
    dmx_login_ps9($employee, $to, $configure);   // never returns
}
$context = Context::getContext();
$context->employee = $employee;
$employee->remote_addr = (int) ip2long(Tools::getRemoteAddr());
$cookie = $context->cookie;
$cookie->id_employee = (int) $employee->id;
$cookie->email = $employee->email;
$cookie->profile = (int) $employee->id_profile;
$cookie->passwd = $employee->passwd;
$cookie->remote_addr = $employee->remote_addr;
if (class_exists('EmployeeSession') && method_exists($cookie, 'registerSession')) {
    $cookie->registerSession(new EmployeeSession());   // 8.1+: sessions are checked on every request
}
$cookie->last_activity = time();
$cookie->write();
header('Referrer-Policy: no-referrer');
Tools::redirectAdmin($context->link->getAdminLink($to, true, [], $configure !== '' ? ['configure' => $configure] : []));
