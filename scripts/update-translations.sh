#!/usr/bin/env bash
# Extract the messages of each package and update its Chinese catalogue (`make translations`).
#
#   scripts/update-translations.sh [PACKAGE...]    (default: core and every package it loads)
#
# Each package keeps its own catalogue, <package>/translations/zh_Hans_CN/LC_MESSAGES/messages.po,
# built from <package>/*.py and templates/<package>/. The core's also covers the shared
# templates (base.html, _forms.html, errors/, pdf/). Flask-Babel merges all catalogues at
# run time (core/i18n.py). New msgids arrive untranslated (or fuzzy, when close to an old one):
# translate them, then `make compile-translations`. Removed msgids are dropped.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bin="${VENV:-.venv}/bin"
# The platform's default locale is zh_CN; Babel names it by its CLDR identifier zh_Hans_CN, and
# that is the folder Flask-Babel's lookup finds (gettext tries zh_Hans_CN, then zh, never zh_CN).
locale="zh_Hans_CN"
version=$("$bin/python" -c 'from core.config import VERSION; print(VERSION)')
if [ "$#" -gt 0 ]; then
  packages=("$@")   # e.g. `scripts/update-translations.sh core accounts`
else
  packages=(core $("$bin/python" -c 'from core import PACKAGES; print(*PACKAGES)'))
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for pkg in "${packages[@]}"; do
  inputs=("$pkg")
  [ -d "templates/$pkg" ] && inputs+=("templates/$pkg")
  if [ "$pkg" = core ]; then
    for shared in templates/*.html templates/errors templates/pdf; do
      [ -e "$shared" ] && inputs+=("$shared")
    done
  fi
  pot="$tmp/$pkg.pot"
  "$bin/pybabel" -q extract -F babel.cfg --add-comments=TRANSLATORS: \
    --project="Judicial auction platform ($pkg)" --version="$version" \
    --copyright-holder="the platform's authors" -o "$pot" "${inputs[@]}"
  if ! grep -q '^msgid "[^"]' "$pot"; then
    echo "$pkg: no messages"
    continue
  fi
  catalogue="$pkg/translations/$locale/LC_MESSAGES/messages.po"
  if [ -f "$catalogue" ]; then
    "$bin/pybabel" -q update --ignore-obsolete --no-fuzzy-matching -i "$pot" -d "$pkg/translations" -l "$locale"
  else
    "$bin/pybabel" -q init -i "$pot" -d "$pkg/translations" -l "$locale"
  fi
  "$bin/python" - "$catalogue" <<'EOF'
import sys

from babel.messages.pofile import read_po

path = sys.argv[1]
with open(path, "rb") as fh:
    catalog = read_po(fh)
todo = [m.id for m in catalog if m.id and (not m.string or m.fuzzy)]
print(f"{path}: {len(catalog) - len(todo)} of {len(catalog)} translated")
for msgid in todo:
    print(f"  to translate: {msgid if isinstance(msgid, str) else msgid[0]!r}")
EOF
done
