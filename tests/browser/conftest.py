"""Fixtures for the browser tests; the machinery lives in harness.py."""

from harness import (  # noqa: F401 - fixtures are found by name
    _no_stale_copies,
    browser,
    jp_asyncio_loop,
    jp_server_cleanup,
    lab,
    lab_without_extension,
    page,
    two_value_map,
)
