"""A notebook with TileViewer served as a Voilà dashboard draws its tiles, in chromium.

Two ways Voilà runs: standalone (``voila nb.ipynb``, its own tornado application with
no server extensions: tiles come over the widget's comm) and as a jupyter-server
extension beside ours (``{base_url}voila/render/nb.ipynb``: tiles over HTTP from the
extension, with the server's token auth).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import pytest
from harness import (
    BASE,
    TOKEN,
    free_port,
    lut,
    read_state,
    wait_colours,
    wait_for_server,
    wait_tiles,
    write_notebook,
)

pytestmark = pytest.mark.browser

CODE = (
    "import os; pathlib.Path({pid!r}).write_text(str(os.getpid()))\n"
    "v = TileViewer({path!r}, cmap='RdBu_r', vmin=-100, vmax=100, zoom=3, center=[30, 0], height=500)"
)


def _wait_http(url: str, proc: subprocess.Popen, log: Path, timeout: float = 90.0) -> None:
    def probe() -> None:
        with urllib.request.urlopen(url, timeout=5):
            pass

    wait_for_server(proc, log, probe, timeout, f"the server at {url}")  # stopped by the caller's _stop


def _stop(proc: subprocess.Popen, kernel_pid_file: Path) -> None:
    """SIGTERM (Voilà then shuts its kernels down), then the kernel by its PID if it lingers."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
    try:
        os.kill(int(kernel_pid_file.read_text()), signal.SIGKILL)
    except (OSError, ValueError):
        pass


def _notebook(root: Path, map_path: Path) -> tuple[str, Path, Path]:
    pid = root / "kernel.pid"
    name, state = write_notebook(SimpleNamespace(root=root), CODE.format(pid=str(pid), path=str(map_path)), "dash.ipynb")
    return name, state, pid


def _tile_requests(page) -> list[str]:
    seen: list[str] = []
    page.on("request", lambda r: seen.append(r.url) if "/tile." in r.url else None)
    return seen


def _drawn_in_colormap(page) -> None:
    wait_tiles(page, timeout=120)
    low, high = lut("RdBu_r")[0], lut("RdBu_r")[255]
    res = wait_colours(page, [low, high])
    # The map's two halves (−100 and +100 μK) in the colormap's end colours.
    assert res["counts"][0] > 1000 and res["counts"][1] > 1000, res


def test_standalone_voila_draws_over_the_comm(tmp_path, page, two_value_map):
    name, state, pid = _notebook(tmp_path, two_value_map)
    port = free_port()
    log = tmp_path / "voila.log"
    cmd = [sys.executable, "-m", "voila", str(tmp_path / name), "--no-browser", f"--port={port}", "--Voila.ip=127.0.0.1"]
    proc = subprocess.Popen(cmd, stdout=open(log, "w"), stderr=subprocess.STDOUT, cwd=tmp_path)
    try:
        url = f"http://127.0.0.1:{port}/"
        _wait_http(url, proc, log)
        seen = _tile_requests(page)
        page.goto(url)
        _drawn_in_colormap(page)
        s = read_state(state, lambda s: s["_render_count"] >= 1, timeout=60)
        assert s["_transport"] == "comm" and s["_error"] == ""
        assert seen == []  # no tile over HTTP: standalone Voilà has no tilemaker routes
    finally:
        _stop(proc, pid)


def test_voila_server_extension_draws_over_http(tmp_path, page, two_value_map):
    name, state, pid = _notebook(tmp_path, two_value_map)
    port = free_port()
    log = tmp_path / "server.log"
    cmd = [
        sys.executable, "-m", "jupyter_server", "--no-browser", "--allow-root",
        "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={TOKEN}", f"--ServerApp.base_url={BASE}", f"--ServerApp.root_dir={tmp_path}",
        # A Dict trait on the command line takes Python literals (FIELD-NOTES).
        "--ServerApp.jpserver_extensions={'voila.server_extension': True, 'tilemaker_widget': True}",
    ]  # fmt: skip
    env = {**os.environ, "JUPYTER_PLATFORM_DIRS": "1"}
    proc = subprocess.Popen(cmd, stdout=open(log, "w"), stderr=subprocess.STDOUT, cwd=tmp_path, env=env)
    try:
        base = f"http://127.0.0.1:{port}{BASE}"
        _wait_http(f"{base}api/status?token={TOKEN}", proc, log)
        seen = _tile_requests(page)
        page.goto(f"{base}voila/render/{name}?token={TOKEN}")
        _drawn_in_colormap(page)
        s = read_state(state, lambda s: s["_transport"] == "http" and s["_render_count"] >= 1, timeout=60)
        assert s["_error"] == ""
        assert seen and all(u.startswith(f"{base}tilemaker/layers/") for u in seen)
    finally:
        _stop(proc, pid)
