#!/usr/bin/env bash
# Install the Prism mock server (validates outbound Twilio requests against Twilio's OpenAPI spec) into .tools/.
# Idempotent: `make test` can call it every time; the contract test finds .tools/node_modules/.bin/prism.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
prism="$root/.tools/node_modules/.bin/prism"
if [[ -x "$prism" ]]; then
  exit 0
fi
mkdir -p "$root/.tools"
npm install --no-audit --no-fund --prefix "$root/.tools" @stoplight/prism-cli@5
"$prism" --version
