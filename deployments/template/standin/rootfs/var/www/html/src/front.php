<?php
declare(strict_types=1);

const FRONT_COOKIE = 'PrestaShop-front';
const PAGE_SIZE = 20;

function front_dispatch(string $path, string $method): void
{
    // PrestaShop: a storefront request whose Host is not the shop domain is redirected to it.
    $domain = shop_url()['domain'];
    if (strcasecmp($_SERVER['HTTP_HOST'] ?? '', $domain) !== 0) {
        $location = 'http://' . $domain . ($_SERVER['REQUEST_URI'] ?? '/');
        respond(301, 'Moved to ' . h($location) . "\n", 'text/html', ['Location' => $location]);
        return;
    }
    if ($path === '/' && $method === 'GET') {
        front_home();
    } elseif (preg_match('#^/product/(\d+)$#', $path, $m) && $method === 'GET') {
        front_product((int) $m[1]);
    } elseif ($path === '/cart' && $method === 'GET') {
        front_cart_show(200);
    } elseif ($path === '/cart' && $method === 'POST') {
        front_cart_add();
    } else {
        front_not_found();
    }
}

function base_url(): string
{
    return 'http://' . shop_url()['domain'];
}

function layout(string $title, string $body): string
{
    $domain = shop_url()['domain'];
    $name = configuration('PS_SHOP_NAME');
    $base = base_url();
    return "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
        . '<title>' . h($title) . ' - ' . h($name) . "</title>\n"
        . '<meta name="dmx-shop-domain" content="' . h($domain) . "\">\n"
        . '<meta name="dmx-config-domain" content="' . h(configuration('PS_SHOP_DOMAIN')) . "\">\n"
        . '<meta name="dmx-shop-name" content="' . h($name) . "\">\n"
        . '<meta name="dmx-db-name" content="' . h((string) params()['database_name']) . "\">\n"
        . '<meta name="dmx-rendered-at" content="' . gmdate('c') . "\">\n"
        . '<link rel="canonical" href="' . h($base . ($_SERVER['REQUEST_URI'] ?? '/')) . "\">\n"
        . "</head><body>\n"
        . '<header><a href="' . h($base) . '/">' . h($name) . '</a> on <b>' . h($domain) . '</b> | <a href="'
        . h($base) . "/cart\">Cart</a></header>\n" . $body . "\n</body></html>\n";
}

/** Serve from the page cache, or render, store and serve. */
function cached_page(string $key, string $template, callable $render): void
{
    $html = page_cache_get($key);
    if ($html !== null) {
        respond(200, $html, 'text/html', ['X-Dmx-Page-Cache' => 'HIT']);
        return;
    }
    $html = $render();
    page_cache_put($key, $template, $html);
    respond(200, $html, 'text/html', ['X-Dmx-Page-Cache' => 'MISS']);
}

function front_home(): void
{
    $page = max(1, min(1000, (int) ($_GET['page'] ?? 1)));
    cached_page("index|page=$page", 'index.tpl', function () use ($page): string {
        $total = (int) q('SELECT COUNT(*) FROM ' . t('product') . ' WHERE active = 1')->fetchColumn();
        $rows = q('SELECT p.id_product, p.reference, p.price, pl.name FROM ' . t('product') . ' p JOIN '
            . t('product_lang') . ' pl ON pl.id_product = p.id_product AND pl.id_lang = 1 AND pl.id_shop = 1'
            . ' WHERE p.active = 1 ORDER BY p.id_product LIMIT ' . PAGE_SIZE . ' OFFSET ' . (($page - 1) * PAGE_SIZE))->fetchAll();
        $base = base_url();
        $items = '';
        foreach ($rows as $r) {
            $items .= '<li class="product" data-id-product="' . (int) $r['id_product'] . '"><a href="' . h($base)
                . '/product/' . (int) $r['id_product'] . '">' . h($r['name']) . '</a> ' . number_format((float) $r['price'], 2)
                . " EUR</li>\n";
        }
        $pages = (int) ceil($total / PAGE_SIZE);
        $nav = $page < $pages ? '<a rel="next" href="' . h($base) . '/?page=' . ($page + 1) . '">next</a>' : '';
        return layout('Home', '<h1>' . h(configuration('PS_SHOP_NAME')) . "</h1>\n<p>$total products, page $page of $pages</p>\n"
            . "<ul id=\"products\" data-total=\"$total\">\n$items</ul>\n$nav");
    });
}

function front_product(int $id): void
{
    $r = q('SELECT p.id_product, p.reference, p.price, pl.name, pl.description_short FROM ' . t('product') . ' p JOIN '
        . t('product_lang') . ' pl ON pl.id_product = p.id_product AND pl.id_lang = 1 AND pl.id_shop = 1'
        . ' WHERE p.id_product = ? AND p.active = 1', [$id])->fetch();
    if (!$r) {
        front_not_found();
        return;
    }
    cached_page("product|$id", 'catalog/product.tpl', function () use ($r): string {
        $base = base_url();
        return layout($r['name'], '<h1 class="product-name">' . h($r['name']) . "</h1>\n"
            . '<p class="reference">' . h($r['reference']) . '</p><p class="price">' . number_format((float) $r['price'], 2)
            . " EUR</p>\n<p>" . h($r['description_short']) . "</p>\n"
            . '<form method="post" action="' . h($base) . '/cart"><input type="hidden" name="id_product" value="'
            . (int) $r['id_product'] . '"><input name="qty" value="1" size="2"><button>Add to cart</button></form>');
    });
}

function front_not_found(): void
{
    respond(404, layout('Page not found', '<h1>Page not found</h1>'));
}

/** The visitor's cart (from the signed cookie) or null. */
function current_cart(): ?array
{
    $c = cookie_decode($_COOKIE[FRONT_COOKIE] ?? null);
    if (!$c || !isset($c['id_cart'], $c['key'])) {
        return null;
    }
    $cart = q('SELECT id_cart, secure_key, date_add, date_upd FROM ' . t('cart') . ' WHERE id_cart = ?', [(int) $c['id_cart']])->fetch();
    return ($cart && hash_equals($cart['secure_key'], (string) $c['key'])) ? $cart : null;
}

function front_cart_add(): void
{
    $idProduct = (int) ($_POST['id_product'] ?? 0);
    $qty = max(1, min(99, (int) ($_POST['qty'] ?? 1)));
    $exists = q('SELECT 1 FROM ' . t('product') . ' WHERE id_product = ? AND active = 1', [$idProduct])->fetchColumn();
    if (!$exists) {
        wants_json() ? respond_json(404, ['error' => 'unknown product']) : front_not_found();
        return;
    }
    $cart = current_cart();
    if ($cart === null) {
        $key = bin2hex(random_bytes(16));
        q('INSERT INTO ' . t('cart') . ' (id_shop_group, id_shop, id_carrier, delivery_option, id_lang, id_address_delivery,'
            . ' id_address_invoice, id_currency, id_customer, id_guest, secure_key, date_add, date_upd)'
            . " VALUES (1, 1, 0, '', 1, 0, 0, 1, 0, 0, ?, NOW(), NOW())", [$key]);
        $cart = ['id_cart' => (int) db()->lastInsertId(), 'secure_key' => $key];
        set_signed_cookie(FRONT_COOKIE, ['id_cart' => $cart['id_cart'], 'key' => $key], '/');
        $_COOKIE[FRONT_COOKIE] = cookie_encode(['id_cart' => $cart['id_cart'], 'key' => $key]);
    }
    q('INSERT INTO ' . t('cart_product') . ' (id_cart, id_product, id_address_delivery, id_shop, id_product_attribute,'
        . ' id_customization, quantity, date_add) VALUES (?, ?, 0, 1, 0, 0, ?, NOW())'
        . ' ON DUPLICATE KEY UPDATE quantity = quantity + VALUES(quantity)', [$cart['id_cart'], $idProduct, $qty]);
    q('UPDATE ' . t('cart') . ' SET date_upd = NOW() WHERE id_cart = ?', [$cart['id_cart']]);
    front_cart_show(200);
}

function front_cart_show(int $status): void
{
    $cart = current_cart();
    $lines = [];
    $total = 0.0;
    if ($cart) {
        $lines = q('SELECT cp.id_product, pl.name, cp.quantity, p.price FROM ' . t('cart_product') . ' cp JOIN ' . t('product')
            . ' p ON p.id_product = cp.id_product JOIN ' . t('product_lang') . ' pl ON pl.id_product = cp.id_product'
            . ' AND pl.id_lang = 1 AND pl.id_shop = 1 WHERE cp.id_cart = ? ORDER BY cp.date_add, cp.id_product',
            [$cart['id_cart']])->fetchAll();
        foreach ($lines as &$l) {
            $l['id_product'] = (int) $l['id_product'];
            $l['quantity'] = (int) $l['quantity'];
            $l['price'] = round((float) $l['price'], 2);
            $total += $l['price'] * $l['quantity'];
        }
        unset($l);
    }
    if (wants_json()) {
        respond_json($status, ['id_cart' => $cart ? (int) $cart['id_cart'] : null, 'shop_domain' => shop_url()['domain'],
            'db_name' => (string) params()['database_name'], 'products' => $lines, 'total' => round($total, 2)]);
        return;
    }
    $rows = '';
    foreach ($lines as $l) {
        $rows .= '<tr data-id-product="' . $l['id_product'] . '"><td>' . h($l['name']) . '</td><td>' . $l['quantity']
            . '</td><td>' . number_format($l['price'], 2) . "</td></tr>\n";
    }
    respond($status, layout('Cart', '<h1>Cart</h1><p id="cart" data-id-cart="' . ($cart ? (int) $cart['id_cart'] : '')
        . "\">\n<table>$rows</table>\n<p>Total: " . number_format($total, 2) . ' EUR</p>'));
}
