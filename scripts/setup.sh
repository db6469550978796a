#!/usr/bin/env bash
# Installs what building and testing Auditlog needs, skipping whatever is already there.
# Everything comes from the package registries: Debian's packages, crates.io and npm.
#
#   scripts/setup.sh            build tools: wasm32 target, trunk, wasm-bindgen-cli, wasm-opt
#   scripts/setup.sh --browser  also what only the tests need: Chromium and ChromeDriver, axe-core,
#                               and schemathesis (the API contract test)
#
# Source it (`. scripts/setup.sh`) to get the tools on PATH in the calling shell.

set -euo pipefail

TRUNK_VERSION=0.21.14
WASM_BINDGEN_VERSION=0.2.130   # must equal wasm-bindgen in Cargo.lock
BINARYEN_VERSION=132           # wasm-opt; never Debian's binaryen (its version 108 breaks the app)
AXE_CORE_VERSION=4.14.1        # the accessibility audit the browser tests run in the page
SCHEMATHESIS_VERSION=4.32.5    # the API contract test (PyPI), in a virtualenv under .tools/

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$HOME/.cargo/bin:$repo_root/.tools/binaryen/node_modules/.bin:$PATH"
export TRUNK_SKIP_VERSION_CHECK=true

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

apt_updated=""
need_debian_packages() {
  local missing=()
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
      || missing+=("$package")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  say "installing Debian packages: ${missing[*]}"
  if [ -z "$apt_updated" ]; then
    $sudo apt-get update -qq
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

with_browser=""
for argument in "$@"; do
  case "$argument" in
    --browser) with_browser=1 ;;
    *) echo "usage: scripts/setup.sh [--browser]" >&2; exit 2 ;;
  esac
done

# C libraries of the -sys crates: libpq for PostgreSQL, OpenSSL for HTTPS.
need_debian_packages libpq-dev libssl-dev pkg-config
[ -n "$with_browser" ] && need_debian_packages chromium chromium-driver

if ! rustup target list --installed | grep -q '^wasm32-unknown-unknown$'; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

if [ "$(trunk --version 2>/dev/null)" != "trunk $TRUNK_VERSION" ]; then
  say "installing trunk $TRUNK_VERSION from crates.io (about 18 minutes on 2 cores)"
  cargo install --locked trunk --version "$TRUNK_VERSION"
fi

if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $WASM_BINDGEN_VERSION" ]; then
  say "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION from crates.io (about 8 minutes)"
  # Not --locked: its lock file names a dependency version the registry no longer serves.
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
fi

if ! wasm-opt --version 2>/dev/null | grep -q "version $BINARYEN_VERSION"; then
  say "installing wasm-opt (binaryen@$BINARYEN_VERSION) from npm into .tools/"
  npm install --silent --no-audit --no-fund --prefix "$repo_root/.tools/binaryen" "binaryen@$BINARYEN_VERSION"
fi

axe_package="$repo_root/.tools/axe/node_modules/axe-core/package.json"
if [ -n "$with_browser" ] && ! grep -q "\"version\": \"$AXE_CORE_VERSION\"" "$axe_package" 2>/dev/null; then
  say "installing axe-core@$AXE_CORE_VERSION from npm into .tools/ (the browser tests' accessibility audit)"
  npm install --silent --no-audit --no-fund --prefix "$repo_root/.tools/axe" "axe-core@$AXE_CORE_VERSION"
fi

schemathesis="$repo_root/.tools/schemathesis/bin/st"
if [ -n "$with_browser" ] && ! "$schemathesis" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
  say "installing schemathesis $SCHEMATHESIS_VERSION from PyPI into .tools/ (the API contract test)"
  python3 -m venv "$repo_root/.tools/schemathesis"
  "$repo_root/.tools/schemathesis/bin/pip" install --quiet --disable-pip-version-check \
    "schemathesis==$SCHEMATHESIS_VERSION"
fi
