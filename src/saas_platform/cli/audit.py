"""``saas audit ...`` commands (issue 3)."""

from __future__ import annotations

import typer

audit_app = typer.Typer(help="Inspect the audit trail.", no_args_is_help=True)
