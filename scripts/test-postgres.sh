#!/usr/bin/env bash
# Print the PostgreSQL server URL the test suite should use, or exit 1 if none is reachable.
#
#   url=$(scripts/test-postgres.sh) && TEST_DATABASE_URL=$url pytest ...
#
# TEST_DATABASE_URL wins when set; otherwise the local server at 127.0.0.1:5432 as user
# postgres (database postgres). tests/conftest.py creates a fresh database on that server per
# run and drops it afterwards. PYTHON (default .venv/bin/python) makes a real connection, so a
# server that answers but refuses the login counts as unreachable.
set -euo pipefail

default_url="postgresql://postgres@127.0.0.1:5432/postgres"
url="${TEST_DATABASE_URL:-$default_url}"
python="${PYTHON:-.venv/bin/python}"

if [ -z "${TEST_DATABASE_URL:-}" ] && command -v pg_isready >/dev/null 2>&1; then
  if ! pg_isready -q -h 127.0.0.1 -p 5432 -t 3; then
    echo "PostgreSQL: nothing accepting connections at 127.0.0.1:5432" >&2
    exit 1
  fi
fi

"$python" - "$url" <<'EOF'
import sys

import psycopg

url = sys.argv[1].replace("postgresql+psycopg://", "postgresql://", 1)
try:
    psycopg.connect(url, connect_timeout=3).close()
except Exception as exc:  # noqa: BLE001 - any failure means "not usable for the tests"
    print(f"PostgreSQL: cannot connect to {url}: {exc}".strip(), file=sys.stderr)
    sys.exit(1)
EOF
echo "$url"
