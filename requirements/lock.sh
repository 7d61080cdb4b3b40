#!/usr/bin/env bash
# Regenerates requirements/lock.txt: Rasa 3.6.21 declares Python <3.11, so the whole set is resolved for 3.10
# and installed with --ignore-requires-python. matplotlib 3.5.3 (Rasa's pin) has no 3.11 wheel: 3.6.3 replaces it.
set -euo pipefail
cd "$(dirname "$0")"
command -v uv >/dev/null || python3 -m pip install -q uv
uv pip compile --quiet --python-version 3.10 --no-header requirements.in -o lock.txt
sed -i 's/^matplotlib==3.5.3$/matplotlib==3.6.3/' lock.txt
grep -q '^contourpy==' lock.txt || printf 'contourpy==1.2.1\n    # via matplotlib (3.6 needs it)\n' >> lock.txt
