"""Real processes for the server tests: memcached, `jupyter server`, nginx.

Every helper starts one process on a free port in 8700–8799, waits (bounded) until
it answers, and has a ``stop()`` that always ends it (SIGTERM, then SIGKILL). The
fixtures in the test modules call ``stop()`` in their finalizers.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

PORTS = range(8700, 8800)
HERE = Path(__file__).resolve().parent
REPO = HERE.parent
_taken: set[int] = set()
_lock = threading.Lock()


def free_port() -> int:
    """A port in 8700–8799 nobody listens on (random order: other runs share the range)."""
    candidates = list(PORTS)
    random.shuffle(candidates)
    with _lock:
        for port in candidates:
            if port in _taken:
                continue
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    continue
            _taken.add(port)
            return port
    raise RuntimeError("no free port in 8700–8799")


def _stop(proc: subprocess.Popen | None, sig: int = signal.SIGTERM, timeout: float = 10.0) -> None:
    if proc is None or proc.poll() is not None:
        return
    try:
        proc.send_signal(sig)
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def _tail(path: Path, n: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return ""


# -- HTTP --------------------------------------------------------------------
class Reply:
    def __init__(self, status: int, body: bytes, headers) -> None:
        self.status, self.body = status, body
        self.headers = dict(headers)
        self.cookies = {
            c.split("=", 1)[0]: c.split(";", 1)[0].split("=", 1)[1]
            for c in (headers.get_all("Set-Cookie") or [])
        }

    def json(self):
        return json.loads(self.body)

    def __repr__(self) -> str:
        return f"<Reply {self.status} {self.body[:200]!r}>"


def http(
    url: str,
    token: str | None = None,
    method: str = "GET",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 30.0,
) -> Reply:
    """One request; any status is returned (never raised)."""
    h = dict(headers or {})
    if token:
        h["Authorization"] = f"token {token}"
    if body is not None:
        h.setdefault("Content-Type", "application/json")
    req = urllib.request.Request(url, data=body, method=method, headers=h)
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(req, timeout=timeout) as r:
            return Reply(r.status, r.read(), r.headers)
    except urllib.error.HTTPError as e:
        return Reply(e.code, e.read(), e.headers)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # a 302 to the login page is an answer
        return None


# -- memcached ---------------------------------------------------------------
class Memcached:
    def __init__(self, port: int | None = None, memory_mb: int = 64, extra: list[str] | None = None) -> None:
        self.port = port or free_port()
        self.memory_mb = memory_mb
        self.extra = list(extra or [])
        self.proc: subprocess.Popen | None = None

    def start(self) -> Memcached:
        exe = shutil.which("memcached")
        if exe is None:
            raise RuntimeError("memcached is not installed (apt-get install -y memcached)")
        cmd = [exe, "-p", str(self.port), "-U", "0", "-l", "127.0.0.1", "-m", str(self.memory_mb), *self.extra]
        if os.geteuid() == 0:
            cmd += ["-u", "root"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"memcached exited with {self.proc.returncode}")
            try:
                self.stats()
                return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("memcached did not start")

    def stop(self) -> None:
        _stop(self.proc)

    def stats(self) -> dict[str, int | str]:
        """memcached's own ``stats`` (get_hits, get_misses, cmd_set, curr_items …)."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=2) as s:
            s.sendall(b"stats\r\n")
            data = b""
            while not data.endswith(b"END\r\n"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        out: dict[str, int | str] = {}
        for line in data.decode().splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[0] == "STAT":
                out[parts[1]] = int(parts[2]) if parts[2].isdigit() else parts[2]
        return out

    def flush(self) -> None:
        with socket.create_connection(("127.0.0.1", self.port), timeout=2) as s:
            s.sendall(b"flush_all\r\n")
            s.recv(100)


# -- jupyter server ----------------------------------------------------------
class JupyterServer:
    """``python -m jupyter_server`` with only this extension, in its own folders."""

    def __init__(
        self,
        workdir: Path,
        token: str | None = "test-token",
        args: list[str] | None = None,
        env: dict[str, str] | None = None,
        port: int | None = None,
        name: str = "server",
    ) -> None:
        self.port = port or free_port()
        self.token = token
        self.dir = Path(workdir) / f"{name}-{self.port}"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.args = list(args or [])
        self.env = dict(env or {})
        self.log = self.dir / "server.log"
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        """The server's root URL, base_url included."""
        base = "/"
        for arg in self.args:
            if arg.startswith("--ServerApp.base_url="):
                path = arg.split("=", 1)[1].strip("/")
                base = f"/{path}/" if path else "/"
        return f"http://127.0.0.1:{self.port}{base}"

    def start(self, timeout: float = 45.0) -> JupyterServer:
        cmd = [
            sys.executable,
            "-m",
            "jupyter_server",
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            f"--ServerApp.root_dir={self.dir}",
            f"--IdentityProvider.token={self.token or ''}",
            "--ServerApp.jpserver_extensions=tilemaker_widget=True",
            *self.args,
        ]
        if os.geteuid() == 0:
            cmd.append("--allow-root")
        env = {
            **os.environ,
            "JUPYTER_NO_CONFIG": "1",  # only what the command line says
            "JUPYTER_RUNTIME_DIR": str(self.dir / "runtime"),
            "JUPYTER_DATA_DIR": str(self.dir / "data"),
            "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
            **self.env,
        }
        for k in ("TILEMAKER_CONFIG_PATH", "TILEMAKER_CACHE_TYPE"):
            if k not in self.env:
                env.pop(k, None)
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=self.dir)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyter server exited ({self.proc.returncode}):\n{_tail(self.log)}")
            try:
                r = http(self.url + "tilemaker/status", self.token, timeout=2)
                if r.status in (200, 403):
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"jupyter server did not answer in {timeout} s:\n{_tail(self.log)}")

    def stop(self) -> None:
        _stop(self.proc)

    def get(self, path: str, token: str | None = "default", **kw) -> Reply:
        return http(self.url + path, self.token if token == "default" else token, **kw)

    def api(self, path: str, token: str | None = "default", **kw) -> Reply:
        return self.get("tilemaker/" + path, token, **kw)

    def tail(self, n: int = 40) -> str:
        return _tail(self.log, n)


def start_all(servers: list) -> None:
    """Start processes in parallel (each start is bounded); stop them all if one fails."""
    errors: list[BaseException] = []

    def run(server) -> None:
        try:
            server.start()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(s,)) for s in servers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        for server in servers:
            server.stop()
        raise errors[0]


# -- nginx -------------------------------------------------------------------
NGINX_TEMPLATE = REPO / "docs" / "deploy" / "nginx.conf"


class Nginx:
    """nginx from docs/deploy/nginx.conf, placeholders filled, in its own prefix."""

    def __init__(
        self, workdir: Path, upstreams: list[int], port: int | None = None, host: str = "maps.example.test"
    ) -> None:
        self.port = port or free_port()
        self.host = host
        self.dir = Path(workdir) / f"nginx-{self.port}"
        for sub in ("logs", "temp"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        self.upstreams = upstreams
        self.proc: subprocess.Popen | None = None
        self.cert = self.dir / "cert.pem"
        self.key = self.dir / "key.pem"

    def write_config(self) -> Path:
        subprocess.run(
            [
                "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                "-subj", f"/CN={self.host}", "-keyout", str(self.key), "-out", str(self.cert),
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
        text = NGINX_TEMPLATE.read_text()
        servers = "\n".join(f"    server 127.0.0.1:{p} max_fails=1 fail_timeout=5s;" for p in self.upstreams)
        lines = text.splitlines()
        # The template's upstream block lists two example servers; ours replace them.
        out, in_upstream = [], False
        for line in lines:
            if line.strip().startswith("upstream tilemaker"):
                in_upstream = True
                out.append(line)
                out.append(servers)
                continue
            if in_upstream and line.strip().startswith("server "):
                continue
            if in_upstream and line.strip() == "}":
                in_upstream = False
            out.append(line)
        text = "\n".join(out) + "\n"
        for k, v in {
            "__LISTEN_PORT__": str(self.port),
            "__SERVER_NAME__": self.host,
            "__CERT__": str(self.cert),
            "__CERT_KEY__": str(self.key),
            "__PREFIX__": str(self.dir),
        }.items():
            text = text.replace(k, v)
        conf = self.dir / "nginx.conf"
        conf.write_text(text)
        return conf

    def start(self, timeout: float = 20.0) -> Nginx:
        exe = shutil.which("nginx") or "/usr/sbin/nginx"
        conf = self.write_config()
        directives = "daemon off; pid " + str(self.dir / "nginx.pid") + ";"
        if os.geteuid() == 0:
            directives += " user root;"
        check = subprocess.run(
            [exe, "-t", "-p", str(self.dir), "-c", str(conf), "-g", directives],
            capture_output=True, text=True, timeout=20,
        )
        if check.returncode != 0:
            raise RuntimeError(f"nginx -t failed:\n{check.stderr}")
        self.proc = subprocess.Popen(
            [exe, "-p", str(self.dir), "-c", str(conf), "-g", directives],
            stdout=subprocess.DEVNULL,
            stderr=open(self.dir / "logs" / "stderr.log", "wb"),  # noqa: SIM115
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"nginx exited: {_tail(self.dir / 'logs' / 'stderr.log')}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("nginx did not start")

    def stop(self) -> None:
        _stop(self.proc, signal.SIGQUIT)  # graceful: workers finish, then exit
        _stop(self.proc, signal.SIGTERM)

    def access_log(self) -> list[str]:
        return (self.dir / "logs" / "access.log").read_text().splitlines()

    @property
    def url(self) -> str:
        return f"https://{self.host}:{self.port}/"

    def curl(self, path: str, token: str | None = None, extra: list[str] | None = None) -> tuple[int, str, bytes]:
        """(status, http version, body) of a real HTTP/2 request through nginx."""
        cmd = [
            "curl", "-sk", "--http2", "--max-time", "30",
            "--resolve", f"{self.host}:{self.port}:127.0.0.1",
            "-o", "-", "-w", "\n%{http_code} %{http_version}",
        ]
        if token:
            cmd += ["-H", f"Authorization: token {token}"]
        cmd += [*(extra or []), self.url + path]
        out = subprocess.run(cmd, capture_output=True, timeout=40).stdout
        body, _, tail = out.rpartition(b"\n")
        code, version = tail.decode().split()
        return int(code), version, body
