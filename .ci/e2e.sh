#!/usr/bin/env bash
# Browser end-to-end tests of the web UI: Debian's Chromium driven by playwright-core
# (tests/e2e/), against `tongdai demo` built in debug. Run from anywhere: bash .ci/e2e.sh
#
# Installs what is missing and nothing else: chromium (apt) only when /usr/bin/chromium is
# absent, tests/e2e/node_modules (npm ci) only when absent or installed from another package-lock.json.
# Screenshots and the server log land in tests/e2e/artifacts/ (gitignored).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

if [ ! -x /usr/bin/chromium ]; then
  echo "e2e: installing chromium (apt)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y chromium
fi

# npm ci when node_modules is missing or was installed from another lockfile.
E2E="$ROOT/tests/e2e"
STAMP="$E2E/node_modules/.e2e-lock.sha256"
LOCK_SUM="$(sha256sum "$E2E/package-lock.json" | cut -d' ' -f1)"
if [ ! -f "$E2E/node_modules/playwright-core/package.json" ] || [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$LOCK_SUM" ]; then
  echo "e2e: npm ci in tests/e2e"
  (cd "$E2E" && npm ci --no-audit --no-fund)
  echo "$LOCK_SUM" > "$STAMP"
fi

# cargo only rebuilds when the sources changed since the last build. E2E_TONGDAI_BIN set
# means "test this binary" and skips the build.
if [ -z "${E2E_TONGDAI_BIN:-}" ]; then
  cargo build --bin tongdai
  E2E_TONGDAI_BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug/tongdai"
  export E2E_TONGDAI_BIN
fi

set +e
node --test tests/e2e/
status=$?
set -e
exit "$status"
