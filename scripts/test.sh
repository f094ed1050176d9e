#!/usr/bin/env bash
# Install everything the tests need and run the whole suite: once on SQLite, then the profile-store,
# engine and API tests again on the PostgreSQL at 127.0.0.1:5432.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start || true
fi

python3 -m venv .venv
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q -e '.[dev]'

.venv/bin/pytest -q -p no:randomly "$@"
DATABASE_URL="postgres://postgres@127.0.0.1:5432/wsync_ci" .venv/bin/pytest -q -m "not browser" \
    tests/profiles tests/sync tests/api tests/test_mapping.py \
    tests/security/test_input_bad_values.py tests/security/test_signin_throttle.py
