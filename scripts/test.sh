#!/usr/bin/env bash
# Runs every check and test: formatting, clippy, the WebAssembly build of the web app, unit and
# property tests, integration tests on SQLite and PostgreSQL, end-to-end tests of the real
# binaries, and the browser tests in headless Chromium.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. scripts/setup.sh --browser

# The PostgreSQL tests create and drop their own databases on the local server.
if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  echo "==> starting PostgreSQL" >&2
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start
  for _ in $(seq 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi

echo "==> cargo fmt" >&2
cargo fmt --all -- --check

echo "==> cargo clippy" >&2
cargo fetch --locked >/dev/null
cargo clippy --locked --workspace --exclude auditlog-web --all-targets -- -D warnings
cargo clippy --locked -p auditlog-web --target wasm32-unknown-unknown -- -D warnings

echo "==> trunk build (the web app, release WebAssembly)" >&2
trunk build --release

echo "==> cargo build (the binaries the end-to-end tests run)" >&2
cargo build --locked --workspace --exclude auditlog-web --bins

echo "==> cargo test" >&2
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
cargo test --locked --workspace --exclude auditlog-web 2>&1 | tee "$log"
# One closing line for every test binary together.
awk '/^test result:/ { passed += $4; failed += $6 } END { printf "tests: %d passed, %d failed\n", passed, failed }' "$log"
