"""Where an installed ``tilemaker`` package keeps its viewer's static bundle."""

from __future__ import annotations

import os


def tilemaker_viewer_static() -> str | None:
    """The static bundle (index.html + assets/) of an installed ``tilemaker`` package.

    Found without importing tilemaker: importing it pulls in its server's heavy
    dependencies (FastAPI, SQLModel, matplotlib...), which need not be installed.
    """
    import importlib.util

    candidates = []
    try:
        spec = importlib.util.find_spec("tilemaker")
    except (ImportError, ValueError):
        spec = None
    if spec is not None:
        candidates += list(spec.submodule_search_locations or [])
    if not candidates:
        try:
            from importlib.metadata import PackageNotFoundError, distribution

            dist = distribution("tilemaker")
            for f in dist.files or []:
                if str(f).replace("\\", "/").endswith("tilemaker/server/static/index.html"):
                    candidates.append(str(f.locate().parent.parent.parent))
                    break
        except (ImportError, PackageNotFoundError):
            pass
    for folder in candidates:
        static = os.path.join(folder, "server", "static")
        if os.path.isfile(os.path.join(static, "index.html")):
            return static
    return None
