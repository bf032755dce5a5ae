"""`tilemaker-widget` genconfig / open / serve / dev, run as real commands."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from procs import free_port, http

from tilemaker_widget.catalogue.config import load_config
from tilemaker_widget.engine.datatile import decode
from tilemaker_widget.sample import write_sample

pytestmark = pytest.mark.timeout(120)

_SCRIPT = Path(sys.executable).parent / "tilemaker-widget"  # the installed entry point
CLI = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "tilemaker_widget.cli"]


def run(*args, cwd=None, timeout=60):
    return subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, timeout=timeout, cwd=cwd)


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli-sample")
    return write_sample(folder, res_arcmin=4.0, dec_range=(-20.0, 5.0), ra_range=(60.0, 0.0), n_sources=20)


# -- genconfig ------------------------------------------------------------------------
def test_genconfig_layers_units_ranges_sources(sample, tmp_path):
    out = tmp_path / "config.json"
    r = run("genconfig", sample["map"], sample["ivar"], sample["catalogue"], "-o", out, "--name", "My maps")
    assert r.returncode == 0, r.stderr
    assert "7 layers from 2 files" in r.stderr  # I, Q, U, P, P/I, ψ and ivar
    config = json.loads(out.read_text())
    (group,) = config["map_groups"]
    assert group["name"] == "My maps"
    layers = [x for m in group["maps"] for b in m["bands"] for x in b["layers"]]
    by_name = {x["name"]: x for x in layers}
    assert len(layers) == 7 and {"I", "Q", "U", "P", "P/I", "ψ"} <= set(by_name)
    for name, index in (("I", 0), ("Q", 1), ("U", 2)):
        x = by_name[name]
        assert x["units"] == "uK"
        assert x["provider"]["filename"] == str(sample["map"].resolve())
        assert x["provider"]["index"] == index and x["provider"]["hdu"] == 0
        assert x["vmin"] < 0 < x["vmax"] and x["vmin"] == -x["vmax"]
    (ivar,) = [x for x in layers if x["name"] == "ivar"]
    assert ivar["provider"]["filename"] == str(sample["ivar"].resolve())
    import astropy.units as u

    assert u.Unit(ivar["units"]) == u.Unit("uK^-2")  # written as astropy spells it
    # Ids are the protocol's deterministic ids for (realpath, hdu, index).
    from tilemaker_widget.catalogue.model import fits_layer_id

    assert by_name["Q"]["layer_id"] == fits_layer_id(sample["map"], 0, 1)
    (sg,) = config["source_groups"]
    assert sg["provider"] == {"file_type": "json", "filename": str(sample["catalogue"].resolve())}
    # The file loads as a TileMaker config, sources included.
    cat = load_config(out)
    assert len(cat.layers()) == 7
    assert len(cat.source_groups[0].sources) == 20


def test_genconfig_to_stdout(sample):
    r = run("genconfig", sample["map"])
    assert r.returncode == 0, r.stderr
    config = json.loads(r.stdout)
    assert config["source_groups"] == []
    assert len(config["map_groups"][0]["maps"][0]["bands"][0]["layers"]) == 6  # I, Q, U, P, P/I, ψ


@pytest.mark.parametrize(
    "name,content,message",
    [
        ("notes.fits", b"this is not a FITS file\n" * 100, "not a readable FITS file"),
        ("picture.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 100, "not a readable FITS file"),
        ("missing.fits", None, "no such file"),
    ],
)
def test_genconfig_errors(tmp_path, name, content, message):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    r = run("genconfig", path, "-o", tmp_path / "out.json")
    assert r.returncode != 0
    assert message in r.stderr and name in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "out.json").exists()


def test_genconfig_table_only_fits(tmp_path):
    from astropy.io import fits
    from astropy.table import Table

    path = tmp_path / "table.fits"
    fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU(Table({"a": [1, 2]}))]).writeto(path)
    r = run("genconfig", path)
    assert r.returncode != 0 and "no image" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("command", ["genconfig", "open"])
def test_missing_catalogue(sample, tmp_path, command):
    r = run(command, sample["map"], tmp_path / "nope.json")
    assert r.returncode != 0 and "nope.json: no such file" in r.stderr and "Traceback" not in r.stderr


def test_genconfig_needs_a_fits_file(sample):
    r = run("genconfig", sample["catalogue"])
    assert r.returncode == 2 and "at least one FITS file" in r.stderr


# -- servers ----------------------------------------------------------------------------
class Running:
    """A CLI process that serves; its output is read line by line in a thread."""

    def __init__(self, *args, cwd=None) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [*CLI, *map(str, args)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            env=env,
            cwd=cwd,
        )
        self.lines: list[str] = []
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, pattern: str, timeout: float = 90.0) -> re.Match:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = re.search(pattern, self.output)
            if m:
                return m
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"{pattern!r} not printed:\n{self.output[-3000:]}")

    def interrupt(self, sig: int = signal.SIGINT, timeout: float = 30.0) -> int:
        self.proc.send_signal(sig)
        return self.proc.wait(timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.thread.join(5)


def port_closed(port: int, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            s.settimeout(0.5)
            if s.connect_ex(("127.0.0.1", port)) != 0:
                return True
        time.sleep(0.2)
    return False


URL = r"(http://localhost:(\d+)/(\S*)tilemaker/\?token=([0-9a-f]+))"


def check_serving(cli: Running, port: int, base: str = "") -> dict:
    m = cli.wait_for(URL)
    url, printed_port, printed_base, token = m.groups()
    # Only the viewer's URL is printed (not Jupyter's own root URL before it).
    assert [u for u in re.findall(r"https?://\S+", cli.output)] == [url], cli.output
    assert int(printed_port) == port
    assert printed_base == base
    root = f"http://127.0.0.1:{port}/{base}tilemaker/"
    status = http(root + "status", token)
    assert status.status == 200 and status.json()["name"] == "tilemaker-widget"
    assert http(root + "status").status == 403  # the token is needed
    layers = http(root + "layers", token).json()
    assert layers
    lid = layers[0]["layer_id"]
    tile = http(root + f"layers/{lid}/0/0/1/tile.f16", token)
    assert tile.status == 200
    values, meta = decode(tile.body)
    assert meta["n_finite"] > 0
    png = http(root + f"layers/{lid}/0/0/1/tile.png", token)
    assert png.status == 200 and png.body[:4] == b"\x89PNG"
    page = http(url.replace("localhost", "127.0.0.1"))
    assert page.status == 200 and b"page.js" in page.body  # the printed URL opens the viewer
    return {"token": token, "layers": layers}


def test_open_fits(sample):
    port = free_port()
    cli = Running("open", sample["map"], sample["catalogue"], "--port", port)
    try:
        info = check_serving(cli, port)
        assert {x["name"] for x in info["layers"]} == {"I", "Q", "U", "P", "P/I", "ψ"}
        assert "statistics" in cli.output  # the warm-up progress
        root = f"http://127.0.0.1:{port}/tilemaker/"
        sources = http(root + "sources", info["token"]).json()
        assert len(sources) == 1
        # SIGTERM (kill, systemd) stops the server too, not only Ctrl-C.
        # interrupt() waits at most 30 s: a CLI that hangs on the signal fails here.
        assert cli.interrupt(signal.SIGTERM) == 0
        assert port_closed(port), "the jupyter server outlived the CLI"
    finally:
        cli.kill()


def test_serve_config_with_base_url(sample):
    port = free_port()
    cli = Running(
        "serve", "--config", sample["config"], "--port", port, "--jupyter-arg=--ServerApp.base_url=/maps/"
    )
    try:
        info = check_serving(cli, port, base="maps/")
        assert len(info["layers"]) == 7  # I, Q, U, P, P/I, ψ, ivar
        assert cli.interrupt() == 0
        assert port_closed(port)
    finally:
        cli.kill()


def test_serve_errors(tmp_path):
    r = run("serve", "--config", tmp_path / "nope.json")
    assert r.returncode == 2 and "no such file" in r.stderr
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    r = run("serve", "--config", bad)
    assert r.returncode == 1 and "bad.json" in r.stderr and "Traceback" not in r.stderr


def test_port_in_use_fails_clearly(sample):
    port = free_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))
        s.listen(1)
        t0 = time.monotonic()
        r = subprocess.run(
            [*CLI, "serve", "--config", str(sample["config"]), "--port", str(port)],
            capture_output=True, text=True, timeout=90,
        )
    assert r.returncode != 0
    assert time.monotonic() - t0 < 30  # jupyter exits at once, not after a 60 s wait
    assert "did not start" in r.stderr
    assert f"port {port} is not available" in r.stderr  # jupyter's own message, shown
    assert f":{port}/" not in r.stdout or "serving at" not in r.stdout


def test_dev_removes_its_folder(tmp_path):
    port = free_port()
    cli = Running("dev", "--res", "8", "--sources", "30", "--port", port)
    try:
        folder = Path(cli.wait_for(r"to (\S*tilemaker-widget-dev-\S*) …").group(1))
        info = check_serving(cli, port)
        assert folder.is_dir() and (folder / "sample_config.json").exists()
        assert len(info["layers"]) == 7  # I, Q, U, P, P/I, ψ, ivar
        root = f"http://127.0.0.1:{port}/tilemaker/"
        assert len(http(root + "sources/sample-sources", info["token"]).json()["sources"]) == 30
        assert cli.interrupt() == 0  # within interrupt()'s 30 s bound
        assert not folder.exists(), f"{folder} is still there"
        assert port_closed(port)
    finally:
        cli.kill()


def test_help_is_plain_text():
    r = run("--help")
    assert r.returncode == 0
    assert "``" not in r.stdout
    assert "open and serve start a plain jupyter server" in " ".join(r.stdout.split())
