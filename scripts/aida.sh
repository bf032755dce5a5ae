#!/usr/bin/env bash
# Astropy's image display API: its own ImageAPITest suite, plus ours, against TileViewer,
# in a Python 3.12 venv (.venv-aida; astro-image-display-api needs Python >= 3.12).
# Uses $PYTHON312, else pyenv's 3.12, else python3.12 on PATH. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
PY312=${PYTHON312:-}
if [ -z "$PY312" ] && command -v pyenv >/dev/null 2>&1; then
    PY312=$(ls -d "$(pyenv root)"/versions/3.12*/bin/python3.12 2>/dev/null | tail -1 || true)
fi
[ -n "$PY312" ] || PY312=$(command -v python3.12 || true)
if [ -z "$PY312" ]; then
    echo "aida: no Python 3.12 found (set PYTHON312)" >&2
    exit 1
fi
VENV=.venv-aida
[ -x "$VENV/bin/python" ] || "$PY312" -m venv "$VENV"
# The package's own dependencies (from pyproject.toml) and the API package; the
# package itself is used from this tree (PYTHONPATH), so no front-end build is needed.
"$VENV/bin/python" - > "$VENV/requirements.txt" <<'PY'
import tomllib
project = tomllib.load(open("pyproject.toml", "rb"))["project"]
print("\n".join(project["dependencies"] + project["optional-dependencies"]["aida"] + ["pytest>=8"]))
PY
"$VENV/bin/python" -m pip install -q -r "$VENV/requirements.txt"
# tests/conftest.py needs the Jupyter test plugins of the main venv: stop conftest
# discovery at tests/aida.
PYTHONPATH="$PWD" "$VENV/bin/python" -m pytest tests/aida --confcutdir=tests/aida -q -p no:cacheprovider "$@"
