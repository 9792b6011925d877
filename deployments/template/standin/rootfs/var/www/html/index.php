<?php
// dmx stand-in shop: a tiny front controller honouring the PrestaShop contract that dmx relies on
// (parameters.php compiled into var/cache/prod, file page cache in var/cache/smarty, Host redirect,
// cart rows, back office at /admin-dev). See deployments/template/standin/README.md.
declare(strict_types=1);

require __DIR__ . '/src/lib.php';
require __DIR__ . '/src/front.php';
require __DIR__ . '/src/admin.php';

set_exception_handler(function (Throwable $e): void {
    if ($e instanceof DbUnavailable) {
        respond(503, 'Link to database cannot be established: ' . $e->getMessage(), 'text/plain');
        return;
    }
    error_log('dmx-standin: ' . $e);
    respond(500, 'Internal error', 'text/plain');
});

$path = parse_url($_SERVER['REQUEST_URI'] ?? '/', PHP_URL_PATH) ?: '/';
$path = '/' . trim(preg_replace('#/+#', '/', $path), '/');
$method = $_SERVER['REQUEST_METHOD'] ?? 'GET';

if ($path === ADMIN_PATH || str_starts_with($path, ADMIN_PATH . '/')) {
    admin_dispatch(substr($path, strlen(ADMIN_PATH)) ?: '/', $method);   // any Host, no redirect
} else {
    front_dispatch($path, $method);
}
