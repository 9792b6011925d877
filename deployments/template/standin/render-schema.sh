#!/usr/bin/env bash
# Prints the stand-in template schema + data for table prefix PREFIX (default ps_) on stdout.
# Usage: render-schema.sh [PREFIX] | mariadb DBNAME
set -euo pipefail
PREFIX="${1-ps_}"
[[ "$PREFIX" =~ ^[A-Za-z0-9_]*$ ]] || { echo "render-schema.sh: invalid prefix: $PREFIX" >&2; exit 2; }
sed "s/{prefix}/${PREFIX}/g" "$(dirname "${BASH_SOURCE[0]}")/schema.sql.tpl"
