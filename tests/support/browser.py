"""A real headless browser for the web UI's tests: Debian's Chromium driven by Playwright, and
the UI built from `ui/` with npm the way the README's first command builds it."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
UI = REPO / "ui"
CHROMIUM_ENV_VAR = "CAIRN_TEST_CHROMIUM"


def chromium() -> str:
    """Debian's Chromium (or the one CAIRN_TEST_CHROMIUM names); fails saying what to install."""
    found = os.environ.get(CHROMIUM_ENV_VAR) or shutil.which("chromium")
    if found is None:
        raise RuntimeError(
            "the browser tests need Chromium: `apt-get install chromium` (Debian), or set "
            f"{CHROMIUM_ENV_VAR} to a Chromium binary"
        )
    return found


def build_ui() -> None:
    """Installs the UI's packages from its lockfile when missing, and builds it."""
    if shutil.which("npm") is None:
        raise RuntimeError("the browser tests build the UI with npm: install Node.js and npm")
    steps = [["npm", "run", "build"]]
    if not (UI / "node_modules").is_dir():
        steps.insert(0, ["npm", "ci", "--no-audit", "--no-fund"])
    for step in steps:
        done = subprocess.run(step, cwd=UI, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, f"{' '.join(step)} failed:\n{done.stdout}\n{done.stderr}"
