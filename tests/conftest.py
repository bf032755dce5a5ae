"""Shared fixtures: small real CAR maps, a TileMaker config, and a jupyter server."""

from __future__ import annotations

import csv
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from mapmaker import write_car  # noqa: E402

from tilemaker_widget.catalogue.model import FitsProvider, Layer  # noqa: E402
from tilemaker_widget.engine import Engine  # noqa: E402

pytest_plugins = ("pytest_jupyter.jupyter_server",)

# The standard small test map: 6′ pixels (tile 450, native level 2), 300 × 200 pixels,
# pixel centres on the tile grid's pixel centres, RA decreasing with column (ACT-like).
RES = 0.1
NY, NX = 200, 300
RA_FIRST, DEC_FIRST = 20.05, -30.05


def missing_part(reason: str) -> None:
    """A part scripts/setup.sh installs is absent: skip on a developer's machine, fail in CI
    (``CI`` set), where a set-up gap must not pass as a skipped test."""
    import os

    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI)")
    pytest.skip(reason)


def make_layer(path, hdu=None, index=None, layer_id="L", vmin=None, vmax=None, cmap=None, units=None):
    return Layer(
        layer_id=layer_id,
        name=layer_id,
        provider=FitsProvider(filename=Path(path), hdu=hdu, index=index),
        vmin=vmin,
        vmax=vmax,
        cmap=cmap,
        units=units,
    )


@pytest.fixture
def engine():
    return Engine()


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@dataclass
class TileMakerSetup:
    config: Path
    folder: Path
    maps: dict[str, Path]
    allowed: Path
    outside: Path


def write_tilemaker_config(root: Path) -> TileMakerSetup:
    """A TileMaker v3 config with two map groups, a granted layer, sources and boxes.

    Filenames in the config are relative to the config's folder.
    """
    folder = root / "cfg"
    (folder / "maps").mkdir(parents=True)
    rng = np.random.default_rng(7)
    iqu = rng.normal(0.0, 100.0, (3, NY, NX)).astype(np.float32)
    iqu[0, 10, 10] = np.nan
    maps = {
        "iqu": write_car(folder / "maps" / "act_f090_map.fits", iqu, RES, RA_FIRST, DEC_FIRST, bunit="uK"),
        "ivar": write_car(
            folder / "maps" / "act_f090_ivar.fits",
            rng.uniform(1.0, 3.0, (NY, NX)).astype(np.float32),
            RES, RA_FIRST, DEC_FIRST, bunit="uK^-2",
        ),
        "secret": write_car(
            folder / "maps" / "secret.fits",
            rng.normal(0.0, 1.0, (NY, NX)).astype(np.float32),
            RES, RA_FIRST, DEC_FIRST, bunit="uK",
        ),
        "tan": write_car(
            folder / "maps" / "tan.fits", np.ones((50, 50), np.float32), RES, 10.0, -20.0, hdu_kind="tan"
        ),
        "solar": write_car(
            folder / "maps" / "solar.fits", np.ones((50, 50), np.float32), RES, 10.0, -20.0, hdu_kind="solar"
        ),
    }
    corrupt = folder / "maps" / "corrupt.fits"
    corrupt.write_bytes(b"this is not a FITS file at all " * 200)
    maps["corrupt"] = corrupt
    maps["missing"] = folder / "maps" / "missing.fits"

    (folder / "sources.json").write_text(
        json.dumps([{"name": "J1", "ra": 10.0, "dec": -20.0, "extra": {"flux_mJy": 3.5}}])
    )
    with open(folder / "sources.csv", "w", newline="") as handle:
        w = csv.DictWriter(handle, fieldnames=["name", "ra", "dec", "snr"])
        w.writeheader()
        w.writerow({"name": "C1", "ra": "5.5", "dec": "-25.0", "snr": "7"})
        w.writerow({"name": "C2", "ra": "6.5", "dec": "-26.0", "snr": "9"})

    def fits_layer(layer_id, name, filename, **kw):
        provider = {"provider_type": "fits", "filename": filename}
        for k in ("hdu", "index"):
            if k in kw:
                provider[k] = kw.pop(k)
        return {"layer_id": layer_id, "name": name, "provider": provider, **kw}

    config = {
        "map_groups": [
            {
                "map_group_id": "act",
                "name": "ACT DR6",
                "description": "Atacama Cosmology Telescope",
                "maps": [
                    {
                        "map_id": "act-deep",
                        "name": "Deep field",
                        "bands": [
                            {
                                "band_id": "act-f090",
                                "name": "f090",
                                "layers": [
                                    fits_layer("act-I", "Intensity", "maps/act_f090_map.fits", index=0,
                                               quantity="T (I)", units="uK", vmin=-300, vmax=300, cmap="RdBu_r"),
                                    fits_layer("act-Q", "Q pol", "maps/act_f090_map.fits", index=1,
                                               units="uK", vmin=-30, vmax=30, cmap="RdBu_r"),
                                    fits_layer("act-ivar", "Inverse variance", "maps/act_f090_ivar.fits",
                                               vmin="auto", vmax="auto", cmap="viridis"),
                                    fits_layer("secret", "Secret map", "maps/secret.fits",
                                               vmin=-3, vmax=3, grant="collab"),
                                ],
                            }
                        ],
                    }
                ],
            },
            {
                "map_group_id": "extra",
                "name": "Extra files",
                "maps": [
                    {
                        "map_id": "extra-misc",
                        "name": "Odd files",
                        "bands": [
                            {
                                "band_id": "extra-band",
                                "name": "misc",
                                "layers": [
                                    fits_layer("corrupt", "Corrupt", "maps/corrupt.fits", vmin=0, vmax=1),
                                    fits_layer("missing", "Missing", "maps/missing.fits", vmin=0, vmax=1),
                                    fits_layer("tan", "Gnomonic", "maps/tan.fits", vmin=0, vmax=1),
                                    fits_layer("solar", "Helioprojective", "maps/solar.fits", vmin=0, vmax=1),
                                ],
                            }
                        ],
                    }
                ],
            },
        ],
        "source_groups": [
            {
                "source_group_id": "inline",
                "name": "Inline sources",
                "sources": [{"name": "S1", "ra": 1.0, "dec": -2.0}, {"ra": 3.0, "dec": -4.0}],
            },
            {
                "source_group_id": "from-json",
                "name": "JSON sources",
                "provider": {"file_type": "json", "filename": "sources.json"},
            },
            {
                "source_group_id": "from-csv",
                "name": "CSV sources",
                "provider": {"file_type": "csv", "filename": "sources.csv"},
            },
            {
                "source_group_id": "hidden-sources",
                "name": "Collaboration sources",
                "grant": "collab",
                "sources": [{"name": "H1", "ra": 0.0, "dec": 0.0}],
            },
        ],
        "boxes": [
            {"name": "Deep patch", "top_left_ra": 15.0, "top_left_dec": -15.0,
             "bottom_right_ra": 5.0, "bottom_right_dec": -25.0},
            {"name": "Hidden patch", "top_left_ra": 1.0, "top_left_dec": 1.0,
             "bottom_right_ra": 0.0, "bottom_right_dec": 0.0, "grant": "collab"},
        ],
    }
    path = folder / "tilemaker.json"
    path.write_text(json.dumps(config, indent=1))

    allowed = root / "allowed"
    allowed.mkdir()
    write_car(allowed / "reg_f150.fits", rng.normal(0, 1, (NY, NX)).astype(np.float32), RES,
              RA_FIRST, DEC_FIRST, bunit="uK")
    outside = root / "outside"
    outside.mkdir()
    write_car(outside / "forbidden.fits", np.ones((NY, NX), np.float32), RES, RA_FIRST, DEC_FIRST)
    return TileMakerSetup(path, folder, maps, allowed, outside / "forbidden.fits")


@pytest.fixture
def tm_setup(tmp_path) -> TileMakerSetup:
    return write_tilemaker_config(tmp_path)


def server_config(setup: TileMakerSetup, **serverapp) -> dict:
    return {
        "ServerApp": {
            "jpserver_extensions": {"tilemaker_widget": True},
            "allow_unauthenticated_access": False,
            **serverapp,
        },
        "TileMaker": {
            "config_path": str(setup.config),
            "allowed_roots": [str(setup.allowed)],
            "workers": 4,
        },
    }


@pytest.fixture
def jp_server_config(tm_setup):
    return server_config(tm_setup)
