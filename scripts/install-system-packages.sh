#!/usr/bin/env bash
# Install the Debian packages named as arguments, but only those that are missing.
#
#   scripts/install-system-packages.sh libpango-1.0-0 fonts-noto-cjk ...
#
# Runs `apt-get update` once, and only when something is missing. Needs root or password-less
# sudo; without either it prints what to install and exits 0 so `make run` can go on (the
# feature that needs the package then degrades: e.g. slow CJK PDFs, skipped browser tests).
# Set SYSTEM_PACKAGES_REQUIRED=1 to make that case an error instead (CI does).
set -euo pipefail

if [ "$#" -eq 0 ]; then
  echo "usage: $0 PACKAGE..." >&2
  exit 2
fi

if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
  echo "system packages: not a Debian/Ubuntu system; install the equivalents of: $*" >&2
  exit 0
fi

missing=()
for pkg in "$@"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  if [ "$status" != "install ok installed" ]; then
    missing+=("$pkg")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  as_root=(sudo -n)
else
  echo "system packages: SKIPPED, need root to install: ${missing[*]}" >&2
  echo "  run: sudo apt-get update && sudo apt-get install ${missing[*]}" >&2
  if [ "${SYSTEM_PACKAGES_REQUIRED:-}" = "1" ]; then
    exit 1
  fi
  exit 0
fi

echo "system packages: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq --no-install-recommends \
  -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}" </dev/null
