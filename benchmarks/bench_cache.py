"""Cache benchmark: one process with the in-memory cache vs two processes sharing memcached.

    .venv/bin/python benchmarks/bench_cache.py              # ~1 min
    .venv/bin/python benchmarks/bench_cache.py --rounds 5 --clients 16

A generated 1′ ACT-like I/Q/U map (tile 675, native level 4; write_sample, kept in
benchmarks/out/cache-bench/) is served by

  memory     one `jupyter server`, TileMaker.cache_type=memory
  memcached  two `jupyter server` processes, cache_type=memcached, one memcached;
             client k talks to process k mod 2 (what nginx's round-robin does)

and 8 concurrent keep-alive clients (threads) fetch the same tile set: every tile with
data at the native level and one level below, as tile.f16 and tile.png.

  cold  the set once, split between the clients (each tile is computed once)
  warm  every client fetches the whole set `--rounds` times, each in its own order

Reported per phase: tiles/s, Mpix/s (675² pixels per tile), mean and p95 latency, and
the cache hit rate (engine cache counters of every process, read through the
benchmark-only extension benchmarks/cachestats_ext.py; for memcached also memcached's
own get_hits / (get_hits + get_misses)). Asserts nothing on time. Figures also go to
benchmarks/out/bench_cache.json. Processes listen on 127.0.0.1:8700–8799 and are stopped
on exit, Ctrl-C or error.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import random
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "out"
sys.path.insert(0, str(ROOT / "tests"))  # the process helpers of the server tests

from procs import JupyterServer, Memcached  # noqa: E402

TOKEN = "bench-cache"
QUERY = "cmap=RdBu_r&vmin=-300&vmax=300"


def make_data(folder: Path) -> Path:
    from tilemaker_widget.sample import write_sample

    config = folder / "sample_config.json"
    if not config.exists():
        print(f"writing a 1′ sample map to {folder} …", flush=True)
        write_sample(
            folder, res_arcmin=1.0, dec_range=(-30.0, 10.0), ra_range=(60.0, -60.0), n_sources=100
        )
    return config


def tile_set(config: Path) -> tuple[str, int, list[str]]:
    from tilemaker_widget.catalogue.config import load_config
    from tilemaker_widget.engine import Engine

    cat = load_config(config)
    layer = cat.layers()[0]
    engine = Engine()
    info = engine.describe(layer)
    n, size = info["native_level"], info["tile_size"]
    paths = []
    for z in (n, n - 1):
        for y in range(2**z):
            for x in range(2 ** (z + 1)):
                if engine.data_tile(layer, z, y, x) is not None:
                    paths.append(f"layers/{layer.layer_id}/{z}/{y}/{x}/tile.f16")
                    paths.append(f"layers/{layer.layer_id}/{z}/{y}/{x}/tile.png?{QUERY}")
    return layer.layer_id, size, paths


class Client(threading.Thread):
    """One keep-alive connection; fetches its list and records latencies."""

    def __init__(self, port: int, base: str, paths: list[str]) -> None:
        super().__init__(daemon=True)
        self.port, self.base, self.paths = port, base, paths
        self.latencies: list[float] = []
        self.bytes = 0
        self.errors: list[str] = []

    def run(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        headers = {"Authorization": f"token {TOKEN}"}
        try:
            for path in self.paths:
                t0 = time.perf_counter()
                conn.request("GET", self.base + path, headers=headers)
                r = conn.getresponse()
                body = r.read()
                self.latencies.append(time.perf_counter() - t0)
                if r.status != 200:
                    self.errors.append(f"{r.status} {path}")
                self.bytes += len(body)
        finally:
            conn.close()


def run_phase(ports: list[int], work: list[list[str]]) -> dict:
    clients = [Client(ports[k % len(ports)], "/tilemaker/", paths) for k, paths in enumerate(work)]
    t0 = time.perf_counter()
    for c in clients:
        c.start()
    for c in clients:
        c.join()
    wall = time.perf_counter() - t0
    lat = sorted(x for c in clients for x in c.latencies)
    errors = [e for c in clients for e in c.errors]
    if errors:
        raise RuntimeError(f"{len(errors)} failed requests, e.g. {errors[:3]}")
    n = len(lat)
    return {
        "requests": n,
        "seconds": round(wall, 3),
        "tiles_per_s": round(n / wall, 1),
        "mbytes_per_s": round(sum(c.bytes for c in clients) / wall / 1e6, 1),
        "latency_mean_ms": round(1000 * sum(lat) / n, 1),
        "latency_p95_ms": round(1000 * lat[min(n - 1, int(0.95 * n))], 1),
    }


def cache_stats(servers: list[JupyterServer]) -> dict:
    hits = misses = 0
    for s in servers:
        r = s.get("bench-cache-stats")
        if r.status != 200:
            raise RuntimeError(f"cache stats: {r}")
        st = r.json()
        hits += st["hits"]
        misses += st["misses"]
    return {"hits": hits, "misses": misses}


def rate(before: dict, after: dict, hit: str = "hits", miss: str = "misses") -> float | None:
    h, m = after[hit] - before[hit], after[miss] - before[miss]
    return round(h / (h + m), 4) if h + m else None


def scenario(
    name: str,
    servers: list[JupyterServer],
    memcached: Memcached | None,
    paths: list[str],
    size: int,
    clients: int,
    rounds: int,
    seed: int,
) -> dict:
    ports = [s.port for s in servers]
    rng = random.Random(seed)
    out: dict = {"processes": len(servers), "cache": "memcached" if memcached else "memory"}
    # cold: each tile once, dealt to the clients in turn
    order = paths[:]
    rng.shuffle(order)
    phases = {
        "cold": [order[k::clients] for k in range(clients)],
        "warm": [rng.sample(paths, len(paths)) * rounds for _ in range(clients)],
    }
    for phase, work in phases.items():
        c0 = cache_stats(servers)
        m0 = memcached.stats() if memcached else None
        res = run_phase(ports, work)
        c1 = cache_stats(servers)
        res["mpix_per_s"] = round(res["tiles_per_s"] * size * size / 1e6, 1)
        res["engine_hit_rate"] = rate(c0, c1)
        if memcached:
            m1 = memcached.stats()
            res["memcached_hit_rate"] = rate(m0, m1, "get_hits", "get_misses")
            res["memcached_sets"] = m1["cmd_set"] - m0["cmd_set"]
            res["memcached_mb_read"] = round((m1["bytes_written"] - m0["bytes_written"]) / 1e6, 1)
        out[phase] = res
        print(
            f"  {name:10s} {phase:5s} {res['requests']:5d} req  {res['tiles_per_s']:7.1f} tiles/s  "
            f"{res['mpix_per_s']:7.1f} Mpix/s  {res['mbytes_per_s']:6.1f} MB/s  "
            f"mean {res['latency_mean_ms']:6.1f} ms  p95 {res['latency_p95_ms']:6.1f} ms  "
            f"hit rate {res['engine_hit_rate']}"
            + (f" (memcached {res['memcached_hit_rate']})" if memcached else ""),
            flush=True,
        )
    return out


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--clients", type=int, default=8, help="concurrent keep-alive clients (8)")
    ap.add_argument("--rounds", type=int, default=3, help="warm passes per client over the set (3)")
    ap.add_argument("--workers", type=int, default=8, help="engine threads per process (8)")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    work = OUT / "cache-bench"
    work.mkdir(parents=True, exist_ok=True)
    config = make_data(work)
    lid, size, paths = tile_set(config)
    print(
        f"{len(paths)} requests per pass ({len(paths) // 2} tiles × f16, png) of a {size}² tile layer; "
        f"{args.clients} clients, warm = {args.rounds} passes each; {os.cpu_count()} CPUs",
        flush=True,
    )
    env = {
        "PYTHONPATH": os.pathsep.join(
            [str(HERE), str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")]
        )
    }
    common = [
        f"--TileMaker.config_path={config}",
        f"--TileMaker.workers={args.workers}",
        "--ServerApp.jpserver_extensions=cachestats_ext=True",
    ]
    results: dict = {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "clients": args.clients,
        "rounds": args.rounds,
        "requests_per_pass": len(paths),
        "tile_size": size,
    }
    live: list = []
    try:
        # -- one process, in-memory cache
        one = JupyterServer(
            work / "servers", TOKEN, [*common, "--TileMaker.cache_type=memory"], env, name="memory"
        )
        live.append(one)
        one.start()
        results["memory"] = scenario(
            "memory", [one], None, paths, size, args.clients, args.rounds, args.seed
        )
        one.stop()
        live.remove(one)

        # -- two processes, one memcached
        mc = Memcached(memory_mb=1024)
        live.append(mc)
        mc.start()
        mc_args = [
            *common,
            "--TileMaker.cache_type=memcached",
            "--TileMaker.memcached_host=127.0.0.1",
            f"--TileMaker.memcached_port={mc.port}",
            f"--TileMaker.memcached_pool_size={args.workers}",
        ]
        pair = [
            JupyterServer(work / "servers", TOKEN, mc_args, env, name=f"mc{k}") for k in range(2)
        ]
        live.extend(pair)
        for s in pair:
            s.start()
        results["memcached"] = scenario(
            "2×memcached", pair, mc, paths, size, args.clients, args.rounds, args.seed
        )
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        for p in reversed(live):
            p.stop()

    m, c = results["memory"]["warm"], results["memcached"]["warm"]
    print(
        f"\nwarm: 2 processes + memcached give {c['tiles_per_s'] / m['tiles_per_s']:.2f}× the tiles/s of "
        f"1 process in memory ({c['tiles_per_s']} vs {m['tiles_per_s']} tiles/s, "
        f"hit rates {c['engine_hit_rate']} vs {m['engine_hit_rate']})"
    )
    (OUT / "bench_cache.json").write_text(json.dumps(results, indent=1))
    print(f"figures in {OUT / 'bench_cache.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
