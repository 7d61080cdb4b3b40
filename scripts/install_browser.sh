#!/usr/bin/env bash
# Installs what the staff-inbox browser test needs: Debian's headless Chromium and playwright-core (npm) under .tools/.
# Idempotent and quick when both are already there, so `make test` and .ci/run can call it every time.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PLAYWRIGHT_VERSION="${PLAYWRIGHT_CORE_VERSION:-1.65.1}"

if [ ! -x /usr/bin/chromium ]; then
  echo "install_browser: installing Debian chromium" >&2
  source "$ROOT/scripts/lib/debian.sh"
  apt_install chromium fonts-dejavu-core
fi

installed="$(sed -n 's/^  "version": "\(.*\)",$/\1/p' "$ROOT/.tools/node_modules/playwright-core/package.json" 2>/dev/null || true)"
if [ "$installed" != "$PLAYWRIGHT_VERSION" ]; then
  echo "install_browser: installing playwright-core@$PLAYWRIGHT_VERSION into .tools/" >&2
  mkdir -p "$ROOT/.tools"
  # PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD: playwright-core never downloads browsers, but be explicit; we use /usr/bin/chromium.
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --silent --no-audit --no-fund --prefix "$ROOT/.tools" \
    "playwright-core@$PLAYWRIGHT_VERSION" >/dev/null
fi
