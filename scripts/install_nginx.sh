#!/usr/bin/env bash
# Installs Debian's nginx, the load balancer of `make run-production` (carebot/production.py runs it as the user, on
# loopback, with its own config under var/; the package's system service is not used). Idempotent and quick when it
# is there, so `make tools` (and .ci/run through it) can call it every time.
set -euo pipefail
if [ -x /usr/sbin/nginx ]; then
  exit 0
fi
echo "install_nginx: installing Debian nginx" >&2
source "$(dirname "${BASH_SOURCE[0]}")/lib/debian.sh"
# policy-rc.d 101: the package must not start its own nginx on port 80 (we run ours when asked).
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod +x /usr/sbin/policy-rc.d
  trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
fi
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends nginx-light >/dev/null 2>&1 \
  || $SUDO apt-get install -y -qq --no-install-recommends nginx >/dev/null
