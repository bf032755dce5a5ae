"""The catalogue from a SQL database in TileMaker 3.1's schema: SQLite and a real PostgreSQL.

A database written by TileMaker's own ``tilemaker-db populate`` (run in TileMaker's
environment) serves unchanged; ``tilemaker-widget db load`` writes the same schema;
maps added, removed or re-granted while a server runs show within a few polls; grants
from the database hide layers as a JSON config's do.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import missing_part, write_tilemaker_config
from pgserver import PostgresServer, postgres_bin
from procs import JupyterServer
from test_derived_combination import tilemaker_python
from tokenusers import grants_config

from tilemaker_widget.catalogue.config import ConfigError, catalogue_to_dict, load_config
from tilemaker_widget.catalogue.database import DatabaseCatalogue
from tilemaker_widget.catalogue.inspect import file_map_group, layers_from_fits
from tilemaker_widget.cli import main as cli
from tilemaker_widget.engine import datatile


def absolute_config(setup, out: Path) -> Path:
    """The test config as TileMaker 3.1 takes it: absolute filenames (it opens a database's
    filenames as given), only the CAR maps' group (it opens every file as it loads
    and fails on the others: unreadable, non-CAR),
    every node with a description and every source with name and extra (it requires
    them), and without the CSV catalogue (it reads CSV without a header row)."""
    data = json.loads(setup.config.read_text())
    data["source_groups"] = [sg for sg in data["source_groups"] if sg["source_group_id"] != "from-csv"]
    data["map_groups"] = [g for g in data["map_groups"] if g["map_group_id"] == "act"]
    for g in data["map_groups"]:
        g.setdefault("description", "")
        for m in g["maps"]:
            m.setdefault("description", "")
            for b in m["bands"]:
                b.setdefault("description", "")
                for x in b["layers"]:
                    x["provider"]["filename"] = str(setup.folder / x["provider"]["filename"])
    for sg in data["source_groups"]:
        for source in sg.get("sources") or []:
            source.setdefault("name", None)
            source.setdefault("extra", {})  # TileMaker requires both
        if sg.get("provider"):
            sg["provider"]["filename"] = str(setup.folder / sg["provider"]["filename"])
    out.write_text(json.dumps(data))
    return out


def one_map_config(path: Path, fits: Path, layer_id: str, grant: str | None = None) -> Path:
    path.write_text(json.dumps({"map_groups": [{
        "map_group_id": "late", "name": "Added later", "maps": [{
            "map_id": f"map-{layer_id}", "name": "Late map", "grant": grant, "bands": [{
                "band_id": "b", "name": "f150", "layers": [{
                    "layer_id": layer_id, "name": "Late layer", "vmin": -1, "vmax": 1,
                    "provider": {"provider_type": "fits", "filename": str(fits)},
                }],
            }],
        }],
    }]}))  # fmt: skip
    return path


def wait_for(predicate, timeout: float = 20.0):
    """Poll until ``predicate()`` is truthy (the server polls its database every 0.5 s)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


def layer_ids(server, token="default") -> list[str]:
    r = server.api("layers", token)
    assert r.status == 200, r.body
    return [x["layer_id"] for x in r.json()]


# -- without a server -----------------------------------------------------------
def test_load_then_read_gives_the_config_back(tmp_path):
    """``db load`` then reading the database: the same catalogue as the JSON file (grants too)."""
    setup = write_tilemaker_config(tmp_path)
    url = f"sqlite:///{tmp_path / 'maps.db'}"
    assert cli(["db", "load", str(setup.config), "--url", url]) == 0
    from_json = catalogue_to_dict(load_config(setup.config))
    from_db = catalogue_to_dict(DatabaseCatalogue(url).read())
    assert from_db == from_json
    assert any(x["grant"] == "collab" for g in from_db["map_groups"] for m in g["maps"] for b in m["bands"] for x in b["layers"])
    # Loading again updates in place: nothing doubles.
    assert cli(["db", "load", str(setup.config), "--url", url]) == 0
    assert catalogue_to_dict(DatabaseCatalogue(url).read()) == from_json


def test_missing_or_empty_database_is_an_error(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'typo.db'}"
    with pytest.raises(ConfigError, match="does not exist"):
        DatabaseCatalogue(url)
    assert not (tmp_path / "typo.db").exists()  # not created by looking
    assert cli(["serve", "--config", url]) == 1
    assert "typo.db does not exist" in capsys.readouterr().err
    (tmp_path / "empty.db").touch()
    with pytest.raises(ConfigError, match="no table 'map_groups'"):
        DatabaseCatalogue(f"sqlite:///{tmp_path / 'empty.db'}").read()
    with pytest.raises(ConfigError, match="no database kind 'nonsense'"):
        DatabaseCatalogue("nonsense://")


def test_reload_keeps_registered_files(tmp_path):
    """A reload replaces the configured maps and keeps files registered since (the widget's)."""
    setup = write_tilemaker_config(tmp_path)
    catalogue = load_config(setup.config)
    registered = catalogue.add_map_group(file_map_group(layers_from_fits(setup.allowed / "reg_f150.fits")))
    fresh = load_config(one_map_config(tmp_path / "late.json", setup.maps["ivar"], "late-1"))
    catalogue.reload(fresh)
    ids = [x.layer_id for x in catalogue.layers()]
    assert ids == ["late-1"] + [x.layer_id for x in registered]
    assert catalogue.layer("act-I") is None
    # The registered layer still has its place, and a second reload still keeps it.
    catalogue.reload(load_config(setup.config))
    assert catalogue.place(registered[0]).group.map_group_id == registered[0].map_group_id
    assert catalogue.layer("late-1") is None and catalogue.layer("act-I") is not None


# -- TileMaker's own populate, SQLite --------------------------------------------
def test_database_populated_by_tilemaker_serves_and_follows_changes(tmp_path):
    python = tilemaker_python()
    if python is None:
        missing_part("TileMaker's environment is absent (scripts/setup.sh makes benchmarks/out/tm-venv)")
    tm_db = str(Path(python).parent / "tilemaker-db")
    setup = write_tilemaker_config(tmp_path)
    config = absolute_config(setup, tmp_path / "abs.json")
    url = f"sqlite:///{tmp_path / 'tm.db'}"
    env = {**os.environ, "TILEMAKER_CONFIG_PATH": url}
    subprocess.run([tm_db, "populate", str(config)], env=env, check=True, capture_output=True, timeout=120)

    server = JupyterServer(tmp_path, env={"TILEMAKER_CONFIG_PATH": url}, args=["--TileMaker.catalogue_poll_seconds=0.5"], name="tm-db").start()
    try:
        assert layer_ids(server) == ["act-I", "act-Q", "act-ivar", "secret"]
        r = server.api("layers/act-I/2/1/4/tile.f16")
        assert r.status == 200
        values, _ = datatile.decode(r.body)
        assert np.isfinite(values).any()
        assert [s["name"] for s in server.api("sources").json()] == ["Inline sources", "JSON sources", "Collaboration sources"]
        assert server.api("sources/from-json").json()["sources"][0]["extra"] == {"flux_mJy": 3.5}
        assert server.api("highlights/boxes").json()[0]["name"] == "Deep patch"
        assert "serving 4 layers from database" in server.tail(200)

        # TileMaker's own delete while the server runs: the map disappears...
        subprocess.run([tm_db, "delete", "map", "act-deep"], env=env, check=True, capture_output=True, timeout=120)
        assert wait_for(lambda: "act-I" not in layer_ids(server))
        assert server.api("layers/act-I/2/1/4/tile.f16").status == 404
        # ...and ours adds one.
        late = one_map_config(tmp_path / "late.json", setup.maps["ivar"], "late-1")
        assert cli(["db", "load", str(late), "--url", url]) == 0
        assert wait_for(lambda: "late-1" in layer_ids(server))
        assert server.api("layers/late-1/2/1/4/tile.f16").status == 200
    finally:
        server.stop()


# -- a real PostgreSQL server ------------------------------------------------------
@pytest.fixture(scope="module")
def postgres():
    if postgres_bin() is None:
        missing_part("PostgreSQL is not installed (scripts/setup.sh installs it)")
    with PostgresServer() as pg:
        yield pg


def test_postgres_catalogue_with_grants_follows_changes(tmp_path, postgres):
    import sqlalchemy as sa

    setup = write_tilemaker_config(tmp_path)
    url = postgres.url
    assert cli(["db", "load", str(setup.config), "--url", url]) == 0
    server_cfg = tmp_path / "jupyter_server_config.py"
    server_cfg.write_text(grants_config(config_path=url, catalogue_poll_seconds=0.5))
    server = JupyterServer(tmp_path, "server-token", [f"--config={server_cfg}"], name="pg").start()
    try:
        alice = layer_ids(server, "alice-token")
        bob = layer_ids(server, "bob-token")
        assert "secret" in alice and "secret" not in bob
        assert server.api("layers/secret/2/1/4/tile.f16", "bob-token").status == 403
        assert server.api("layers/secret/2/1/4/tile.f16", "alice-token").status == 200
        assert "hidden-sources" not in [s["source_group_id"] for s in server.api("sources", "bob-token").json()]

        # A grant set in the database while the server runs hides a layer from bob.
        engine = sa.create_engine(url)
        with engine.begin() as con:
            con.execute(sa.text('UPDATE layers SET "grant" = \'collab\' WHERE layer_id = \'act-Q\''))
        assert wait_for(lambda: "act-Q" not in layer_ids(server, "bob-token"))
        assert server.api("layers/act-Q/2/1/4/tile.f16", "bob-token").status == 403
        assert "act-Q" in layer_ids(server, "alice-token")

        # A granted map added, then removed, without a restart.
        late = one_map_config(tmp_path / "late.json", setup.maps["ivar"], "late-pg", grant="collab")
        assert cli(["db", "load", str(late), "--url", url]) == 0
        assert wait_for(lambda: "late-pg" in layer_ids(server, "alice-token"))
        assert "late-pg" not in layer_ids(server, "bob-token")
        assert cli(["db", "delete", "map", "map-late-pg", "--url", url]) == 0
        assert wait_for(lambda: "late-pg" not in layer_ids(server, "alice-token"))
        engine.dispose()
    finally:
        server.stop()


def test_postgres_down_keeps_the_last_catalogue(tmp_path, postgres):
    """A database that stops answering: the server keeps serving what it read, and says why once."""
    setup = write_tilemaker_config(tmp_path)
    pg = PostgresServer().start()
    try:
        assert cli(["db", "load", str(setup.config), "--url", pg.url]) == 0
        server = JupyterServer(tmp_path, env={"TILEMAKER_CONFIG_PATH": pg.url}, args=["--TileMaker.catalogue_poll_seconds=0.5"], name="pg-down").start()
    finally:
        pg.stop()
    try:
        assert wait_for(lambda: "keeping the last catalogue read" in server.tail(200))
        assert "act-I" in layer_ids(server)
        assert server.tail(400).count("keeping the last catalogue read") == 1
    finally:
        server.stop()
