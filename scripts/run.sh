#!/usr/bin/env bash
# Builds the web app and the server (release) and runs Auditlog on SQLite at http://127.0.0.1:8080.
# Extra arguments go to auditlog-server (see `--help`); the environment variables of the README's
# configuration table work too.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. scripts/setup.sh

echo "==> building the web app (trunk, release)" >&2
cargo fetch --locked >/dev/null
trunk build --release
echo "==> building the server (release)" >&2
cargo build --release --locked -p auditlog-api --bin auditlog-server

exec ./target/release/auditlog-server --static-dir dist "$@"
