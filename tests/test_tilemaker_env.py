"""TileMaker's own environment variables configure a real server process."""

from __future__ import annotations

import numpy as np
from procs import JupyterServer

from tilemaker_widget.engine import datatile
from tilemaker_widget.sample import write_sample


def test_config_and_cache_from_tilemaker_environment(tmp_path):
    sample = write_sample(tmp_path / "maps", res_arcmin=8.0, n_sources=5)
    env = {"TILEMAKER_CONFIG_PATH": str(sample["config"]), "TILEMAKER_CACHE_TYPE": "in_memory"}
    server = JupyterServer(tmp_path, env=env, name="env").start()
    try:
        layers = server.api("layers").json()
        assert [x["name"] for x in layers] == ["I", "Q", "U", "P", "P/I", "ψ", "ivar"]
        lid = layers[0]["layer_id"]
        r = server.api(f"layers/{lid}/0/0/1/tile.f16")
        assert r.status == 200
        values, meta = datatile.decode(r.body)
        assert values.shape == (675, 675) and meta["n_finite"] > 0
        assert np.nanmax(np.abs(values)) < 3000  # μK: a CMB-like field with sources
        assert server.api("sources").json()[0]["name"] == "Sample sources"
        assert server.api("highlights/boxes").json()[0]["name"] == "Deep patch"
    finally:
        server.stop()
