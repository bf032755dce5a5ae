"""Every handler the extension adds requires Jupyter's authentication (a CI check)."""

from __future__ import annotations

from tilemaker_widget.server import extension


def _our_rules(app):
    rules = []
    for host_rule in app.wildcard_router.rules + app.default_router.rules:
        for rule in getattr(host_rule.target, "rules", [host_rule]):
            handler = rule.target
            if isinstance(handler, type) and handler.__module__ == extension.__name__:
                rules.append((rule.matcher, handler))
    return rules


def test_every_extension_handler_is_authenticated(jp_serverapp):
    app = jp_serverapp.web_app
    rules = _our_rules(app)
    handlers = {h for _, h in rules}
    # The API, the full page, the static bundle and TileMaker's viewer are all there.
    assert {extension.ApiHandler, extension.PageHandler, extension.StaticHandler} <= handlers
    missing = [m for matcher, handler in rules for m in app._check_handler_auth(matcher, handler)]
    assert missing == []
    # The check itself catches an undecorated handler.
    class Bare(extension.APIHandler):
        def get(self):
            self.finish("{}")

    assert app._check_handler_auth("/x", Bare) == ["- GET of Bare registered for /x"]
