"""Profile our server under the benchmark load with py-spy (sampling, whole process, all threads).

    python3 -m venv benchmarks/out/prof-venv && benchmarks/out/prof-venv/bin/pip install py-spy
    .venv/bin/python benchmarks/profile_server.py --format f16 --phase cold [--quick] [--cache-mb N]
    .venv/bin/python benchmarks/profile_server.py --phase start      # start-up to first tile

Writes benchmarks/out/prof/<name>.txt (collapsed stacks, py-spy "raw" format) and prints the
functions with the most samples (self and inclusive), over threads that were not idle.
"""

from __future__ import annotations

import argparse
import collections
import signal
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import benchlib  # noqa: E402
import makemap  # noqa: E402
from bench_tiles import OUT, TILE, ours_server, tile_path, tile_sets  # noqa: E402

PYSPY = OUT / "prof-venv" / "bin" / "py-spy"


def summarise(raw: Path, top: int = 25) -> str:
    self_c: collections.Counter = collections.Counter()
    incl: collections.Counter = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not stack:
            continue
        n = int(n)
        frames = stack.split(";")
        total += n
        self_c[frames[-1]] += n
        for f in set(frames):
            incl[f] += n
    out = [f"{total} samples (non-idle, all threads)", "", "self:"]
    out += [f"  {100 * c / total:5.1f}%  {f}" for f, c in self_c.most_common(top)]
    out += ["", "inclusive:"]
    out += [f"  {100 * c / total:5.1f}%  {f}" for f, c in incl.most_common(top)]
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--format", default="f16")
    ap.add_argument("--phase", choices=["cold", "warm", "overview", "start"], default="cold")
    ap.add_argument("--cache-mb", type=int, default=None)
    ap.add_argument("--rate", type=int, default=250)
    ap.add_argument("--native", action="store_true", help="include native (C) frames")
    args = ap.parse_args()
    if not PYSPY.exists():
        print(f"needs {PYSPY} (see the docstring)")
        return 1
    res = 2.0 if args.quick else 1.0
    m = makemap.ensure(OUT, res)
    sets = tile_sets(res)
    lid = m["layer_id"]
    extra = [] if args.cache_mb is None else [f"--TileMaker.cache_size_mb={args.cache_mb}"]
    name = f"prof-{args.format}-{args.phase}{'-quick' if args.quick else ''}"
    srv = ours_server(name, m["config"], benchlib.free_port(), extra)
    (OUT / "prof").mkdir(exist_ok=True)
    raw = OUT / "prof" / f"{name}.txt"
    spy = None

    def pyspy_cmd(pid):
        return [
            str(PYSPY),
            "record",
            "--pid",
            str(pid),
            "--rate",
            str(args.rate),
            "--format",
            "raw",
            "--output",
            str(raw),
            "--nonblocking",
            *(["--native"] if args.native else []),
        ]

    try:
        if args.phase == "start":
            # py-spy launches the server itself, so the whole start-up is sampled.
            srv.log.parent.mkdir(parents=True, exist_ok=True)
            # `jupyter server` execs `jupyter-server`, which py-spy loses: start the latter directly.
            server_cmd = [srv.cmd[0] + "-server", *srv.cmd[2:]]
            cmd = [
                str(PYSPY),
                "record",
                "--rate",
                str(args.rate),
                "--format",
                "raw",
                "--output",
                str(raw),
                "--idle",
                "--",
                *server_cmd,
            ]
            srv.cmd = cmd
            srv.start()
            st = srv.wait_ready(tile_path(lid, sets["probe"], args.format), "status")
            print(st)
            time.sleep(0.3)
            srv.proc.send_signal(signal.SIGINT)  # py-spy writes its output and exits
            try:
                srv.proc.wait(30)
            except subprocess.TimeoutExpired:
                pass
        else:
            srv.start()
            st = srv.wait_ready(tile_path(lid, sets["probe"], args.format), "status")
            paths = [srv.prefix + tile_path(lid, t, args.format) for t in sets["native"]]
            if args.phase == "warm":
                benchlib.load(srv.port, paths, srv.headers)
            if args.phase == "overview":
                paths = [srv.prefix + tile_path(lid, t, args.format) for t in sets["level0"]]
            pid = srv.proc.pid
            spy = subprocess.Popen(
                pyspy_cmd(pid), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
            )
            time.sleep(1.0)  # py-spy attach
            r = benchlib.load(srv.port, paths, srv.headers)
            print(args.phase, r.summary(TILE * TILE))
            time.sleep(0.2)
            spy.send_signal(signal.SIGINT)
            spy.wait(30)
    finally:
        if spy is not None and spy.poll() is None:
            spy.kill()
        srv.stop()
        benchlib.stop_all()
    time.sleep(0.5)
    if raw.exists():
        text = summarise(raw)
        (OUT / "prof" / f"{name}.summary.txt").write_text(text)
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
