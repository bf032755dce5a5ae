"""A real JupyterHub for the browser tests: configurable-http-proxy, login form, spawner.

JupyterHub from PyPI (test extra) and configurable-http-proxy from npm (installed into
``.hub/`` by scripts/setup.sh). No system users: SimpleLocalProcessSpawner runs the
single-user server (the project venv's ``jupyterhub-singleuser``) as this user, the
dummy authenticator takes one shared password. The single-user server inherits
``PYTHONPATH`` and ``PATH`` (``Spawner.env_keep``), so the tree under test is what runs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from harness import free_port, wait_for_server

REPO = Path(__file__).resolve().parents[2]
PROXY = REPO / ".hub" / "node_modules" / ".bin" / "configurable-http-proxy"
PASSWORD = "hub-test-password"
USER = "alice"
PORTS = range(8950, 9000)

CONFIG = """
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = {port}
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = {hub_port}
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{api_port}"
c.ConfigurableHTTPProxy.command = [{proxy!r}]
c.ConfigurableHTTPProxy.pid_file = {pid!r}
c.JupyterHub.db_url = "sqlite:///{db}"
c.JupyterHub.cookie_secret_file = {secret!r}
c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = {password!r}
c.Authenticator.allow_all = True
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = {home!r}
c.Spawner.cmd = [{singleuser!r}]
c.Spawner.args = {args!r}
c.Spawner.env_keep = ["PATH", "PYTHONPATH", "LANG", "LC_ALL", "JUPYTER_PLATFORM_DIRS"]
c.Spawner.environment = {environment!r}
c.Spawner.default_url = "/lab"
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120
c.Spawner.debug = True
"""


@dataclass
class Hub:
    url: str  # http://127.0.0.1:port/
    root: Path
    home: Path  # the user's home: the single-user server's root folder
    proc: subprocess.Popen
    log: Path

    @property
    def user_url(self) -> str:
        return f"{self.url}user/{USER}/"

    def tail(self, n: int = 60) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])


def get(url: str, headers: dict[str, str] | None = None, timeout: float = 30) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) of one GET; redirects are answers, not followed."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.build_opener(NoRedirect).open(req, timeout=timeout) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def start_hub(root: Path, environment: dict[str, str]) -> Hub:
    if not PROXY.exists():
        pytest.fail(f"{PROXY} is missing: run scripts/setup.sh (npm install --prefix .hub configurable-http-proxy)")
    if shutil.which("jupyterhub") is None and not (Path(sys.executable).parent / "jupyterhub").exists():
        pytest.fail("jupyterhub is not installed: pip install -e '.[test]'")
    port, hub_port, api_port = free_port(PORTS), 0, 0
    hub_port = free_port(range(port + 1, PORTS.stop))
    api_port = free_port(range(hub_port + 1, PORTS.stop))
    home = root / "home" / USER
    home.mkdir(parents=True)
    args = [f"--ServerApp.root_dir={home}", "--LabApp.expose_app_in_browser=True",
            "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    if os.geteuid() == 0:
        args.append("--allow-root")
    config = root / "jupyterhub_config.py"
    config.write_text(
        CONFIG.format(
            port=port, hub_port=hub_port, api_port=api_port, proxy=str(PROXY), pid=str(root / "proxy.pid"),
            db=root / "hub.sqlite", secret=str(root / "cookie_secret"), password=PASSWORD,
            home=str(root / "home" / "{username}"),
            singleuser=str(Path(sys.executable).parent / "jupyterhub-singleuser"),
            args=args, environment=environment,
        )
    )
    log = root / "hub.log"
    env = {**os.environ, "JUPYTER_PLATFORM_DIRS": "1"}
    exe = str(Path(sys.executable).parent / "jupyterhub")
    proc = subprocess.Popen(
        [exe, "-f", str(config)], stdout=open(log, "w"), stderr=subprocess.STDOUT, cwd=root, env=env  # noqa: SIM115
    )
    hub = Hub(f"http://127.0.0.1:{port}/", root, home, proc, log)
    wait_for_server(
        proc, log, lambda: get(hub.url + "hub/login", timeout=3)[0], 90, "jupyterhub",
        until=lambda status: status == 200, stop=lambda: stop_hub(hub),
    )
    return hub


def stop_hub(hub: Hub) -> None:
    """SIGTERM: the Hub stops the single-user server and the proxy it started."""
    hub.proc.terminate()
    try:
        hub.proc.wait(30)
    except subprocess.TimeoutExpired:
        hub.proc.kill()
        hub.proc.wait(5)
    pid_file = hub.root / "proxy.pid"
    if pid_file.exists():  # a proxy left behind by a killed Hub
        try:
            os.kill(int(pid_file.read_text().strip()), 15)
        except (OSError, ValueError):
            pass


def log_in_and_start(page: Any, hub: Hub) -> None:
    """The real login form, then the Hub's start button (Hub 6 does not spawn from a deep link)."""
    page.goto(hub.url + "hub/login")
    page.fill("#username_input", USER)
    page.fill("#password_input", PASSWORD)
    page.click("#login_submit")
    page.wait_for_url("**/hub/**")
    page.goto(hub.url + "hub/home")
    page.locator("#start").click()
    page.wait_for_url(f"**/user/{USER}/lab**", timeout=150_000)
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell", timeout=120_000)


@pytest.fixture(scope="module")
def hub(tmp_path_factory) -> Iterator[Hub]:
    root = tmp_path_factory.mktemp("hub")
    from tilemaker_widget.sample import write_sample

    maps = root / "maps"
    maps.mkdir()
    # A small 6′ I/Q/U map over RA −60…60°, Dec −30…10°: the single-user server's catalogue.
    paths = write_sample(maps, res_arcmin=6.0, dec_range=(-30.0, 10.0), ra_range=(60.0, -60.0), n_sources=20)
    server = start_hub(root, {"TILEMAKER_CONFIG_PATH": str(paths["config"])})
    server.paths = paths  # type: ignore[attr-defined]
    yield server
    stop_hub(server)
