"""Helpers for bench_tiles.py: server processes, memory sampling, a keep-alive HTTP load client."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

PORTS = range(8950, 8991)
_LIVE: list[Server] = []


def free_port(exclude: set[int] = frozenset()) -> int:
    for port in PORTS:
        if port in exclude:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 8950-8990")


def evict_page_cache(path: str | os.PathLike) -> None:
    """Drop a file's clean pages from the OS page cache (no privileges needed)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def _cpu_times() -> tuple[float, float]:
    with open("/proc/stat") as f:
        v = [float(x) for x in f.readline().split()[1:]]
    idle = v[3] + (v[4] if len(v) > 4 else 0.0)
    return sum(v) - idle, sum(v)


def busy_cpus(seconds: float = 1.0) -> float:
    """CPUs' worth of work the whole machine did over ``seconds`` (0 = idle)."""
    b0, t0 = _cpu_times()
    time.sleep(seconds)
    b1, t1 = _cpu_times()
    n = os.cpu_count() or 1
    return n * (b1 - b0) / max(t1 - t0, 1e-9)


def tree_cpu(pid: int) -> tuple[float, float, int]:
    """(user, system) CPU seconds and minor page faults of a process and its live children."""
    tick = os.sysconf("SC_CLK_TCK")
    user = system = 0.0
    faults = 0
    for p in [pid, *_children(pid)]:
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rpartition(")")[2].split()
            faults += int(fields[7])
            user += int(fields[11]) / tick
            system += int(fields[12]) / tick
        except OSError:
            pass
    return user, system, faults


def tree_cpu_seconds(pid: int) -> float:
    """user + system CPU seconds of a process and its children (alive ones)."""
    user, system, _ = tree_cpu(pid)
    return user + system


class CpuMeter:
    """CPU seconds used by the machine, a server tree and this process between start and stop."""

    def __init__(self, server_pid: int) -> None:
        self.pid = server_pid

    def __enter__(self) -> CpuMeter:
        self.m0 = _cpu_times()[0] / os.sysconf("SC_CLK_TCK")
        self.u0, self.k0, self.f0 = tree_cpu(self.pid)
        t = os.times()
        self.c0 = t.user + t.system
        return self

    def __exit__(self, *exc) -> None:
        machine = _cpu_times()[0] / os.sysconf("SC_CLK_TCK") - self.m0
        u1, k1, f1 = tree_cpu(self.pid)
        server = (u1 - self.u0) + (k1 - self.k0)
        t = os.times()
        client = t.user + t.system - self.c0
        self.result = {
            "server_cpu_s": round(server, 3),
            "server_sys_cpu_s": round(k1 - self.k0, 3),
            "server_minor_faults": f1 - self.f0,
            "client_cpu_s": round(client, 3),
            "other_cpu_s": round(max(0.0, machine - server - client), 3),
        }


def _proc_status(pid: int) -> dict[str, int]:
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem"):
                    out[k] = int(v.split()[0]) * 1024
    except OSError:
        pass
    return out


def _children(pid: int) -> list[int]:
    kids = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                kids.extend(int(c) for c in f.read().split())
    except OSError:
        pass
    out = []
    for k in kids:
        out.append(k)
        out.extend(_children(k))
    return out


class MemorySampler(threading.Thread):
    """Peak RSS (and anonymous RSS) of a process tree, sampled every ``interval`` s."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.interval = interval
        self.peak_rss = 0
        self.peak_anon = 0
        self.hwm = 0
        self._stop = threading.Event()

    def sample(self) -> None:
        rss = anon = 0
        for pid in [self.pid, *_children(self.pid)]:
            st = _proc_status(pid)
            rss += st.get("VmRSS", 0)
            anon += st.get("RssAnon", 0)
            if pid == self.pid:
                self.hwm = max(self.hwm, st.get("VmHWM", 0))
        self.peak_rss = max(self.peak_rss, rss)
        self.peak_anon = max(self.peak_anon, anon)

    def run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def stop(self) -> None:
        self.sample()
        self._stop.set()


class Server:
    """A server process in its own session, killed (whole group) on stop."""

    def __init__(
        self,
        name: str,
        cmd: list[str],
        port: int,
        env: dict,
        log: Path,
        headers: dict[str, str],
        prefix: str,
    ) -> None:
        self.name, self.cmd, self.port, self.env, self.log = name, cmd, port, env, log
        self.headers = headers
        self.prefix = prefix  # URL prefix of the API, e.g. "/tilemaker/" or "/"
        self.proc: subprocess.Popen | None = None
        self.mem: MemorySampler | None = None
        self.t_spawn = 0.0

    def start(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        logf = open(self.log, "wb")
        self.t_spawn = time.perf_counter()
        self.proc = subprocess.Popen(
            self.cmd,
            env=self.env,
            stdout=logf,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        logf.close()
        _LIVE.append(self)
        self.mem = MemorySampler(self.proc.pid)
        self.mem.start()

    def wait_ready(self, probe: str, ready_path: str, timeout: float = 120.0) -> dict:
        """Poll ``ready_path`` until 200, then GET ``probe``; times from spawn (s)."""
        deadline = self.t_spawn + timeout
        t_listen = None
        while time.perf_counter() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited ({self.proc.returncode}); see {self.log}")
            try:
                status, _ = self.get(ready_path, timeout=30)
                if status == 200:
                    t_listen = time.perf_counter() - self.t_spawn
                    break
            except (ConnectionError, OSError):
                time.sleep(0.01)
        if t_listen is None:
            raise RuntimeError(f"{self.name} did not answer within {timeout} s; see {self.log}")
        t0 = time.perf_counter()
        status, body = self.get(probe, timeout=120)
        t1 = time.perf_counter()
        if status != 200:
            raise RuntimeError(f"{self.name}: probe {probe} answered {status}: {body[:200]!r}")
        return {
            "listening_s": round(t_listen, 3),
            "first_tile_s": round(t1 - self.t_spawn, 3),
            "first_tile_after_listening_s": round(t1 - t0, 3),
            "probe": probe,
        }

    def get(self, path: str, timeout: float = 60) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request("GET", self.prefix + path, headers=self.headers)
            r = conn.getresponse()
            return r.status, r.read()
        finally:
            conn.close()

    def stop(self) -> dict:
        if self.mem is not None:
            self.mem.stop()
        mem = {}
        if self.mem is not None:
            mem = {
                "peak_rss_mb": round(max(self.mem.peak_rss, self.mem.hwm) / 2**20, 1),
                "peak_anon_rss_mb": round(self.mem.peak_anon / 2**20, 1),
            }
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(5)
        if self in _LIVE:
            _LIVE.remove(self)
        return mem


def stop_all() -> None:
    for s in list(_LIVE):
        try:
            s.stop()
        except Exception:
            pass


@dataclass
class LoadResult:
    n: int
    wall_s: float
    statuses: dict[int, int]
    latencies: list[float] = field(repr=False)
    bytes: int
    errors: list[str]

    def ok(self) -> int:
        return self.statuses.get(200, 0)

    def summary(self, pixels_per_tile: int) -> dict:
        lat = sorted(self.latencies)

        def pct(p: float) -> float:
            if not lat:
                return float("nan")
            k = min(len(lat) - 1, max(0, round(p / 100 * (len(lat) - 1))))
            return lat[k] * 1000

        ok = self.ok()
        return {
            "tiles": self.n,
            "ok": ok,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "wall_s": round(self.wall_s, 3),
            "tiles_per_s": round(ok / self.wall_s, 1) if self.wall_s else None,
            "mpix_per_s": round(ok * pixels_per_tile / 1e6 / self.wall_s, 1)
            if self.wall_s
            else None,
            "mb_per_s": round(self.bytes / 1e6 / self.wall_s, 1) if self.wall_s else None,
            "mean_kb_per_tile": round(self.bytes / 1e3 / max(ok, 1), 1),
            "p50_ms": round(pct(50), 1),
            "p90_ms": round(pct(90), 1),
            "max_ms": round(lat[-1] * 1000, 1) if lat else None,
            "errors": self.errors[:5],
        }


def load(
    port: int, paths: list[str], headers: dict[str, str], clients: int = 8, timeout: float = 300
) -> LoadResult:
    """GET every path once with ``clients`` threads on keep-alive connections."""
    lock = threading.Lock()
    nxt = iter(range(len(paths)))
    lat: list[float] = []
    statuses: dict[int, int] = {}
    nbytes = [0]
    errors: list[str] = []
    barrier = threading.Barrier(clients + 1)

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        conn.connect()
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        my_lat, my_status, my_bytes = [], {}, 0
        barrier.wait()
        while True:
            with lock:
                i = next(nxt, None)
            if i is None:
                break
            t0 = time.perf_counter()
            try:
                conn.request("GET", paths[i], headers=headers)
                r = conn.getresponse()
                body = r.read()
                status = r.status
                if r.will_close:
                    conn.close()
            except Exception as exc:  # noqa: BLE001 - reported, never fatal
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
                with lock:
                    errors.append(f"{paths[i]}: {exc!r}")
                status, body = -1, b""
            my_lat.append(time.perf_counter() - t0)
            my_status[status] = my_status.get(status, 0) + 1
            my_bytes += len(body)
        conn.close()
        with lock:
            lat.extend(my_lat)
            for k, v in my_status.items():
                statuses[k] = statuses.get(k, 0) + v
            nbytes[0] += my_bytes

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(clients)]
    for t in threads:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    return LoadResult(len(paths), wall, statuses, lat, nbytes[0], errors)
