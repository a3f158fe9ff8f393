#!/usr/bin/env bash
# Installs the Debian packages gridmap's tests use, when they are missing and we are root:
#   postgresql-15-postgis-3  real PostgreSQL + PostGIS for the store contract tests
#   chromium                 headless browser for the portal tests (driven by Playwright)
#   gdal-bin                 ogrinfo, to prove the GeoPackage store opens in GDAL/QGIS
#   fonts-noto-cjk           Chinese glyphs for screenshots, PDF grid cards and plots
#   poppler-utils            pdftotext, to read the filing PDF (报备) back in tests
#   curl                     the README's Open311 and Traccar commands, run by a test
#   python3-qgis             QGIS itself (headless), to prove demo.gpkg opens styled and titled
set -euo pipefail
need=()
[ -x /usr/lib/postgresql/15/bin/initdb ] && [ -f /usr/share/postgresql/15/extension/postgis.control ] || need+=(postgresql-15-postgis-3)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v ogrinfo >/dev/null 2>&1 || need+=(gdal-bin)
[ -d /usr/share/fonts/opentype/noto ] || need+=(fonts-noto-cjk)
command -v pdftotext >/dev/null 2>&1 || need+=(poppler-utils)
command -v curl >/dev/null 2>&1 || need+=(curl)
/usr/bin/python3 -c "import qgis.core" >/dev/null 2>&1 || need+=(python3-qgis qgis-providers)
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" != "0" ]; then
  echo "gridmap tests need these Debian packages: ${need[*]}" >&2
  echo "Install them (sudo apt-get install ${need[*]}) or run as root." >&2
  exit 1
fi
echo "Installing system packages: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
