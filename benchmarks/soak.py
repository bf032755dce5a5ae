"""Soak: clients hammer one server with mixed requests for minutes; RSS, latency, errors.

    .venv/bin/python benchmarks/soak.py                         # 8 clients × 10 min, 1′ map, 512 MiB cache
    .venv/bin/python benchmarks/soak.py --minutes 1 --res 2     # a quick look

The server is a real ``jupyter server`` with the extension, on the 1′ ACT-like
benchmark map (benchmarks/makemap.py, 3 × 5400 × 21600 float32), its in-memory cache
limited to ``--cache-mb``. Each client keeps one HTTP/1.1 connection and sends, at
random: image and data tiles at every level (inside the map's Dec range), histograms,
box cutouts (FITS and PNG, up to 1°) and pixel values. Every 10 s the server's RSS is
sampled. Printed: requests and rate, latency percentiles per kind and overall, errors
(5xx, timeouts, broken connections, unexpected 4xx) and RSS growth after the first
minute. Figures go to benchmarks/out/soak.json too.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import random
import sys
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "out"
sys.path.insert(0, str(HERE))

import benchlib  # noqa: E402
import makemap  # noqa: E402

TOKEN = "soak-token"
KINDS = {"tile.png": 0.35, "tile.f16": 0.25, "histogram": 0.10, "cutout.fits": 0.08, "cutout.png": 0.07, "pixel": 0.15}


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


class Client(threading.Thread):
    """One keep-alive connection sending random requests until the deadline."""

    def __init__(self, port: int, lid: str, native: int, deadline: float, seed: int) -> None:
        super().__init__(daemon=True)
        self.port, self.lid, self.native, self.deadline = port, lid, native, deadline
        self.rng = random.Random(seed)
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.statuses: Counter = Counter()
        self.errors: list[str] = []
        self.conn: http.client.HTTPConnection | None = None

    def path(self, kind: str) -> str:
        r = self.rng
        dec_lo, dec_hi = makemap.DEC_RANGE
        if kind.startswith("tile"):
            z = r.randint(0, self.native)
            span = 180.0 / 2**z  # degrees per tile row
            y = r.randint(max(0, math.floor((dec_lo + 90) / span)), min(2**z - 1, math.ceil((dec_hi + 90) / span) - 1))
            x = r.randrange(2 ** (z + 1))
            q = "?cmap=RdBu_r&vmin=-300&vmax=300" if kind == "tile.png" else ""
            return f"layers/{self.lid}/{z}/{y}/{x}/{kind}{q}"
        if kind == "histogram":
            return f"histograms/data/{self.lid}"
        ra, dec = r.uniform(-180, 180), r.uniform(dec_lo + 1.5, dec_hi - 1.5)
        if kind == "pixel":
            return f"layers/{self.lid}/pixel?ra={ra:.5f}&dec={dec:.5f}"
        w, h = r.uniform(0.1, 1.0), r.uniform(0.1, 1.0)  # ≥ 6′: always holds pixel centres
        ext = kind.split(".")[1]
        q = "?cmap=viridis&vmin=-200&vmax=200" if ext == "png" else ""
        return f"layers/{self.lid}/submap/{ra + w / 2:.5f}/{ra - w / 2:.5f}/{dec + h / 2:.5f}/{dec - h / 2:.5f}/image.{ext}{q}"

    def request(self, path: str) -> int:
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        self.conn.request("GET", "/tilemaker/" + path, headers={"Authorization": f"token {TOKEN}"})
        r = self.conn.getresponse()
        r.read()
        return r.status

    def run(self) -> None:
        kinds, weights = list(KINDS), list(KINDS.values())
        while time.monotonic() < self.deadline:
            kind = self.rng.choices(kinds, weights)[0]
            path = self.path(kind)
            t0 = time.perf_counter()
            try:
                status = self.request(path)
            except (OSError, http.client.HTTPException) as exc:
                self.errors.append(f"{kind} {path}: {exc!r}")
                self.conn = None
                continue
            self.latencies[kind].append(time.perf_counter() - t0)
            self.statuses[status] += 1
            # 204: a data tile off the map; 404 "tile has no data": an image tile off it.
            if status >= 500 or status not in (200, 204, 404) or (status == 404 and "tile" not in kind):
                self.errors.append(f"{kind} {path}: {status}")


def percentiles(values: list[float]) -> dict[str, float]:
    v = sorted(values)
    if not v:
        return {}

    def p(q: float) -> float:
        return round(v[min(len(v) - 1, round(q / 100 * (len(v) - 1)))] * 1000, 1)

    return {"n": len(v), "p50_ms": p(50), "p95_ms": p(95), "p99_ms": p(99), "max_ms": round(v[-1] * 1000, 1)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--res", type=float, default=1.0, help="map resolution in arcmin (1 = the 1′ benchmark map)")
    ap.add_argument("--cache-mb", type=int, default=512)
    ap.add_argument("--sample-s", type=float, default=10.0, help="RSS sampling interval")
    args = ap.parse_args()

    m = makemap.ensure(OUT, args.res)
    port = benchlib.free_port()
    runtime = OUT / "runtime"
    runtime.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(runtime), PYTHONUNBUFFERED="1")
    env.pop("TILEMAKER_CONFIG_PATH", None)
    cmd = [
        sys.executable, "-m", "jupyter_server", "--no-browser", f"--port={port}", "--ServerApp.port_retries=0",
        "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={OUT}",
        f"--TileMaker.config_path={m['config']}", "--TileMaker.cache_type=memory",
        f"--TileMaker.cache_size_mb={args.cache_mb}", "--allow-root",
    ]
    server = benchlib.Server("soak", cmd, port, env, OUT / "logs" / "soak.log", {"Authorization": f"token {TOKEN}"}, "/tilemaker/")
    server.start()
    try:
        server.wait_ready(f"layers/{m['layer_id']}", "status", timeout=180)
        status, body = server.get(f"layers/{m['layer_id']}")
        native = json.loads(body)["native_level"]
        start = time.monotonic()
        deadline = start + args.minutes * 60
        clients = [Client(port, m["layer_id"], native, deadline, seed) for seed in range(args.clients)]
        for c in clients:
            c.start()
        samples: list[tuple[float, int]] = []
        while any(c.is_alive() for c in clients):
            samples.append((round(time.monotonic() - start, 1), rss_bytes(server.proc.pid)))
            time.sleep(args.sample_s)
        samples.append((round(time.monotonic() - start, 1), rss_bytes(server.proc.pid)))
        for c in clients:
            c.join()
    finally:
        server.stop()

    lat: dict[str, list[float]] = defaultdict(list)
    statuses: Counter = Counter()
    errors: list[str] = []
    for c in clients:
        for k, v in c.latencies.items():
            lat[k].extend(v)
        statuses.update(c.statuses)
        errors.extend(c.errors)
    all_lat = [x for v in lat.values() for x in v]
    wall = samples[-1][0]
    after_minute = [r for t, r in samples if t >= 60.0] or [samples[-1][1]]
    base = after_minute[0]
    result = {
        "map": {"res_arcmin": args.res, "shape": m["shape"], "layer": m["layer_id"], "native_level": native},
        "clients": args.clients,
        "minutes": args.minutes,
        "cache_mb": args.cache_mb,
        "requests": len(all_lat),
        "rate_per_s": round(len(all_lat) / max(wall, 1e-9), 1),
        "statuses": dict(sorted(statuses.items())),
        "errors": len(errors),
        "first_errors": errors[:10],
        "latency": {"all": percentiles(all_lat), **{k: percentiles(v) for k, v in sorted(lat.items())}},
        "rss_mb": [(t, round(r / 2**20, 1)) for t, r in samples],
        "rss_at_1min_mb": round(base / 2**20, 1),
        "rss_end_mb": round(samples[-1][1] / 2**20, 1),
        "rss_max_after_1min_mb": round(max(after_minute) / 2**20, 1),
        "rss_growth_after_1min_pct": round(100.0 * (max(after_minute) - base) / base, 2) if base else None,
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "soak.json").write_text(json.dumps(result, indent=1))
    print(json.dumps({k: v for k, v in result.items() if k != "rss_mb"}, indent=1))
    print("rss (s, MiB):", " ".join(f"{t:.0f}:{r:.0f}" for t, r in result["rss_mb"]))
    return 0 if not errors else 1


if __name__ == "__main__":
    raise SystemExit(main())
