"""The user guide's table of API-key scopes is the scope table's (auth/scopes.py SCOPES)."""

from __future__ import annotations

import re
from pathlib import Path

from saas_server.auth.scopes import SCOPES

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "user-guide.md"


def test_the_user_guide_lists_every_scope_as_the_table_describes_it() -> None:
    block = re.search(r"<!-- scopes:[^>]*-->\n(.*?)<!-- /scopes -->", GUIDE.read_text(), re.S)
    assert block, "docs/user-guide.md has no generated scope table"
    rows = [line for line in block.group(1).splitlines() if line.startswith("| `")]
    expected = [f"| `{scope}` | {description} |" for scope, description in SCOPES.items()]
    assert rows == expected, "regenerate the scope table in docs/user-guide.md from SCOPES"
