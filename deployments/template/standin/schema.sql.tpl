-- dmx stand-in shop: template database. Table prefix placeholder: {prefix} (render with render-schema.sh).
-- Loads into the CURRENT database (no CREATE DATABASE / USE). Columns follow PrestaShop 8's
-- install/data/db_structure.sql, reduced to what the stand-in uses.
SET NAMES utf8mb4;
SET SESSION sql_mode = 'NO_ENGINE_SUBSTITUTION';

CREATE TABLE `{prefix}shop_url` (
  `id_shop_url` int(11) unsigned NOT NULL AUTO_INCREMENT,
  `id_shop` int(11) unsigned NOT NULL,
  `domain` varchar(150) NOT NULL,
  `domain_ssl` varchar(150) NOT NULL,
  `physical_uri` varchar(64) NOT NULL,
  `virtual_uri` varchar(64) NOT NULL,
  `main` tinyint(1) NOT NULL,
  `active` tinyint(1) NOT NULL,
  PRIMARY KEY (`id_shop_url`),
  UNIQUE KEY `full_shop_url` (`domain`,`physical_uri`,`virtual_uri`),
  UNIQUE KEY `full_shop_url_ssl` (`domain_ssl`,`physical_uri`,`virtual_uri`),
  KEY `id_shop` (`id_shop`,`main`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE `{prefix}configuration` (
  `id_configuration` int(11) unsigned NOT NULL AUTO_INCREMENT,
  `id_shop_group` int(11) unsigned DEFAULT NULL,
  `id_shop` int(11) unsigned DEFAULT NULL,
  `name` varchar(254) NOT NULL,
  `value` text,
  `date_add` datetime NOT NULL,
  `date_upd` datetime NOT NULL,
  PRIMARY KEY (`id_configuration`),
  KEY `name` (`name`),
  KEY `id_shop` (`id_shop`),
  KEY `id_shop_group` (`id_shop_group`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE `{prefix}smarty_cache` (
  `id_smarty_cache` char(40) NOT NULL,
  `name` char(40) NOT NULL,
  `cache_id` varchar(64) DEFAULT NULL,
  `modified` timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP,
  `content` longtext NOT NULL,
  PRIMARY KEY (`id_smarty_cache`),
  KEY `name` (`name`),
  KEY `cache_id` (`cache_id`),
  KEY `modified` (`modified`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE `{prefix}smarty_lazy_cache` (
  `template_hash` varchar(32) NOT NULL DEFAULT '',
  `cache_id` varchar(64) NOT NULL DEFAULT '',
  `compile_id` varchar(32) NOT NULL DEFAULT '',
  `filepath` varchar(255) NOT NULL DEFAULT '',
  `last_update` datetime NOT NULL DEFAULT '1970-01-01 00:00:00',
  PRIMARY KEY (`template_hash`,`cache_id`,`compile_id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Nonces of used one-time login links (dmx-login): a link works once.
CREATE TABLE `{prefix}dmx_login_token` (
  `nonce` varchar(64) NOT NULL,
  `used_at` datetime NOT NULL,
  PRIMARY KEY (`nonce`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE `{prefix}employee` (
  `id_employee` int(11) unsigned NOT NULL AUTO_INCREMENT,
  `id_profile` int(11) unsigned NOT NULL,
  `id_lang` int(11) unsigned NOT NULL DEFAULT '0',
  `lastname` varchar(255) NOT NULL,
  `firstname` varchar(255) NOT NULL,
  `email` varchar(255) NOT NULL,
  `passwd` varchar(255) NOT NULL,
  `last_passwd_gen` timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP,
  `default_tab` int(11) unsigned NOT NULL DEFAULT '0',
  `active` tinyint(1) unsigned NOT NULL DEFAULT '0',
  `optin` tinyint(1) unsigned DEFAULT NULL,
  `last_connection_date` date DEFAULT NULL,
  `reset_password_token` varchar(40) DEFAULT NULL,
  `reset_password_validity` datetime DEFAULT NULL,
  `has_enabled_gravatar` tinyint(3) unsigned NOT NULL DEFAULT '0',
  PRIMARY KEY (`id_employee`),
  KEY `employee_login` (`email`,`passwd`),
  KEY `id_employee_passwd` (`id_employee`,`passwd`),
  KEY `id_profile` (`id_profile`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE `{prefix}customer` (
  `id_customer` int(11) unsigned NOT NULL AUTO_INCREMENT,
  `id_shop_group` int(11) unsigned NOT NULL DEFAULT '1',
  `id_shop` int(11) unsigned NOT NULL DEFAULT '1',
  `id_gender` int(11) unsigned NOT NULL,
  `id_default_group` int(11) unsigned NOT NULL DEFAULT '1',
  `id_lang` int(11) unsigned DEFAULT NULL,
  `firstname` varchar(255) NOT NULL,
  `lastname` varchar(255) NOT NULL,
  `email` varchar(255) NOT NULL,
  `passwd` varchar(255) NOT NULL,
  `last_passwd_gen` timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP,
  `birthday` date DEFAULT NULL,
  `newsletter` tinyint(1) unsigned NOT NULL DEFAULT '0',
  `optin` tinyint(1) unsigned NOT NULL DEFAULT '0',
  `secure_key` varchar(32) NOT NULL DEFAULT '-1',
  `active` tinyint(1) unsigned NOT NULL DEFAULT '0',
  `is_guest` tinyint(1) NOT NULL DEFAULT '0',
  `deleted` tinyint(1) NOT NULL DEFAULT '0',
  `date_add` datetime NOT NULL,
  `date_upd` datetime NOT NULL,
  PRIMARY KEY (`id_customer`),
  KEY `customer_email` (`email`),
  KEY `customer_login` (`email`,`passwd`),
  KEY `id_shop` (`id_shop`,`date_add`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE `{prefix}product` (
  `id_product` int(10) unsigned NOT NULL AUTO_INCREMENT,
  `id_supplier` int(10) unsigned DEFAULT NULL,
  `id_manufacturer` int(10) unsigned DEFAULT NULL,
  `id_category_default` int(10) unsigned DEFAULT NULL,
  `id_shop_default` int(10) unsigned NOT NULL DEFAULT '1',
  `id_tax_rules_group` int(11) unsigned NOT NULL,
  `on_sale` tinyint(1) unsigned NOT NULL DEFAULT '0',
  `ean13` varchar(13) DEFAULT NULL,
  `reference` varchar(64) DEFAULT NULL,
  `quantity` int(10) NOT NULL DEFAULT '0',
  `price` decimal(20,6) NOT NULL DEFAULT '0.000000',
  `wholesale_price` decimal(20,6) NOT NULL DEFAULT '0.000000',
  `weight` decimal(20,6) NOT NULL DEFAULT '0.000000',
  `active` tinyint(1) unsigned NOT NULL DEFAULT '0',
  `available_for_order` tinyint(1) NOT NULL DEFAULT '1',
  `show_price` tinyint(1) NOT NULL DEFAULT '1',
  `condition` enum('new','used','refurbished') NOT NULL DEFAULT 'new',
  `visibility` enum('both','catalog','search','none') NOT NULL DEFAULT 'both',
  `date_add` datetime NOT NULL,
  `date_upd` datetime NOT NULL,
  `state` int(11) unsigned NOT NULL DEFAULT '1',
  `product_type` enum('standard','pack','virtual','combinations','') NOT NULL DEFAULT '',
  PRIMARY KEY (`id_product`),
  KEY `reference_idx` (`reference`),
  KEY `id_category_default` (`id_category_default`),
  KEY `date_add` (`date_add`),
  KEY `state` (`state`,`date_upd`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE `{prefix}product_lang` (
  `id_product` int(10) unsigned NOT NULL,
  `id_shop` int(11) unsigned NOT NULL DEFAULT '1',
  `id_lang` int(10) unsigned NOT NULL,
  `description` text,
  `description_short` text,
  `link_rewrite` varchar(128) NOT NULL,
  `meta_description` varchar(512) DEFAULT NULL,
  `meta_title` varchar(255) DEFAULT NULL,
  `name` varchar(255) NOT NULL,
  `available_now` varchar(255) DEFAULT NULL,
  `available_later` varchar(255) DEFAULT NULL,
  PRIMARY KEY (`id_product`,`id_shop`,`id_lang`),
  KEY `id_lang` (`id_lang`),
  KEY `name` (`name`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE `{prefix}cart` (
  `id_cart` int(10) unsigned NOT NULL AUTO_INCREMENT,
  `id_shop_group` int(11) unsigned NOT NULL DEFAULT '1',
  `id_shop` int(11) unsigned NOT NULL DEFAULT '1',
  `id_carrier` int(10) unsigned NOT NULL,
  `delivery_option` text NOT NULL,
  `id_lang` int(10) unsigned NOT NULL,
  `id_address_delivery` int(10) unsigned NOT NULL,
  `id_address_invoice` int(10) unsigned NOT NULL,
  `id_currency` int(10) unsigned NOT NULL,
  `id_customer` int(10) unsigned NOT NULL,
  `id_guest` int(10) unsigned NOT NULL,
  `secure_key` varchar(32) NOT NULL DEFAULT '-1',
  `recyclable` tinyint(1) unsigned NOT NULL DEFAULT '1',
  `gift` tinyint(1) unsigned NOT NULL DEFAULT '0',
  `gift_message` text,
  `mobile_theme` tinyint(1) NOT NULL DEFAULT '0',
  `allow_seperated_package` tinyint(1) unsigned NOT NULL DEFAULT '0',
  `date_add` datetime NOT NULL,
  `date_upd` datetime NOT NULL,
  `checkout_session_data` mediumtext,
  PRIMARY KEY (`id_cart`),
  KEY `cart_customer` (`id_customer`),
  KEY `id_guest` (`id_guest`),
  KEY `id_shop` (`id_shop`,`date_add`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE `{prefix}cart_product` (
  `id_cart` int(10) unsigned NOT NULL,
  `id_product` int(10) unsigned NOT NULL,
  `id_address_delivery` int(10) unsigned NOT NULL DEFAULT '0',
  `id_shop` int(10) unsigned NOT NULL DEFAULT '1',
  `id_product_attribute` int(10) unsigned NOT NULL DEFAULT '0',
  `id_customization` int(10) unsigned NOT NULL DEFAULT '0',
  `quantity` int(10) unsigned NOT NULL DEFAULT '0',
  `date_add` datetime NOT NULL,
  PRIMARY KEY (`id_cart`,`id_product`,`id_product_attribute`,`id_customization`,`id_address_delivery`),
  KEY `id_product_attribute` (`id_product_attribute`),
  KEY `id_cart_order` (`id_cart`,`date_add`,`id_product`,`id_product_attribute`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- ---------------------------------------------------------------- data

INSERT INTO `{prefix}shop_url` (`id_shop_url`, `id_shop`, `domain`, `domain_ssl`, `physical_uri`, `virtual_uri`, `main`, `active`)
VALUES (1, 1, 'localhost', 'localhost', '/', '', 1, 1);

INSERT INTO `{prefix}configuration` (`name`, `value`, `date_add`, `date_upd`) VALUES
  ('PS_SHOP_DOMAIN', 'localhost', NOW(), NOW()),
  ('PS_SHOP_DOMAIN_SSL', 'localhost', NOW(), NOW()),
  ('PS_SHOP_NAME', 'DMX Stand-in Shop', NOW(), NOW()),
  ('PS_SHOP_EMAIL', 'demo@prestashop.com', NOW(), NOW()),
  ('PS_SSL_ENABLED', '0', NOW(), NOW()),
  ('PS_SSL_ENABLED_EVERYWHERE', '0', NOW(), NOW()),
  ('PS_LANG_DEFAULT', '1', NOW(), NOW()),
  ('PS_CURRENCY_DEFAULT', '1', NOW(), NOW()),
  ('PS_SMARTY_CACHE', '1', NOW(), NOW()),
  ('PS_SMARTY_CACHING_TYPE', 'filesystem', NOW(), NOW()),
  ('PS_VERSION_DB', '8.1.0', NOW(), NOW()),
  ('PS_INSTALL_VERSION', '8.1.0', NOW(), NOW());

-- admin@prestashop.com / prestashop (PHP password_hash(..., PASSWORD_BCRYPT))
INSERT INTO `{prefix}employee` (`id_employee`, `id_profile`, `id_lang`, `lastname`, `firstname`, `email`, `passwd`, `active`, `optin`)
VALUES (1, 1, 1, 'Doe', 'John', 'admin@prestashop.com', '$2y$10$nFmOw9CITyua/aS56RxNgOUUnSmMocXYOGGupVws1oNEulTC1I9Sm', 1, 0);

-- customers: pub@prestashop.com and a few more, all with password "prestashop"
INSERT INTO `{prefix}customer` (`id_customer`, `id_gender`, `id_lang`, `firstname`, `lastname`, `email`, `passwd`, `birthday`, `newsletter`, `secure_key`, `active`, `date_add`, `date_upd`) VALUES
  (1, 1, 1, 'John', 'DOE', 'pub@prestashop.com', '$2y$10$nFmOw9CITyua/aS56RxNgOUUnSmMocXYOGGupVws1oNEulTC1I9Sm', '1970-01-15', 1, 'c0e44f1e7e5b9a6d0d2c3e1f2a3b4c5d', 1, NOW(), NOW()),
  (2, 2, 1, 'Jane', 'ROE', 'jane.roe@example.com', '$2y$10$nFmOw9CITyua/aS56RxNgOUUnSmMocXYOGGupVws1oNEulTC1I9Sm', '1985-06-02', 0, '5b1f0d2a7c3e4f6a8b9c0d1e2f3a4b5c', 1, NOW(), NOW()),
  (3, 1, 1, 'Max', 'MUSTERMANN', 'max.mustermann@example.com', '$2y$10$nFmOw9CITyua/aS56RxNgOUUnSmMocXYOGGupVws1oNEulTC1I9Sm', NULL, 0, '9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a', 1, NOW(), NOW());

-- 300 deterministic products (recursive CTE; no helper table needed)
INSERT INTO `{prefix}product` (`id_product`, `id_supplier`, `id_manufacturer`, `id_category_default`, `id_tax_rules_group`, `reference`, `quantity`, `price`, `wholesale_price`, `weight`, `active`, `date_add`, `date_upd`, `product_type`)
WITH RECURSIVE seq (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < 300)
SELECT n, 1 + n % 3, 1 + n % 5, 2 + n % 7, 1, CONCAT('DMX-', LPAD(n, 5, '0')), 100 + (n * 7) % 400,
       ROUND(5 + ((n * 3779) % 9000) / 100, 2), ROUND(2 + ((n * 1913) % 4000) / 100, 2), ROUND(0.1 + (n % 20) / 10, 1),
       1, '2024-01-01 00:00:00', '2024-01-01 00:00:00', 'standard'
FROM seq;

INSERT INTO `{prefix}product_lang` (`id_product`, `id_shop`, `id_lang`, `description`, `description_short`, `link_rewrite`, `meta_title`, `name`, `available_now`)
WITH RECURSIVE seq (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < 300),
names AS (
  SELECT n, CONCAT(ELT(1 + n % 10, 'Mug', 'T-shirt', 'Poster', 'Notebook', 'Cushion', 'Sweater', 'Frame', 'Sticker', 'Cap', 'Tote bag'), ' ',
                   ELT(1 + (n DIV 10) % 10, 'The best is yet to come', 'The adventure begins', 'Today is a good day', 'Hummingbird',
                       'Brown bear', 'Mountain fox', 'Graphic', 'Owl', 'Little wolf', 'Night sky'), ' #', n) AS name
  FROM seq)
SELECT n, 1, 1, CONCAT('<p>', name, ': stand-in product for dmx demos.</p>'), CONCAT('<p>', name, '</p>'),
       LOWER(REPLACE(REPLACE(name, ' #', '-'), ' ', '-')), name, name, 'In stock'
FROM names;
