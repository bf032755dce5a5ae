"""Every handler the extension adds requires Jupyter's authentication, but the static bundles (a CI check).

The allow-list is explicit: `BundleHandler` alone may answer without credentials, and
only for the front-end bundle folders (tests/test_server_static.py checks what it serves).
"""

from __future__ import annotations

import os

from jupyter_server.base.handlers import APIHandler

from tilemaker_widget.server import extension, handlers

UNAUTHENTICATED = {handlers.BundleHandler}
"""The handlers allowed to answer without credentials: static bundles, no data."""
BUNDLE_FILES = {"js", "mjs", "css", "map", "html", "png", "svg", "ico", "woff", "woff2", "ttf", "txt"}


def _our_rules(app):
    rules = []
    for host_rule in app.wildcard_router.rules + app.default_router.rules:
        for rule in getattr(host_rule.target, "rules", [host_rule]):
            handler = rule.target
            if isinstance(handler, type) and handler.__module__.startswith("tilemaker_widget.server"):
                rules.append((rule.matcher, handler, rule.target_kwargs))
    return rules


def test_every_extension_handler_is_authenticated(jp_serverapp):
    app = jp_serverapp.web_app
    rules = _our_rules(app)
    found = {h for _, h, _ in rules}
    # The API, the full page, the static bundles and TileMaker's viewer are all there.
    assert {handlers.ApiHandler, handlers.PageHandler, handlers.BundleHandler, handlers.TileMakerViewerHandler} <= found
    missing = [
        m for matcher, handler, _ in rules if handler not in UNAUTHENTICATED
        for m in app._check_handler_auth(matcher, handler)
    ]
    assert missing == []
    # The check itself catches an undecorated handler.
    class Bare(APIHandler):
        def get(self):
            self.finish("{}")

    assert app._check_handler_auth("/x", Bare) == ["- GET of Bare registered for /x"]


def test_unauthenticated_handlers_serve_only_the_bundle_folders(jp_serverapp):
    from tilemaker_widget.server.viewer_bundle import tilemaker_viewer_static

    bundles = {os.path.realpath(extension.STATIC), os.path.realpath(tilemaker_viewer_static())}
    open_rules = [(m, h, kw) for m, h, kw in _our_rules(jp_serverapp.web_app) if h in UNAUTHENTICATED]
    assert len(open_rules) == 2  # tilemaker/static/ and TileMaker's tm/ assets
    for matcher, handler, kwargs in open_rules:
        assert os.path.realpath(kwargs["path"]) in bundles, matcher
        # Each has no other method: GET and HEAD of files, nothing else.
        assert not any(
            getattr(handler, m.lower()) is not getattr(APIHandler, m.lower()) for m in ("POST", "PUT", "DELETE", "PATCH")
        )
    # No file of the bundles holds data (maps, configs, tables).
    for folder in bundles:
        for dirpath, _, files in os.walk(folder):
            for name in files:
                if name.startswith(".") and os.path.getsize(os.path.join(dirpath, name)) == 0:
                    continue  # a placeholder keeping the folder in git
                assert name.rsplit(".", 1)[-1].lower() in BUNDLE_FILES, name
