"""Hatch build hook: build the JupyterLab extension (labextension/) when it is not built.

The wheel ships it (shared-data, share/jupyter/labextensions/tilemaker-widget-lab);
scripts/setup.sh builds it beforehand, so this only runs for a build from a clean
clone (``pip install .``). @jupyterlab/builder reads the core packages of the
JupyterLab in the build environment (``build-system.requires``), as the JupyterLab
extension template does.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class LabExtensionBuildHook(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict) -> None:
        root = Path(self.root)
        if self.target_name != "wheel" or (root / "tilemaker_widget" / "labextension" / "package.json").exists():
            return
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError("building the JupyterLab extension needs npm (Node.js >= 18)")
        lab = root / "labextension"
        install = "ci" if (lab / "package-lock.json").exists() else "install"
        env = {**os.environ, "PYTHON": sys.executable}
        subprocess.run([npm, install, "--no-audit", "--no-fund"], cwd=lab, check=True, env=env)
        subprocess.run([npm, "run", "build"], cwd=lab, check=True, env=env)
