#!/usr/bin/env bash
# Installs Debian's graphviz, which `make flows` uses to draw the rules, forms and triage protocols as SVG
# (docs/flows/). Idempotent and quick when it is there, so `make tools` (and .ci/run through it) can call it every time.
set -euo pipefail
if [ -x /usr/bin/dot ]; then
  exit 0
fi
echo "install_graphviz: installing Debian graphviz" >&2
source "$(dirname "${BASH_SOURCE[0]}")/lib/debian.sh"
apt_install graphviz
