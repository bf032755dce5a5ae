"""Fuzzing real servers: TileMaker 3.1's own OpenAPI schema (schemathesis) and our generators.

Two `jupyter server` processes share one memcached (tests/procs.py). Alice holds the
``collab`` grant and warms every granted route first, so the fuzzer meets granted data
cold (server B's process cache) and cached (server A, and memcached for both). Bob,
who holds nothing, sends every fuzzed request. Asserted for every answer:

- never 500; every 4xx carries a JSON ``{"error": ...}``;
- bounded time, per request (a client timeout), and the server keeps answering
  ``/status`` while the fuzzing runs (a watcher thread asks every 0.5 s);
- nothing granted reaches Bob: granted routes answer 403 (or 404), listings never
  name granted things.

TileMaker's schema is generated in the test from the installed TileMaker 3.1 (its own
venv, made by scripts/setup.sh, since its FastAPI dependencies are not ours).
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import urllib.parse
from pathlib import Path

import pytest
from conftest import write_tilemaker_config
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from procs import REPO, JupyterServer, Memcached, start_all
from test_auth import (
    ALICE,
    BOB,
    HIDDEN_WORDS,
    SERVER_TOKEN,
    data_routes,
    shared_grants_config,
    write_server_config,
)
from test_hostile import ROUTES, requests

pytestmark = pytest.mark.timeout(900)

TM_PYTHON = Path(os.environ.get("TMW_TILEMAKER_PYTHON", REPO / "benchmarks" / "out" / "tm-venv" / "bin" / "python"))
REQUEST_TIMEOUT = 20.0
LAYER_IDS = ["act-I", "act-Q", "act-ivar", "secret", "corrupt", "missing", "tan", "nope"]
SECRET_PREFIXES = ("layers/secret", "analysis/aperture/secret", "histograms/data/secret", "sources/hidden-sources")

FUZZ = settings(
    max_examples=int(os.environ.get("TMW_FUZZ_EXAMPLES", "40")),  # per route
    deadline=None,  # no wall-time assertions: each request has a client timeout instead
    database=None,
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    return write_tilemaker_config(tmp_path_factory.mktemp("fuzz"))


@pytest.fixture(scope="module")
def servers(setup, tmp_path_factory):
    memcached = Memcached().start()
    work = tmp_path_factory.mktemp("fuzz-servers")
    cfg = write_server_config(
        work / "grants_config.py", shared_grants_config(setup, memcached)
    )
    a = JupyterServer(work, SERVER_TOKEN, [cfg], name="A")
    b = JupyterServer(work, SERVER_TOKEN, [cfg], name="B")
    try:
        start_all([a, b])
        # Alice warms every granted route in A (process cache) and in memcached.
        for path in data_routes(2, 1, 4).values():
            r = a.api(path, ALICE)
            assert r.status in (200, 204), (path, r)
        yield a, b
    finally:
        a.stop()
        b.stop()
        memcached.stop()


class StatusWatcher:
    """Asks ``/status`` every 0.5 s while fuzzing runs; records answers that were late or wrong."""

    def __init__(self, server: JupyterServer) -> None:
        self.server, self.failures, self.answers = server, [], 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while True:
            try:
                r = self.server.api("status", SERVER_TOKEN, timeout=10)
                self.answers += 1
                if r.status != 200:
                    self.failures.append(r.status)
            except OSError as exc:
                self.failures.append(repr(exc))
            if self._stop.wait(0.5):
                return

    def __enter__(self) -> StatusWatcher:
        self._thread.start()
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        self._stop.set()
        self._thread.join(15)
        if exc_type is not None:
            return  # the test's own failure says more
        assert not self.failures, f"/status failed while fuzzing: {self.failures[:5]}"
        assert self.answers > 0


def check(server: JupyterServer, method: str, path: str, status: int, body: bytes, content_type: str) -> None:
    where = f"{method} {server.port} /{path[:200]}"
    assert status != 500, (where, body[:300])
    if 400 <= status < 500:
        assert content_type.startswith("application/json"), (where, status, content_type)
        err = json.loads(body)
        assert set(err) == {"error"} and isinstance(err["error"], str) and err["error"], (where, err)
    route = urllib.parse.unquote(path.split("?", 1)[0]).strip("/")
    if any(route == p or route.startswith(p + "/") for p in SECRET_PREFIXES):
        unrouted = status == 404 and b"no such API route" in body
        assert status == 403 or unrouted, (where, status, body[:200])
    elif status == 200 and content_type.startswith(("application/json", "application/xml")):
        # Words the client sent may come back (TileJSON echoes the query into its URLs).
        sent = urllib.parse.unquote_plus(path)
        text = body.decode()
        assert not any(w in text for w in HIDDEN_WORDS if w not in sent), (where, text[:300])


# -- TileMaker's own schema (schemathesis) ----------------------------------------------
@pytest.fixture(scope="module")
def tilemaker_schema():
    if not TM_PYTHON.exists():
        pytest.fail(f"{TM_PYTHON} is missing: run scripts/setup.sh (TileMaker 3.1 in benchmarks/out/tm-venv)")
    out = subprocess.run(
        [str(TM_PYTHON), "-c", "import json; from tilemaker.server import app; print(json.dumps(app.openapi()))"],
        capture_output=True, text=True, timeout=180, cwd="/", env={"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp")},
    )
    assert out.returncode == 0, out.stderr[-2000:]
    schema = json.loads(out.stdout)
    assert schema["info"] and "/layers/{layer_id}/{level}/{y}/{x}/tile.{ext}" in schema["paths"]
    return schema


def operations(schema):
    import schemathesis

    loaded = schemathesis.openapi.from_dict(schema)
    ops = []
    for result in loaded.get_all_operations():
        op = result.ok()
        if op.path != "/":  # TileMaker's index page: ours is the full-page viewer
            ops.append(op)
    return ops


SCHEMA_FUZZ = settings(FUZZ, max_examples=int(os.environ.get("TMW_SCHEMA_EXAMPLES", "100")))  # per operation


# Hand-made values mixed into the schema's cases: the schema types TileMaker's numbers
# loosely (``level: integer``, ``ra: number``, ``ext: string``), so the generated cases
# rarely reach the code behind the type check without some help.
ZOO = {
    "integer": ["100000000000000000000", "9" * 5000, "-1", "31", "2"],
    "number": ["1e308", "-1e308", "1.7976931348623157e308", "1" * 400, "nan", "-inf", "5e-324"],
}
TILE_EXTS = ["png", "webp", "jpg", "f16", "f32", "q8", "q8png"]


def schema_fuzzer(op, raw_parameters, servers, sent):
    """A hypothesis test sending one operation's generated cases as Bob."""
    layer_params = [p for p in ("layer_id", "layer") if "{" + p + "}" in op.path]
    typed = [(p["name"], p["in"], p.get("schema", {}).get("type")) for p in raw_parameters]
    typed = [(name, where, kind) for name, where, kind in typed if kind in ZOO]

    @SCHEMA_FUZZ
    @given(case=op.as_strategy(), data=st.data())
    def fuzz(case, data):
        # The schema knows no layer ids: often use real ones (granted ones too).
        for name in layer_params:
            if data.draw(st.booleans(), label=f"real {name}"):
                case.path_parameters[name] = data.draw(st.sampled_from(LAYER_IDS), label=name)
        if "{ext}" in op.path and "tile" in op.path and data.draw(st.booleans(), label="real ext"):
            case.path_parameters["ext"] = data.draw(st.sampled_from(TILE_EXTS), label="ext")
        for name, where, kind in typed:
            if data.draw(st.integers(0, 3), label=f"zoo {name}") == 0:
                target = case.path_parameters if where == "path" else case.query
                if target is not None:
                    target[name] = data.draw(st.sampled_from(ZOO[kind]), label=name)
        server = data.draw(st.sampled_from(servers), label="server")
        response = case.call(
            base_url=server.url + "tilemaker",
            headers={"Authorization": f"token {BOB}"},
            timeout=REQUEST_TIMEOUT,
            allow_redirects=False,
        )
        sent["n"] += 1
        path = response.request.path_url.split("/tilemaker/", 1)[1]
        content_type = (response.headers.get("content-type") or [""])[0]  # schemathesis: lists
        check(server, case.method, path, response.status_code, response.content, content_type)

    return fuzz


def test_tilemaker_schema_fuzz(servers, tilemaker_schema):
    ops = operations(tilemaker_schema)
    assert len(ops) >= 14, [op.path for op in ops]
    sent = {"n": 0}
    with StatusWatcher(servers[0]):
        for op in ops:
            raw = tilemaker_schema["paths"][op.path][op.method.lower()].get("parameters", [])
            schema_fuzzer(op, raw, servers, sent)()
    assert sent["n"] >= len(ops) * 10


# -- our own generators through the real server ---------------------------------------------
def quoted(path: str) -> str:
    return "/".join(urllib.parse.quote(seg, safe="") for seg in path.split("/"))


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_generated_requests_through_the_server(servers, route):
    a, b = servers

    @FUZZ
    @given(req=requests(route), server=st.sampled_from([0, 1]))
    def fuzz(req, server):
        path, query = req
        target = (a, b)[server]
        url = quoted(path) + ("?" + urllib.parse.urlencode(query) if query else "")
        r = target.api(url, BOB, timeout=REQUEST_TIMEOUT)
        check(target, "GET", url, r.status, r.body, r.headers.get("Content-Type", ""))

    fuzz()


def test_absurd_zoom_does_not_stop_the_server(servers, setup):
    """The request that froze every route for every user: answered, and the server lives on."""
    a, _ = servers
    with StatusWatcher(a):
        for z in ("100000000000000000000", "9" * 5000, "2" * 30):
            r = a.api(f"layers/act-I/{z}/0/0/tile.png", BOB, timeout=REQUEST_TIMEOUT)
            assert r.status == 404 and "level" in r.json()["error"], r
            assert a.api("status", SERVER_TOKEN, timeout=10).status == 200
        for path in ("layers/act-I/pixel?ra=1e308&dec=0", "analysis/aperture/act-I?ra=1e308&dec=0&radius=5",
                     "layers/act-I/submap/1e308/8/-18/-22/image.fits"):
            r = a.api(path, BOB, timeout=REQUEST_TIMEOUT)
            assert r.status in (200, 400), r
        fifo = setup.allowed / "pipe.fits"
        os.mkfifo(fifo)
        for path, status in ((fifo, 422), ("/dev/zero", 403)):  # /dev is outside allowed_roots
            body = json.dumps({"sources": [{"path": str(path)}]}).encode()
            r = a.api("register", ALICE, method="POST", body=body, timeout=REQUEST_TIMEOUT)
            assert r.status == status and "error" in r.json(), r
