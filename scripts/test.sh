#!/usr/bin/env bash
# The whole test suite from a fresh clone: set-up, lint, JS unit tests, Python tests
# (engine, catalogue, server through a real jupyter server, widget, notebooks), then
# the browser tests (real JupyterLab + headless Debian chromium) in their own run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
echo "== lint"
ruff check tilemaker_widget tests benchmarks
echo "== docs"
mkdocs build --strict --quiet
echo "== js unit tests"
npm --prefix js test --silent
npm --prefix js run typecheck --silent
echo "== python tests"
python -m pytest tests --ignore=tests/browser --ignore=tests/aida -q -p no:cacheprovider  # tests/aida: below, in 3.12
echo "== astropy image display API suite (Python 3.12 venv)"
bash scripts/aida.sh
if [ -d tests/browser ]; then
    echo "== browser tests"
    python -m pytest tests/browser -q -p no:cacheprovider
fi
