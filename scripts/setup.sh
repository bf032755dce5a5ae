#!/usr/bin/env bash
# Idempotent set-up of a fresh machine: system packages (chromium for the browser tests,
# memcached and nginx for the multi-process tests), a project venv in .venv with the
# package installed editable plus its test extras, and the front-end bundle.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
command -v memcached >/dev/null 2>&1 || need_apt+=(memcached)
command -v nginx >/dev/null 2>&1 || need_apt+=(nginx-light)
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)  # nginx test: self-signed cert
command -v curl >/dev/null 2>&1 || need_apt+=(curl)        # nginx test: HTTP/2 client
# Catalogue tests: a throw-away PostgreSQL cluster (tests/pgserver.py runs initdb/pg_ctl).
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || need_apt+=(postgresql)
if [ ${#need_apt[@]} -gt 0 ]; then
    echo "setup: installing ${need_apt[*]} (Debian)"
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    echo "setup: creating .venv"
    "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null

echo "setup: building the front end (js/)"
if [ -f js/package-lock.json ]; then
    npm --prefix js ci --no-audit --no-fund --loglevel=error
else
    npm --prefix js install --no-audit --no-fund --loglevel=error
fi
npm --prefix js run build --silent

echo "setup: building the JupyterLab extension (labextension/)"
# @jupyterlab/builder reads the installed JupyterLab's core packages: JupyterLab first.
.venv/bin/python -m pip install -q "jupyterlab>=4.2"
if [ -f labextension/package-lock.json ]; then
    npm --prefix labextension ci --no-audit --no-fund --loglevel=error
else
    npm --prefix labextension install --no-audit --no-fund --loglevel=error
fi
PYTHON="$PWD/.venv/bin/python" npm --prefix labextension run build --silent >/dev/null

echo "setup: installing tilemaker-widget (editable) with test extras"
SKIP_JUPYTER_BUILDER=1 .venv/bin/python -m pip install -q -e ".[test,docs]"
.venv/bin/python -m pip install -q --no-deps tilemaker==3.1.0  # its viewer, served at tilemaker/tm/ (tests)
if [ ! -x benchmarks/out/tm-venv/bin/tilemaker ]; then
    # TileMaker itself with all its dependencies, apart from ours: the compatibility
    # tests (tests/test_derived_combination.py) and benchmarks/bench_tiles.py run it.
    echo "setup: TileMaker 3.1 in its own venv (benchmarks/out/tm-venv)"
    mkdir -p benchmarks/out
    "$PY" -m venv benchmarks/out/tm-venv
    benchmarks/out/tm-venv/bin/python -m pip install -q tilemaker==3.1.0
fi
if [ ! -x .hub/node_modules/.bin/configurable-http-proxy ]; then
    # JupyterHub's proxy, for the real-Hub browser tests (tests/browser/test_jupyterhub.py).
    echo "setup: configurable-http-proxy (npm) into .hub/"
    npm install --prefix .hub --no-audit --no-fund --loglevel=error configurable-http-proxy@5
fi
echo "setup: done"
