from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.odoo import EmulatorProcess, running_emulator


@pytest.fixture
def odoo_b(odoo_pg_server: str, tmp_path: Path) -> Iterator[EmulatorProcess]:
    """A second emulator host of the same version: where tenants move to."""
    with running_emulator(odoo_pg_server, tmp_path / "odoo-b") as emulator:
        yield emulator
