"""``tilemaker-widget``: genconfig, open, serve, dev and db.

``open`` and ``serve`` start a plain ``jupyter server`` with the extension (nothing
else to install or run) and print the URL of the full-page viewer, token included.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path


def _free_port(preferred: int | None) -> int:
    if preferred:
        return preferred
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _config_for(files: list[str], command: str, group_name: str = "Files") -> tuple[dict | None, int]:
    """A TileMaker config for FITS maps plus .json/.csv catalogues.

    Returns (config, number of FITS files), or (None, exit code) after printing why.
    """
    from .catalogue.config import catalogue_to_dict
    from .catalogue.inspect import catalogue_from_fits

    fits_files = [f for f in files if not f.lower().endswith((".json", ".csv"))]
    catalogues = [f for f in files if f not in fits_files]
    if not fits_files:
        print(f"{command}: give at least one FITS file", file=sys.stderr)
        return None, 2
    missing = [c for c in catalogues if not Path(c).is_file()]
    if missing:
        print(f"{command}: {missing[0]}: no such file", file=sys.stderr)
        return None, 1
    try:
        config = catalogue_to_dict(catalogue_from_fits(fits_files, group_name=group_name))
    except (OSError, ValueError) as exc:
        print(f"{command}: {exc}", file=sys.stderr)
        return None, 1
    config["source_groups"] = [
        {
            "source_group_id": f"sources-{k}",
            "name": Path(c).name,
            "provider": {
                "file_type": "csv" if c.lower().endswith(".csv") else "json",
                "filename": str(Path(c).resolve()),
            },
        }
        for k, c in enumerate(catalogues)
    ]
    return config, len(fits_files)


def cmd_genconfig(args: argparse.Namespace) -> int:
    config, n_fits = _config_for(args.files, "genconfig", group_name=args.name)
    if config is None:
        return n_fits
    text = json.dumps(config, indent=1)
    if args.output in (None, "-"):
        print(text)
    else:
        Path(args.output).write_text(text)
        n = sum(len(b["layers"]) for g in config["map_groups"] for m in g["maps"] for b in m["bands"])
        print(f"wrote {args.output}: {n} layers from {n_fits} files", file=sys.stderr)
    return 0


def _base_url(extra: list[str]) -> str:
    """The server's base URL from extra jupyter options (``--ServerApp.base_url=/maps/``)."""
    base = "/"
    for arg in extra:
        for prefix in ("--ServerApp.base_url=", "--base-url=", "--NotebookApp.base_url="):
            if arg.startswith(prefix):
                base = arg[len(prefix) :] or "/"
    base = "/" + base.strip("/") + "/"
    return base.replace("//", "/")


def _wait_ready(url: str, token: str, proc: subprocess.Popen, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            req = urllib.request.Request(url + "tilemaker/status", headers={"Authorization": f"token {token}"})
            with urllib.request.urlopen(req, timeout=2) as r:
                if r.status == 200:
                    return True
        except OSError:
            time.sleep(0.2)
    return False


def _warm(url: str, token: str) -> None:
    """Read the first layer's statistics and overview, showing progress."""

    def get(path: str) -> bytes:
        req = urllib.request.Request(url + "tilemaker/" + path, headers={"Authorization": f"token {token}"})
        with urllib.request.urlopen(req, timeout=600) as r:
            return r.read()

    try:
        layers = json.loads(get("layers"))
    except OSError as exc:
        print(f"  could not list layers: {exc}")
        return
    for layer in layers[:1]:
        if "error" in layer:
            print(f"  {layer['name']}: {layer['error']}")
            continue
        print(f"  reading {layer['name']} ({layer.get('shape')} pixels): statistics…", end="", flush=True)
        try:
            t0 = time.monotonic()
            get(f"histograms/data/{layer['layer_id']}")
            print(f" {time.monotonic() - t0:.1f} s; overview…", end="", flush=True)
            t0 = time.monotonic()
            for x in (0, 1):
                get(f"layers/{layer['layer_id']}/0/0/{x}/tile.f16")
            print(f" {time.monotonic() - t0:.1f} s")
        except OSError as exc:  # the viewer shows the layer's error; keep serving
            print(f" failed: {exc}")


def run_server(config: Path | str | None, port: int | None, ip: str, token: str | None, open_browser: bool, extra: list[str], warm: bool = True) -> int:
    port = _free_port(port)
    token = secrets.token_hex(16) if token is None else token
    cmd = [
        sys.executable,
        "-m",
        "jupyter_server",
        "--no-browser",
        f"--ServerApp.ip={ip}",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",  # a busy port fails, rather than serving elsewhere
        f"--IdentityProvider.token={token}",
        "--ServerApp.jpserver_extensions=tilemaker_widget=True",
        # Jupyter's own banner prints its root URL (…/?token=…) before ours is ready;
        # the viewer's URL is the one to open, so keep only warnings and errors
        # (``--ServerApp.log_level=INFO`` among the extra options brings it back).
        "--ServerApp.log_level=WARN",
        *extra,
    ]
    if config is not None:
        cmd.append(f"--TileMaker.config_path={config}")
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    proc = subprocess.Popen(cmd)
    host = "localhost" if ip in ("127.0.0.1", "0.0.0.0", "") else ip
    base = f"http://{host}:{port}{_base_url(extra)}"
    try:
        if not _wait_ready(base, token, proc):
            print("tilemaker-widget: the server did not start (see the messages above)", file=sys.stderr)
            return 1
        if warm:
            _warm(base, token)
        url = f"{base}tilemaker/" + (f"?token={token}" if token else "")
        print(f"\n  tilemaker-widget is serving at\n\n      {url}\n\n  (Ctrl-C to stop)\n", flush=True)
        if open_browser:
            import webbrowser

            webbrowser.open(url)
        return proc.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        if proc.poll() is None:
            # SIGTERM stops jupyter server at once; a single SIGINT would make it ask
            # "Shut down this Jupyter server (y/[n])?" when it has a terminal.
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def cmd_open(args: argparse.Namespace) -> int:
    config, code = _config_for(args.files, "open")
    if config is None:
        return code
    # The config goes in a private temporary folder, never beside the maps.
    with tempfile.TemporaryDirectory(prefix="tilemaker-widget-") as tmp:
        path = Path(tmp) / "config.json"
        path.write_text(json.dumps(config))
        return run_server(path, args.port, args.ip, args.token, args.browser, args.extra)


def cmd_serve(args: argparse.Namespace) -> int:
    from .catalogue.config import is_database_url

    if is_database_url(args.config):
        from .catalogue.config import ConfigError
        from .catalogue.database import DatabaseCatalogue

        try:
            DatabaseCatalogue(args.config).read()
        except ConfigError as exc:
            print(f"serve: {exc}", file=sys.stderr)
            return 1
        return run_server(args.config, args.port, args.ip, args.token, args.browser, args.extra)
    config = Path(args.config).resolve()
    if not config.exists():
        print(f"serve: {config}: no such file", file=sys.stderr)
        return 2
    from .catalogue.config import ConfigError, load_config

    try:
        load_config(config)
    except ConfigError as exc:
        print(f"serve: {exc}", file=sys.stderr)
        return 1
    return run_server(config, args.port, args.ip, args.token, args.browser, args.extra)


def cmd_dev(args: argparse.Namespace) -> int:
    from .sample import write_sample

    with tempfile.TemporaryDirectory(prefix="tilemaker-widget-dev-") as tmp:
        print(f"writing a sample map ({args.res}′ I/Q/U, ivar, {args.sources} sources) to {tmp} …", flush=True)
        paths = write_sample(tmp, res_arcmin=args.res, n_sources=args.sources)
        return run_server(paths["config"], args.port, args.ip, args.token, args.browser, args.extra)


def cmd_db(args: argparse.Namespace) -> int:
    """``db load|list|delete``: TileMaker's ``tilemaker-db`` for our schema, any database URL."""
    from .catalogue.config import ConfigError, load_config
    from .catalogue.database import DatabaseCatalogue, redacted

    if not args.url:
        print("db: give --url (or set TILEMAKER_CONFIG_PATH to a database URL)", file=sys.stderr)
        return 2
    try:
        db = DatabaseCatalogue(args.url, create=args.action == "load")
        if args.action == "load":
            counts = db.load(load_config(args.config))
            shown = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in counts.items() if n)
            print(f"loaded {args.config} into {redacted(args.url)}: {shown or 'nothing'}")
        elif args.action == "list":
            for layer in db.read().layers():
                print(f"{layer.map_group_id}/{layer.map_id}/{layer.band_id}/{layer.layer_id}\t{layer.name}")
        else:
            if not db.delete(args.kind, args.id):
                print(f"db: no {args.kind} {args.id!r} in {redacted(args.url)}", file=sys.stderr)
                return 1
            print(f"deleted {args.kind} {args.id}")
    except ConfigError as exc:
        print(f"db: {exc}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    # The module docstring is reStructuredText; a terminal wants plain text.
    description = re.sub(r"``([^`]+)``", r"\1", __doc__ or "")
    parser = argparse.ArgumentParser(prog="tilemaker-widget", description=description)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("genconfig", help="write a TileMaker config for FITS files")
    p.add_argument("files", nargs="+", help="FITS maps, and source catalogues (.json/.csv)")
    p.add_argument("-o", "--output", help="output file (default: stdout)")
    p.add_argument("--name", default="Files", help="name of the map group")
    p.set_defaults(func=cmd_genconfig)

    def server_options(q: argparse.ArgumentParser) -> None:
        q.add_argument("--port", type=int, default=None, help="port (default: a free one)")
        q.add_argument("--ip", default="127.0.0.1", help="interface to listen on")
        q.add_argument("--token", default=None, help="access token (default: random; '' for none)")
        q.add_argument("--browser", action="store_true", help="open a web browser")
        q.add_argument(
            "--jupyter-arg",
            dest="extra",
            action="append",
            default=[],
            help="extra option for jupyter server, e.g. --jupyter-arg=--ServerApp.base_url=/maps/",
        )

    p = sub.add_parser("open", help="serve FITS files (and catalogues) in the full-page viewer")
    p.add_argument("files", nargs="+")
    server_options(p)
    p.set_defaults(func=cmd_open)

    p = sub.add_parser("serve", help="serve a TileMaker config file")
    p.add_argument("--config", required=True)
    server_options(p)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("dev", help="generate a sample map in a temporary folder and open it")
    p.add_argument("--res", type=float, default=2.0, help="pixel scale in arcmin (default 2)")
    p.add_argument("--sources", type=int, default=300)
    server_options(p)
    p.set_defaults(func=cmd_dev)

    p = sub.add_parser("db", help="load a config into a catalogue database, list or delete its maps")
    dbsub = p.add_subparsers(dest="action", required=True)

    def db_url(q: argparse.ArgumentParser) -> None:
        env = os.environ.get("TILEMAKER_CONFIG_PATH", "")
        q.add_argument(
            "--url",
            default=env if "://" in env else None,
            help="database URL, e.g. sqlite:///maps.db or postgresql://user@host/db "
            "(default: $TILEMAKER_CONFIG_PATH when it is one)",
        )
        q.set_defaults(func=cmd_db)

    q = dbsub.add_parser("load", help="insert or update a TileMaker config file's contents (creates the tables)")
    q.add_argument("config", help="TileMaker v3 configuration JSON")
    db_url(q)
    q = dbsub.add_parser("list", help="list the layers the database serves")
    db_url(q)
    q = dbsub.add_parser("delete", help="remove a map group, map or layer and what lies below it")
    q.add_argument("kind", choices=["group", "map", "layer"])
    q.add_argument("id")
    db_url(q)

    args = parser.parse_args(argv)

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    # SIGTERM (kill, systemd) and SIGHUP (closed terminal) clean up like Ctrl-C: the
    # server is stopped and `open`/`dev` remove their temporary folders.
    signal.signal(signal.SIGTERM, stop)
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, stop)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
