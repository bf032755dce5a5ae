"""Grant checks under load: every data route of a granted layer, cold and warmed, two servers.

    .venv/bin/python benchmarks/grant_check.py             # every data route × 20 tiles
    .venv/bin/python benchmarks/grant_check.py --tiles 5

Two ``jupyter server`` processes (A, B) share one memcached, with the tests' grants
set-up (tests/test_auth.py): Alice holds the ``collab`` grant, Bob nothing. For each
route and tile, in order: Bob on A (cold everywhere), Alice on A (warms A's process
and memcached), Bob on A (same process, warm), Bob on B (B's process cold, memcached
warm), Alice on B, Bob on B (both warm). Printed: how many of Bob's requests were
refused, how many got data (a leak), and the refusals' latency, per state.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent / "tests"
OUT = HERE / "out"
sys.path.insert(0, str(TESTS))

from conftest import write_tilemaker_config  # noqa: E402
from procs import JupyterServer, Memcached, start_all  # noqa: E402
from test_auth import ALICE, BOB, GRANTS_CONFIG, SERVER_TOKEN, data_routes, write_server_config  # noqa: E402


def bob(stats: dict, server: JupyterServer, state: str, route: str, path: str) -> None:
    """One request of Bob's (no grant), timed and classified."""
    t0 = time.perf_counter()
    r = server.api(path, BOB, timeout=60)
    dt = time.perf_counter() - t0
    kind = "refused" if r.status == 403 else ("leaked" if r.status in (200, 204, 304) else "other")
    stats[state][kind].append((dt, route, r.status))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tiles", type=int, default=20, help="tiles of the granted layer to walk (levels 0-2)")
    args = ap.parse_args()
    work = OUT / "grant_check"
    work.mkdir(parents=True, exist_ok=True)
    run = work / time.strftime("%Y%m%d-%H%M%S")
    setup = write_tilemaker_config(run)
    memcached = Memcached().start()
    cfg = write_server_config(run / "grants_config.py", GRANTS_CONFIG % (str(setup.config), str(setup.allowed), memcached.port))
    a = JupyterServer(run, SERVER_TOKEN, [cfg], name="A")
    b = JupyterServer(run, SERVER_TOKEN, [cfg], name="B")
    tiles = [(z, y, x) for z in range(3) for y in range(2**z) for x in range(2 ** (z + 1))][: args.tiles]
    stats: dict[str, dict[str, list]] = defaultdict(lambda: {"refused": [], "leaked": [], "other": []})
    alice_ok = 0
    try:
        start_all([a, b])
        for t in tiles:
            for route, path in data_routes(*t).items():
                if route in ("sources", "sources table", "layer info", "histogram") and t != tiles[0]:
                    continue  # the same answer for every tile: asked once

                bob(stats, a, "cold (nobody fetched it)", route, path)
                alice_ok += a.api(path, ALICE, timeout=60).status in (200, 204)
                bob(stats, a, "warm, same process", route, path)
                bob(stats, b, "warm in memcached, other process", route, path)
                alice_ok += b.api(path, ALICE, timeout=60).status in (200, 204)
                bob(stats, b, "warm in both", route, path)
    finally:
        a.stop()
        b.stop()
        memcached.stop()

    def pct(values: list[float], q: float) -> float:
        v = sorted(values)
        return round(v[min(len(v) - 1, round(q / 100 * (len(v) - 1)))] * 1000, 1) if v else float("nan")

    result = {"alice_served": alice_ok, "states": {}}
    for state, s in stats.items():
        lat = [dt for dt, *_ in s["refused"]]
        result["states"][state] = {
            "bob_requests": sum(len(v) for v in s.values()),
            "refused_403": len(s["refused"]),
            "leaked": len(s["leaked"]),
            "other": [(route, status) for _, route, status in s["other"]][:10],
            "refusal_p50_ms": pct(lat, 50),
            "refusal_p99_ms": pct(lat, 99),
        }
    result["leaked_total"] = sum(v["leaked"] for v in result["states"].values())
    (OUT / "grant_check.json").write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))
    return 0 if result["leaked_total"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
