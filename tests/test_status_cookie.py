"""The status probe sets Jupyter's ``_xsrf`` cookie, which the widget's first POST needs.

Pages that are not Jupyter's own (Voilà's dashboards) never set it; without it the
widget's ``register`` is refused (403) and every tile falls back to the comm
(tests/browser/test_voila_browser.py shows the whole path).
"""

from __future__ import annotations


async def test_status_sets_the_xsrf_cookie(jp_fetch, jp_base_url):
    r = await jp_fetch("tilemaker", "status")
    cookies = r.headers.get_list("Set-Cookie")
    xsrf = [c for c in cookies if c.startswith("_xsrf=")]
    assert xsrf, cookies
    assert f"Path={jp_base_url}" in xsrf[0]  # scoped to the server, as Jupyter's own


async def test_other_routes_set_no_cookie(jp_fetch):
    r = await jp_fetch("tilemaker", "colormaps")
    assert not [c for c in r.headers.get_list("Set-Cookie") if c.startswith("_xsrf=")]
