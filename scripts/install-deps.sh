#!/usr/bin/env bash
# Installs every Debian package Reach needs to build, test, run and benchmark.
# Idempotent: packages already present are skipped; apt-get runs only when something is missing.
set -euo pipefail

PKGS=(
  build-essential cmake ninja-build pkg-config git
  libcurl4-openssl-dev libssl-dev
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libsqlitecpp-dev libsqlite3-dev sqlite3
  libspdlog-dev libfmt-dev libcxxopts-dev libyaml-cpp-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libsystemd-dev systemd libjemalloc-dev
  python3 python3-aiosmtpd
  postfix
  clang libclang-rt-14-dev clang-format
  wrk curl procps openssl
)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
# postfix asks debconf questions; answer them up front (no local delivery is configured or started).
echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections || true
echo "postfix postfix/mailname string reach.localdomain" | $SUDO debconf-set-selections || true
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
