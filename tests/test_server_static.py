"""Static bundles are served without credentials (as jupyter_server's /static); data never is.

Under JupyterHub, module scripts and ``crossorigin`` assets are CORS-mode loads on which
the Hub refuses cookie authentication; an authenticated bundle left the full page and
TileMaker's viewer blank (issue 13). The real-Hub browser test lives in tests/browser/.
"""

from __future__ import annotations

import os
import re

import pytest

from tilemaker_widget.server import extension
from tilemaker_widget.server.viewer_bundle import tilemaker_viewer_static

NO_CREDENTIALS = {"headers": {"Authorization": ""}, "raise_error": False, "follow_redirects": False}


async def test_bundles_need_no_credentials(jp_fetch):
    for name in ("page.js", "widget.js", "widget.css"):
        r = await jp_fetch("tilemaker", "static", name, **NO_CREDENTIALS)
        assert r.code == 200, name
        with open(os.path.join(extension.STATIC, name), "rb") as f:
            assert r.body == f.read()
    assert "javascript" in (await jp_fetch("tilemaker", "static", "page.js", **NO_CREDENTIALS)).headers["Content-Type"]
    r = await jp_fetch("tilemaker", "static", "page.js", method="HEAD", **NO_CREDENTIALS)
    assert r.code == 200 and r.body == b""
    # TileMaker's viewer assets (its crossorigin module script and stylesheet).
    index = open(os.path.join(tilemaker_viewer_static(), "index.html"), "rb").read()
    assets = re.findall(rb'(?:src|href)="\./(assets/[^"]+)"', index)
    assert assets
    for asset in assets:
        r = await jp_fetch("tilemaker", "tm", *asset.decode().split("/"), **NO_CREDENTIALS)
        assert r.code == 200, asset


@pytest.mark.parametrize(
    "parts",
    [
        ("layers",),
        ("layers", "act-I"),
        ("layers", "act-I", "2", "1", "4", "tile.f16"),
        ("layers", "act-I", "2", "1", "4", "tile.png"),
        ("layers", "act-I", "pixel"),
        ("histograms", "data", "act-I"),
        ("map-groups",),
        ("sources",),
        ("highlights", "boxes"),
        ("status",),
        ("tm", "layers", "default"),
        ("tm", "layers", "act-I", "2", "1", "4", "tile.png"),
        ("static.json",),  # not a bundle file: the API's 403, not a file
    ],
)
async def test_data_routes_need_credentials(jp_fetch, parts):
    r = await jp_fetch("tilemaker", *parts, params={"ra": "10", "dec": "-20"}, **NO_CREDENTIALS)
    assert r.code == 403, (parts, r.code)
    assert b"uK" not in r.body and b"act-I" not in r.body


async def test_pages_need_credentials(jp_fetch):
    for parts in (("",), ("view",), ("tm", "")):
        r = await jp_fetch("tilemaker", *parts, **NO_CREDENTIALS)
        assert r.code == 302 and "/login" in r.headers["Location"], parts
    r = await jp_fetch("tilemaker", "register", method="POST", body=b'{"sources": []}', **NO_CREDENTIALS)
    assert r.code == 403


@pytest.mark.parametrize(
    "path",
    [
        "tilemaker/static/..%2fapi.py",
        "tilemaker/static/%2e%2e/api.py",
        "tilemaker/static/%2e%2e%2f%2e%2e%2ftilemaker_widget%2fapi.py",
        "tilemaker/static/%2fetc%2fpasswd",
        "tilemaker/static//etc/passwd",
        "tilemaker/static/..%5capi.py",
        "tilemaker/static/",
        "tilemaker/static/nothing-here.js",
        "tilemaker/tm/assets/..%2f..%2f__init__.py",
        "tilemaker/tm/assets/%2e%2e%2fserver.py",
    ],
)
async def test_path_traversal_is_refused(jp_serverapp, http_server_client, jp_base_url, path):
    # A raw request: the path keeps its escapes (jp_fetch would escape them again).
    r = await http_server_client.fetch(jp_base_url + path, raise_error=False, follow_redirects=False)
    assert r.code in (403, 404), (path, r.code)
    assert b"import" not in r.body and b"root:" not in r.body


async def test_links_out_of_a_bundle_are_refused(jp_serverapp, jp_fetch, tmp_path):
    """A link inside a bundle folder pointing outside it is not followed."""
    from jupyter_server.utils import url_path_join

    from tilemaker_widget.server.handlers import BundleHandler

    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "ok.js").write_text("export {};")
    secret = tmp_path / "secret.fits"
    secret.write_bytes(b"SIMPLE  =                    T")
    (bundle / "leak.js").symlink_to(secret)
    (bundle / "dir").symlink_to(tmp_path)
    base = jp_serverapp.web_app.settings["base_url"]
    jp_serverapp.web_app.add_handlers(
        ".*$", [(url_path_join(base, "bundle-test") + "/(.*)", BundleHandler, {"path": str(bundle)})]
    )
    assert (await jp_fetch("bundle-test", "ok.js", **NO_CREDENTIALS)).code == 200
    for parts in (("leak.js",), ("dir", "secret.fits"), ("dir",)):
        r = await jp_fetch("bundle-test", *parts, **NO_CREDENTIALS)
        assert r.code == 404 and b"SIMPLE" not in r.body, parts
