"""Grants: an Authorizer with a ``tilemaker_grants`` hook hides granted layers, sources, boxes."""

from __future__ import annotations

import json

import pytest
from conftest import server_config
from jupyter_server.auth.authorizer import AllowAllAuthorizer

SECRET_TILE = ("layers", "secret", "2", "1", "4")


class OutsiderAuthorizer(AllowAllAuthorizer):
    """Every user is authenticated, but holds only the 'public' grant."""

    def tilemaker_grants(self, user):
        return {"public"}


class CollaboratorAuthorizer(AllowAllAuthorizer):
    def tilemaker_grants(self, user):
        return {"collab"}


@pytest.fixture(params=[OutsiderAuthorizer, CollaboratorAuthorizer], ids=["outsider", "collaborator"])
def authorizer(request):
    return request.param


@pytest.fixture
def jp_server_config(tm_setup, authorizer):
    return server_config(tm_setup, authorizer_class=authorizer)


async def get(jp_fetch, *parts, params=None, **kwargs):
    return await jp_fetch("tilemaker", *parts, params=params, raise_error=False, **kwargs)


def ids_in(obj, key):
    """Every value of ``key`` anywhere in a JSON structure."""
    found = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k == key:
                found.append(v)
            found.extend(ids_in(v, key))
    elif isinstance(obj, list):
        for v in obj:
            found.extend(ids_in(v, key))
    return found


async def test_granted_layer(jp_fetch, authorizer):
    visible = authorizer is CollaboratorAuthorizer

    async def listing(*parts, params=None):
        r = await get(jp_fetch, *parts, params=params)
        assert r.code == 200, (parts, r.body)
        return json.loads(r.body)

    layer_ids = ids_in(await listing("layers"), "layer_id")
    assert ("secret" in layer_ids) == visible
    assert {"act-I", "act-Q", "act-ivar", "corrupt"} <= set(layer_ids)
    band = ids_in(await listing("bands", "act-f090", "layers"), "layer_id")
    assert band == (["act-I", "act-Q", "act-ivar", "secret"] if visible else ["act-I", "act-Q", "act-ivar"])
    menu = await listing("layers", "default")
    assert ("secret" in ids_in(menu["default_layer_menu"], "layer_id")) == visible
    found = await listing("search", params={"q": "secret"})
    assert found["matched_ids"] == (["secret"] if visible else [])
    sources = ids_in(await listing("sources"), "source_group_id")
    assert ("hidden-sources" in sources) == visible and "inline" in sources
    boxes = [b["name"] for b in await listing("highlights", "boxes")]
    assert boxes == (["Deep patch", "Hidden patch"] if visible else ["Deep patch"])

    refused = [
        await get(jp_fetch, "layers", "secret"),
        await get(jp_fetch, *SECRET_TILE, "tile.png"),
        await get(jp_fetch, *SECRET_TILE, "tile.f16"),
        await get(jp_fetch, *SECRET_TILE, "tile.f32"),
        await get(jp_fetch, "layers", "secret", "pixel", params={"ra": "10", "dec": "-20"}),
        await get(jp_fetch, "histograms", "data", "secret"),
    ]
    for r in refused:
        if visible:
            assert r.code == 200, (r.effective_url, r.body)
        else:
            assert r.code == 403, (r.effective_url, r.code)
            assert json.loads(r.body) == {"error": "layer 'secret' needs a grant you do not hold"}
    r = await get(jp_fetch, "sources", "hidden-sources")
    assert r.code == (200 if visible else 403)
    # Ungranted layers are served to everyone.
    r = await get(jp_fetch, "layers", "act-I", "2", "1", "4", "tile.f16")
    assert r.code == 200


def preloaded(html: bytes) -> dict:
    """The answers a full page was served with (`Api.page_preload`)."""
    import re

    m = re.search(rb'<script type="application/json" id="tilemaker-preload">(.*?)</script>', html, re.S)
    assert m, html[:500]
    return json.loads(m.group(1))


async def test_full_page_carries_this_users_first_answers(jp_fetch, authorizer):
    """The page holds exactly what the API answers this user for the routes it asks first."""
    visible = authorizer is CollaboratorAuthorizer
    r = await jp_fetch("tilemaker", "view", params={"layer": "act-Q", "cmap": "magma"}, raise_error=False)
    assert r.code == 200 and r.headers["Cache-Control"] == "no-store"
    got = preloaded(r.body)
    assert set(got) == {"layers", "sources", "highlights/boxes", "colormaps", "colormaps/magma"}
    for path, value in got.items():
        answer = await get(jp_fetch, *path.split("/"))
        assert answer.code == 200 and json.loads(answer.body) == value, path
    assert ("secret" in ids_in(got["layers"], "layer_id")) == visible
    assert ("Hidden patch" in [b["name"] for b in got["highlights/boxes"]]) == visible
    # Without a layer named: the first layer's own colormap.
    got = preloaded((await jp_fetch("tilemaker", "view", raise_error=False)).body)
    first = got["layers"][0]
    assert f"colormaps/{first['cmap']}" in got
