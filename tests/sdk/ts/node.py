"""The TypeScript SDK's directory and its Node dependencies, for the tests that run Node."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

SDK_DIR = Path(__file__).resolve().parents[3] / "sdk" / "typescript"
STAMP = SDK_DIR / "node_modules" / ".installed"


def ensure_node_modules() -> None:
    """What `make test` installs (the Makefile's stamp target); done here too when pytest
    runs alone. Node and npm themselves are `make test`'s to install (apt-get)."""
    lock = SDK_DIR / "package-lock.json"
    if STAMP.exists() and STAMP.stat().st_mtime >= lock.stat().st_mtime:
        return
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("npm is missing: `make test` installs it (apt-get install nodejs npm)")
    subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=SDK_DIR, check=True, timeout=600)
    STAMP.touch()
