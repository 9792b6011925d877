<?php
/**
 * The PrestaShop 9.x half of dmx-login.php. That file requires this one only after the shared checks
 * (signature, expiry, single-use nonce, the SuperAdmin picked), so nothing here runs for a bad link.
 * It is a file of its own because it uses PHP 8 syntax, which PrestaShop 8 on PHP 7.2 must never parse.
 *
 * How PrestaShop 9 logs an employee in (read in PrestaShop/PrestaShop, branches 9.0.x / develop):
 *   - app/config/admin/security.yml: the back office is the Symfony firewall `main` (provider
 *     prestashop.security.admin.provider, form_login on route admin_login, remember_me); `^/login` is
 *     PUBLIC_ACCESS, everything else needs IS_AUTHENTICATED.
 *   - admin-dev/index.php: boots `new AdminKernel(_PS_ENV_, _PS_MODE_DEV_)` after config.inc.php,
 *     autoload.php and the .env, handles Request::createFromGlobals(); legacy controllers also go through
 *     the kernel (src/PrestaShopBundle/Routing/LegacyRouterChecker.php), so the firewall guards them too.
 *   - src/PrestaShopBundle/EventListener/Admin/EmployeeSessionSubscriber.php: on Symfony's
 *     AuthenticationTokenCreatedEvent it records an EmployeeSession row and puts it in the token
 *     (TokenAttributes); on LoginSuccessEvent it refreshes the CSRF token used as `_token` in admin URLs,
 *     remembers the IP (PS_COOKIE_CHECKIP) and writes the legacy psAdmin cookie; on every later request
 *     it logs out a token without a live EmployeeSession.
 *   - src/PrestaShopBundle/Security/Admin/SessionEmployeeProvider.php: the token lives in the Symfony
 *     session under `_security_main`; src/PrestaShopBundle/Security/Admin/AdminAuthenticationSuccessHandler.php
 *     and src/PrestaShopBundle/Service/Routing/Router.php: admin links carry `_token` = the CSRF token
 *     of the logged-in user, so a link made before the login would be refused after it.
 *   - symfony/symfony src/Symfony/Bundle/SecurityBundle/Security.php (6.4): Security::login() runs the
 *     firewall's authenticator manager, which dispatches exactly those two events.
 * So this logs in through Symfony's own API, inside a request the kernel handles like admin-dev/index.php:
 * the kernel serves the public login route (so the firewall's access rules let it through); a listener
 * that runs after the firewall and PrestaShop's session checks calls Security::login() for the SuperAdmin
 * on the `main` firewall with its form_login authenticator (PrestaShop then does everything above itself),
 * builds the admin link of `to` after the login (fresh `_token`, legacy `token` for that employee) and
 * answers the redirect instead of the login page. Symfony stores the token and the session cookie on
 * the way out, as for any request.
 * Assumed, not verified here (no PrestaShop 9 container can run on this machine; see README):
 *   - PrestaShop 9.0 ships Symfony >= 6.2 (Security::login()) and the firewall/authenticator names above.
 *   - Security (`security.helper`) is private in Symfony 6.4, so when the container does not expose it,
 *     it is taken from the container's already built private services; it is built by then because
 *     PrestaShop's own request listeners (EmployeeSessionSubscriber) use it earlier in the same request.
 *   - The login route's path is read from the router (falls back to /login); the kernel's listeners
 *     before ours (tokenized URLs, contexts) let a token-less GET of the login page through, as they must
 *     for the login page itself.
 *   - A browser that still holds a stale back-office session is logged out by EmployeeSessionSubscriber
 *     before our listener runs; that request then ends on the clear error page (the link is used).
 *   - Back-office 2FA (develop), if the employee has it on, still asks for the code after this login.
 */

use Symfony\Component\Dotenv\Dotenv;
use Symfony\Component\HttpFoundation\RedirectResponse;
use Symfony\Component\HttpFoundation\Request;
use Symfony\Component\HttpKernel\Event\RequestEvent;
use Symfony\Component\HttpKernel\HttpKernelInterface;
use Symfony\Component\HttpKernel\KernelEvents;

if (!defined('_PS_ADMIN_DIR_')) {
    http_response_code(404);   // only ever required by dmx-login.php
    exit;
}

/** Logs $employee in on PrestaShop 9 and redirects to the admin page $to; never returns. */
function dmx_login_ps9(Employee $employee, string $to, string $configure): void
{
    if (!defined('PS_ADMIN_DIR')) {
        define('PS_ADMIN_DIR', _PS_ADMIN_DIR_);
    }
    try {
        require_once _PS_ROOT_DIR_ . '/autoload.php';
        if (is_file(_PS_ROOT_DIR_ . '/.env')) {
            (new Dotenv())->usePutenv(false)->loadEnv(_PS_ROOT_DIR_ . '/.env');
        }
        if (!defined('_PS_APP_ID_') && defined('AdminKernel::APP_ID')) {
            define('_PS_APP_ID_', AdminKernel::APP_ID);
        }
        $kernel = new AdminKernel(_PS_ENV_, _PS_MODE_DEV_);
        $GLOBALS['kernel'] = $kernel;   // SymfonyContainer::getInstance() (used by Link) reads the global, as in admin-dev/index.php
        $kernel->boot();
        $container = $kernel->getContainer();
        $request = dmx_ps9_login_page_request(Request::createFromGlobals(), $container);
        $target = null;
        $container->get('event_dispatcher')->addListener(
            KernelEvents::REQUEST,
            function (RequestEvent $event) use ($container, $employee, $to, $configure, &$target): void {
                if (!$event->isMainRequest()) {
                    return;
                }
                $security = dmx_ps9_service($container, 'security.helper');
                $security->getToken();   // runs the lazy firewall's session listener first, so the response stores our token
                $provider = dmx_ps9_service($container, 'prestashop.security.admin.provider');
                $security->login($provider->loadUserByIdentifier($employee->email), 'form_login', 'main');
                $context = Context::getContext();
                $context->employee = $employee;   // the legacy admin token is per employee
                $link = $context->link ?? new Link();
                $target = $link->getAdminLink($to, true, [], $configure !== '' ? ['configure' => $configure] : []);
                $event->setResponse(new RedirectResponse($target));
            },
            -1024
        );
        // catch=false: an error reaches the catch below (the clear page), never PrestaShop's error page.
        $response = $kernel->handle($request, HttpKernelInterface::MAIN_REQUEST, false);
        if ($target === null) {   // e.g. PrestaShop logged a stale session out and answered its own redirect
            throw new RuntimeException('the login request was answered before the login');
        }
    } catch (Throwable $e) {
        dmx_login_page(503, 'This shop could not log you in. Log in with the password instead.');
    }
    $response->headers->set('Cache-Control', 'no-store');   // after the session listener, which sets its own
    $response->headers->set('Referrer-Policy', 'no-referrer');
    $response->send();
    $kernel->terminate($request, $response);
    exit;
}

/**
 * The visitor's request (cookies, client address, host) turned into a GET of the back office's login
 * page without our query, so the firewall lets it through and no login token reaches PrestaShop's logs.
 */
function dmx_ps9_login_page_request(Request $real, $container): Request
{
    $route = $container->get('router')->getRouteCollection()->get('admin_login');
    $path = $route !== null ? $route->getPath() : '/login';
    $script = rtrim(dirname($real->getScriptName()), '/') . '/index.php';
    $server = $real->server->all();
    $server['SCRIPT_NAME'] = $server['PHP_SELF'] = $script;
    $server['SCRIPT_FILENAME'] = _PS_ADMIN_DIR_ . '/index.php';
    $server['REQUEST_URI'] = $script . $path;
    $server['QUERY_STRING'] = '';
    $server['REQUEST_METHOD'] = 'GET';
    unset($server['PATH_INFO'], $server['ORIG_PATH_INFO']);

    return $real->duplicate([], [], [], null, [], $server);
}

/** A service of the compiled container, public or (Symfony keeps them apart) private and already built. */
function dmx_ps9_service($container, string $id): object
{
    if ($container->has($id)) {
        return $container->get($id);
    }
    $service = (function () use ($id) {
        return $this->privates[$id] ?? null;
    })->call($container);
    if (!is_object($service)) {
        throw new RuntimeException("service {$id} is not reachable");
    }

    return $service;
}
