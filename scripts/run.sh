#!/usr/bin/env bash
# Builds the web app and the server (release) and runs Auditlog on SQLite at http://127.0.0.1:8080.
# On the first run (no SQLite database file yet) it first fills the database with a month of demo
# history made through the real API (`auditlog-server demo`); the demo admin's sign-in is kept in
# <data dir>/demo-credentials.txt and printed with the address on every run.
# Extra arguments are flags of auditlog-server (see `--help`); the environment variables of the
# README's configuration table work too.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# setup.sh reads its own arguments, so it is sourced without ours.
server_args=("$@")
set --
. scripts/setup.sh

echo "==> building the web app (trunk, release)" >&2
cargo fetch --locked >/dev/null
trunk build --release
echo "==> building the server (release)" >&2
cargo build --release --locked -p auditlog-api --bin auditlog-server
server=./target/release/auditlog-server

# Where the data lives, as the server will read it: flags win over the environment.
database_url="${DATABASE_URL:-sqlite://./data/auditlog.db}"
data_dir="${AUDITLOG_DATA_DIR:-./data}"
previous=""
for argument in "${server_args[@]}"; do
  case "$previous" in
    --database-url) database_url="$argument" ;;
    --data-dir) data_dir="$argument" ;;
  esac
  case "$argument" in
    --database-url=*) database_url="${argument#--database-url=}" ;;
    --data-dir=*) data_dir="${argument#--data-dir=}" ;;
  esac
  previous="$argument"
done
credentials="$data_dir/demo-credentials.txt"

case "$database_url" in
  sqlite:*)
    database_file="${database_url#sqlite:}"
    database_file="${database_file#//}"
    if [ ! -e "$database_file" ]; then
      echo "==> first run: seeding a month of demo history into $database_file" >&2
      if ! "$server" demo "${server_args[@]}"; then
        # Leave no half-seeded database behind: the next run seeds again.
        rm -f "$database_file" "$database_file-wal" "$database_file-shm"
        echo "error: seeding the demo history failed (see above); nothing was kept" >&2
        exit 1
      fi
    fi
    ;;
esac

echo "==> starting Auditlog" >&2
# The server prints its address on standard output once it listens; the sign-in follows it.
"$server" --static-dir dist "${server_args[@]}" | while IFS= read -r line; do
  printf '%s\n' "$line"
  case "$line" in
    "Auditlog is listening on "*)
      printf '\n    Open %s\n' "${line#Auditlog is listening on }"
      if [ -f "$credentials" ]; then
        printf '    %s\n' "$(cat "$credentials")"
      fi
      printf '\n'
      ;;
  esac
done
