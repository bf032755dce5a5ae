"""Tile-serving benchmark: tilemaker-widget's jupyter-server extension vs TileMaker.

    .venv/bin/python benchmarks/bench_tiles.py            # 1′ map (3, 5400, 21600), ~5 min
    .venv/bin/python benchmarks/bench_tiles.py --quick    # 2′ map (3, 2700, 10800), ~1 min

Both servers serve the same generated ACT-like CAR I/Q/U map (layer = the I plane) and
get the same tile sets from 8 concurrent keep-alive clients. Prints figures and PASS/MISS
against the targets; never fails on time. Figures also go to benchmarks/out/results.json.

Everything it creates lives in benchmarks/out/ (gitignored): the maps, the configs,
TileMaker's own venv (tm-venv, made once with `python3 -m venv` + `pip install tilemaker`),
the server logs and the results. Servers listen on 127.0.0.1, ports 8950–8990, and are
killed on exit, Ctrl-C or error.

"Cold" = first request of each tile in a fresh server process (the OS page cache holds the
map unless --drop-page-cache); "warm" = the same set again in the same process.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import signal
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "out"
sys.path.insert(0, str(HERE))

import benchlib  # noqa: E402
import makemap  # noqa: E402

TILE = 675
RENDER_QUERY = "cmap=RdBu_r&vmin=-300&vmax=300"
TOKEN = "bench"


# -- set-up --------------------------------------------------------------------
def ensure_tilemaker() -> Path:
    venv = OUT / "tm-venv"
    exe = venv / "bin" / "tilemaker"
    if not exe.exists():
        print(
            "setup: creating benchmarks/out/tm-venv and installing tilemaker from PyPI ...",
            flush=True,
        )
        subprocess.run(["python3", "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "tilemaker"], check=True)
    return venv


def tilemaker_version(venv: Path) -> str:
    r = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import importlib.metadata as m; print(m.version('tilemaker'))",
        ],
        capture_output=True,
        text=True,
    )
    return r.stdout.strip()


def code_fingerprint() -> dict:
    """Which code was measured: git HEAD, whether the package differs from it, a source hash."""
    import hashlib

    h = hashlib.sha1()
    for f in sorted((ROOT / "tilemaker_widget").rglob("*.py")):
        h.update(f.relative_to(ROOT).as_posix().encode())
        h.update(f.read_bytes())

    def git(*a):
        return subprocess.run(
            ["git", "-C", str(ROOT), *a], capture_output=True, text=True
        ).stdout.strip()

    return {
        "git_head": git("rev-parse", "--short", "HEAD"),
        "package_dirty": bool(git("status", "--porcelain", "--", "tilemaker_widget")),
        "package_sha1": h.hexdigest()[:12],
    }


def tile_sets(res_arcmin: float) -> dict:
    n_rows = round(180 * 60 / res_arcmin)
    native = round(math.log2(n_rows / TILE))
    assert TILE * 2**native == n_rows, "benchmark maps must sit on TileMaker's 675 grid"
    span = 180.0 / 2**native
    lo, hi = makemap.DEC_RANGE
    y0 = math.floor((lo + 90.0) / span)
    y1 = math.ceil((hi + 90.0) / span) - 1
    native_tiles = [(native, y, x) for y in range(y0, y1 + 1) for x in range(2 ** (native + 1))]
    level0 = [(0, 0, 0), (0, 0, 1)]
    level1 = [(1, y, x) for y in range(2) for x in range(4)]
    # The start-up probe: a tile at the level above native, inside the map, not in any set.
    z = native - 1
    probe = (z, 2 ** (z - 1), 2**z)  # Dec 0.., RA 0..
    return {
        "native_level": native,
        "native": native_tiles,
        "level0": level0,
        "level1": level1,
        "probe": probe,
        "y_range": [y0, y1],
    }


def tile_path(lid: str, t: tuple[int, int, int], ext: str) -> str:
    z, y, x = t
    q = f"?{RENDER_QUERY}" if ext in ("png", "webp", "jpg") else ""
    return f"layers/{lid}/{z}/{y}/{x}/tile.{ext}{q}"


def ours_server(name: str, config: str, port: int, extra: list[str]) -> benchlib.Server:
    runtime = OUT / "runtime"
    runtime.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(runtime), PYTHONUNBUFFERED="1")
    env.pop("TILEMAKER_CONFIG_PATH", None)
    cmd = [
        str(ROOT / ".venv" / "bin" / "jupyter"),
        "server",
        "--no-browser",
        f"--port={port}",
        "--ServerApp.port_retries=0",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.token={TOKEN}",
        f"--ServerApp.root_dir={OUT}",
        f"--TileMaker.config_path={config}",
        "--allow-root",
        *extra,
    ]
    return benchlib.Server(
        name,
        cmd,
        port,
        env,
        OUT / "logs" / f"{name}.log",
        {"Authorization": f"token {TOKEN}"},
        "/tilemaker/",
    )


def tm_server(name: str, venv: Path, config: str, port: int, precache: bool) -> benchlib.Server:
    env = dict(
        os.environ,
        TILEMAKER_CONFIG_PATH=config,
        TILEMAKER_PRECACHE="true" if precache else "false",
        PYTHONUNBUFFERED="1",
    )
    # TileMaker's entry point: `tilemaker serve` = uvicorn.run(tilemaker.server.app, host, port).
    cmd = [str(venv / "bin" / "tilemaker"), "serve", "--host", "127.0.0.1", "--port", str(port)]
    return benchlib.Server(name, cmd, port, env, OUT / "logs" / f"{name}.log", {}, "/")


# -- one server process: start, probe, phases, stop --------------------------------------
def run_process(
    server: benchlib.Server,
    ready: str,
    probe: str,
    phases: list[tuple[str, list[str]]],
    clients: int,
    evict: str | None,
) -> dict:
    if evict:
        benchlib.evict_page_cache(evict)
    print(f"  {server.name}: starting on port {server.port}", flush=True)
    server.start()
    try:
        start = server.wait_ready(probe, ready)
        print(
            f"  {server.name}: listening {start['listening_s']:.2f} s, first tile "
            f"{start['first_tile_s']:.2f} s after spawn",
            flush=True,
        )
        results = {"start": start, "phases": {}}
        for label, paths in phases:
            full = [server.prefix + p for p in paths]
            with benchlib.CpuMeter(server.proc.pid) as cpu:
                r = benchlib.load(server.port, full, server.headers, clients)
            s = r.summary(TILE * TILE)
            s.update(cpu.result)
            s["server_faults_per_tile"] = round(cpu.result["server_minor_faults"] / max(s["ok"], 1))
            s["server_cpu_ms_per_tile"] = round(
                1000 * cpu.result["server_cpu_s"] / max(s["ok"], 1), 2
            )
            results["phases"][label] = s
            print(
                f"  {server.name}: {label:<22} {s['ok']:>4}/{s['tiles']:<4} tiles in {s['wall_s']:7.2f} s"
                f"  {s['mpix_per_s']:>7} Mpix/s  p50 {s['p50_ms']:>7} ms  p90 {s['p90_ms']:>7} ms"
                f"  CPU s server {s['server_cpu_s']} client {s['client_cpu_s']} other {s['other_cpu_s']}"
                f" (server sys {s['server_sys_cpu_s']}, {s['server_faults_per_tile']} faults/tile)"
                + (f"  errors {s['errors']}" if s["errors"] else ""),
                flush=True,
            )
    finally:
        mem = server.stop()
    results["memory"] = mem
    print(
        f"  {server.name}: peak RSS {mem.get('peak_rss_mb')} MB (anonymous {mem.get('peak_anon_rss_mb')} MB)",
        flush=True,
    )
    return results


# -- report ------------------------------------------------------------------------------
def verdict(ok: bool | None) -> str:
    return "  n/a" if ok is None else ("PASS" if ok else "MISS")


def report(res: dict) -> list[dict]:
    ours, tm = res["ours"], res.get("tilemaker")

    def ph(side: dict, proc: str, phase: str) -> dict | None:
        return side.get(proc, {}).get("phases", {}).get(phase)

    rows = []
    print()
    print(
        f"{'server format phase':<34}{'tiles':>6}{'wall s':>9}{'tiles/s':>9}{'Mpix/s':>9}"
        f"{'p50 ms':>9}{'p90 ms':>9}{'kB/tile':>9}{'srv CPU':>9}{'other':>7}"
    )
    print(f"{'':<34}{'':>6}{'':>9}{'':>9}{'':>9}{'':>9}{'':>9}{'':>9}{'ms/tile':>9}{'CPU s':>7}")
    for side_name, side in (("ours", ours), ("tilemaker", tm or {})):
        for proc, pr in side.items():
            for phase, s in pr.get("phases", {}).items():
                label = f"{side_name} {proc} {phase}"
                busy = s["other_cpu_s"] > 0.1 * s["wall_s"] * (os.cpu_count() or 1)
                s["contended"] = busy
                label += " *" if busy else ""
                print(
                    f"{label:<34}{s['ok']:>6}{s['wall_s']:>9.2f}{s['tiles_per_s']:>9}"
                    f"{s['mpix_per_s']:>9}{s['p50_ms']:>9}{s['p90_ms']:>9}{s['mean_kb_per_tile']:>9}"
                    f"{s['server_cpu_ms_per_tile']:>9}{s['other_cpu_s']:>7}"
                )
    if any(
        s.get("contended")
        for side in (ours, tm or {})
        for pr in side.values()
        for s in pr.get("phases", {}).values()
    ):
        print(
            "* other processes used > 10% of the machine's CPU during this phase: figure is low/noisy"
        )
    print()
    print(
        f"{'process':<22}{'listening s':>12}{'1st tile s':>12}{'(after listen)':>16}{'peak RSS MB':>13}{'anon MB':>9}"
    )
    for side_name, side in (("ours", ours), ("tilemaker", tm or {})):
        for proc, pr in side.items():
            st, mem = pr["start"], pr["memory"]
            print(
                f"{side_name + ' ' + proc:<22}{st['listening_s']:>12.2f}{st['first_tile_s']:>12.2f}"
                f"{st['first_tile_after_listening_s']:>16.2f}{mem.get('peak_rss_mb', 0):>13}"
                f"{mem.get('peak_anon_rss_mb', 0):>9}"
            )

    def target(name: str, value, goal: str, ok: bool | None) -> None:
        rows.append({"target": name, "value": value, "goal": goal, "result": verdict(ok).strip()})

    for fmt in ("f16", "f32"):
        s = ph(ours, fmt, "native warm")
        if s:
            target(
                f"ours {fmt} native warm", s["mpix_per_s"], ">= 150 Mpix/s", s["mpix_per_s"] >= 150
            )
    for fmt in ("f16", "f32"):
        s = ph(ours, fmt, "native cold")
        if s:
            target(
                f"ours {fmt} native cold", s["mpix_per_s"], ">= 50 Mpix/s", s["mpix_per_s"] >= 50
            )
    s = ph(ours, "q8", "native cold")
    if s:
        target(
            "ours q8 encoding, server CPU per tile (cold)",
            f"{s['server_cpu_ms_per_tile']} ms, {s['mean_kb_per_tile']} kB",
            "(info)",
            None,
        )
    s = ph(ours, "q8", "native warm")
    if s:
        target("ours q8 native warm", s["mpix_per_s"], ">= 150 Mpix/s", s["mpix_per_s"] >= 150)
    for fmt in ("png", "webp"):
        for kind in ("cold", "warm"):
            a, b = ph(ours, fmt, f"native {kind}"), ph(tm or {}, fmt, f"native {kind}")
            if a and b and b["mpix_per_s"]:
                ratio = round(a["mpix_per_s"] / b["mpix_per_s"], 1)
                target(
                    f"ours/TileMaker {fmt} {kind}",
                    f"{ratio}x ({a['mpix_per_s']} vs {b['mpix_per_s']})",
                    ">= 5x",
                    ratio >= 5,
                )
    for fmt in ("png", "webp"):
        a, b = ph(ours, fmt, "native cold"), ph(tm or {}, fmt, "native cold")
        if a and b and a["server_cpu_ms_per_tile"]:
            ratio = round(b["server_cpu_ms_per_tile"] / a["server_cpu_ms_per_tile"], 1)
            target(
                f"TileMaker/ours server CPU per {fmt} tile, cold",
                f"{ratio}x ({b['server_cpu_ms_per_tile']} vs {a['server_cpu_ms_per_tile']} ms)",
                "(info)",
                None,
            )
    firsts = {proc: pr["start"]["first_tile_s"] for proc, pr in ours.items()}
    if firsts:
        worst = max(firsts.values())
        target(
            "ours first tile after spawn",
            f"{worst:.2f} s (worst of {len(firsts)} starts)",
            "<= 1 s",
            worst <= 1.0,
        )
        best = min(pr["start"]["first_tile_after_listening_s"] for pr in ours.values())
        target(
            "ours first tile after listening",
            f"{best:.2f}-"
            f"{max(pr['start']['first_tile_after_listening_s'] for pr in ours.values()):.2f} s",
            "(info)",
            None,
        )
    s = ph(ours, "f16", "overview level-0 cold")
    if s:
        target(
            "ours full-map overview (level 0) cold",
            f"{s['wall_s']:.2f} s",
            "<= 3 s",
            s["wall_s"] <= 3.0,
        )
    print()
    print("Targets")
    for r in rows:
        print(f"  {r['result']:<5} {r['target']:<48} {r['value']!s:<34} {r['goal']}")
    return rows


# -- main ------------------------------------------------------------------------------
def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--quick", action="store_true", help="2′ map (3, 2700, 10800) for a fast smoke run"
    )
    ap.add_argument("--clients", type=int, default=8, help="concurrent keep-alive clients (8)")
    ap.add_argument("--skip-tilemaker", action="store_true", help="measure only our server")
    ap.add_argument(
        "--drop-page-cache",
        action="store_true",
        help="evict the map from the OS page cache before each server start (disk-cold)",
    )
    ap.add_argument("--formats", default="f16,f32,q8,png,webp", help="our formats to measure")
    ap.add_argument(
        "--wait-quiet",
        type=float,
        default=0.0,
        metavar="S",
        help="wait up to S seconds for other processes to leave the CPUs idle before starting",
    )
    ap.add_argument(
        "--cache-mb",
        type=int,
        default=None,
        help="our server's --TileMaker.cache_size_mb (default: the server's own default)",
    )
    ap.add_argument(
        "--server-arg",
        action="append",
        default=[],
        help="extra argument for our jupyter server (repeatable)",
    )
    args = ap.parse_args()

    res_arcmin = 2.0 if args.quick else 1.0
    t_all = time.perf_counter()
    OUT.mkdir(parents=True, exist_ok=True)

    # Servers die with us, whatever happens.
    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(
        signal.SIGINT, on_signal
    )  # also when started with SIGINT ignored (background jobs)

    try:
        t0 = time.perf_counter()
        m = makemap.ensure(OUT, res_arcmin)
        print(
            f"map: {m['map']} shape {tuple(m['shape'])}, {m['size'] / 1e9:.2f} GB "
            f"({'written in ' + str(m['write_seconds']) + ' s' if m.get('generated_now') else 'cached'})",
            flush=True,
        )
        venv = None if args.skip_tilemaker else ensure_tilemaker()
        sets = tile_sets(res_arcmin)
        lid = m["layer_id"]
        n_native = len(sets["native"])
        print(f"code: {code_fingerprint()}", flush=True)
        print(
            f"tile sets: native level {sets['native_level']}: {n_native} tiles (y {sets['y_range'][0]}.."
            f"{sets['y_range'][1]}), level 0: 2 tiles, tile {TILE}² = {TILE * TILE / 1e6:.3f} Mpix; "
            f"{args.clients} clients; setup {time.perf_counter() - t0:.1f} s",
            flush=True,
        )
        evict = m["map"] if args.drop_page_cache else None
        background = round(benchlib.busy_cpus(1.0), 2)
        deadline = time.perf_counter() + args.wait_quiet
        while background > 0.25 and time.perf_counter() < deadline:
            print(f"waiting for a quiet machine ({background} CPUs busy) ...", flush=True)
            time.sleep(4.0)
            background = round(benchlib.busy_cpus(1.0), 2)
        if background > 0.25:
            print(
                f"WARNING: the machine is busy before we start ({background} CPUs in use by other "
                "processes); the figures will be low and noisy",
                flush=True,
            )
        results: dict = {
            "meta": {
                "map_shape": m["shape"],
                "map_bytes": m["size"],
                "res_arcmin": res_arcmin,
                "layer_id": lid,
                "tile_size": TILE,
                "native_level": sets["native_level"],
                "native_tiles": n_native,
                "clients": args.clients,
                "quick": args.quick,
                "page_cache": "evicted before each start"
                if evict
                else "warm (map in OS page cache)",
                "code": code_fingerprint(),
                "cpus": os.cpu_count(),
                "background_cpus_at_start": background,
                "python": platform.python_version(),
                "render_query": RENDER_QUERY,
                "ours_cache_mb": args.cache_mb,
                "ours_server_args": args.server_arg,
                "time": time.strftime("%Y-%m-%d %H:%M:%S"),
            },
            "ours": {},
        }
        used: set[int] = set()

        def port() -> int:
            p = benchlib.free_port(used)
            used.add(p)
            return p

        native = sets["native"]
        print("\nours (jupyter server + tilemaker-widget extension)", flush=True)
        for fmt in [f.strip() for f in args.formats.split(",") if f.strip()]:
            phases = []
            if fmt == "f16":
                phases.append(
                    ("overview level-0 cold", [tile_path(lid, t, fmt) for t in sets["level0"]])
                )
                phases.append(
                    ("level-1 after overview", [tile_path(lid, t, fmt) for t in sets["level1"]])
                )
            phases.append(("native cold", [tile_path(lid, t, fmt) for t in native]))
            phases.append(("native warm", [tile_path(lid, t, fmt) for t in native]))
            extra = list(args.server_arg)
            if args.cache_mb is not None:
                extra.append(f"--TileMaker.cache_size_mb={args.cache_mb}")
            srv = ours_server(f"ours-{fmt}", m["config"], port(), extra)
            results["ours"][fmt] = run_process(
                srv, "status", tile_path(lid, sets["probe"], fmt), phases, args.clients, evict
            )

        if venv is not None:
            results["meta"]["tilemaker_version"] = tilemaker_version(venv)
            print(
                f"\nTileMaker {results['meta']['tilemaker_version']} (tilemaker serve = uvicorn, 1 process)",
                flush=True,
            )
            results["tilemaker"] = {}
            for fmt, precache in (("png", False), ("webp", True)):
                phases = []
                if fmt == "png":
                    phases.append(
                        ("overview level-0 cold", [tile_path(lid, t, fmt) for t in sets["level0"]])
                    )
                phases.append(("native cold", [tile_path(lid, t, fmt) for t in native]))
                phases.append(("native warm", [tile_path(lid, t, fmt) for t in native]))
                srv = tm_server(
                    f"tilemaker-{fmt}-precache-{str(precache).lower()}",
                    venv,
                    m["config"],
                    port(),
                    precache,
                )
                r = run_process(
                    srv,
                    "map-groups",
                    tile_path(lid, sets["probe"], fmt),
                    phases,
                    args.clients,
                    evict,
                )
                r["precache"] = precache
                results["tilemaker"][fmt] = r

        results["targets"] = report(results)
        results["meta"]["total_s"] = round(time.perf_counter() - t_all, 1)
        out = OUT / "results.json"
        out.write_text(json.dumps(results, indent=1))
        print(f"\nwrote {out} (total {results['meta']['total_s']} s)")
        return 0
    except KeyboardInterrupt:
        print("\ninterrupted; stopping servers", file=sys.stderr)
        return 130
    finally:
        benchlib.stop_all()


if __name__ == "__main__":
    sys.exit(main())
