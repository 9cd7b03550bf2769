#!/usr/bin/env bash
# Debian packages OpenCoO needs on a development or CI machine. Installs what is missing when run
# as root; otherwise prints the command to run. Fast when everything is there (dpkg only).
set -euo pipefail

packages=(
  rabbitmq-server                         # the broker
  softhsm2 opensc                         # PKCS#11 tokens for agency keys and exporter DSCs
  libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b libharfbuzz-subset0 fonts-dejavu-core  # WeasyPrint
  poppler-utils                           # pdfsig: an outside check of signed PDFs
  openssl                                 # openssl cms: outside signatures in tests
  postgresql                              # tests run the chassis on PostgreSQL too
  chromium                                # the portal's tests drive it with Playwright
  python3-venv
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "Missing system packages: ${missing[*]}" >&2
  echo "Install them with: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "Installing system packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
