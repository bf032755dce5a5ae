#!/usr/bin/env bash
# Set up, then open the viewer on a generated ACT-like sample map (I/Q/U at 2′, an
# inverse-variance map, a source catalogue and a box) written to a temporary folder
# that is removed on exit. Prints the URL (token included). Ctrl-C stops it.
# Extra arguments go to `tilemaker-widget dev` (e.g. --port 8888 --res 1).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/tilemaker-widget dev "$@"
