"""The emulator's settings and its master password (odoo-protocol.md section 6).

The master password lives, as Odoo's ``admin_passwd`` does, only in a config file
(``<data dir>/odoo-emulator.conf``, Odoo's ``[options]`` format), hashed with pbkdf2_sha512.
Until one is set it is Odoo's default, ``admin`` (which the web database manager replaces with
the first master password submitted to it, section 1.3).
"""

from __future__ import annotations

import asyncio
import configparser
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from odoo_emulator import passwords
from odoo_emulator.versions import OdooVersion

logger = logging.getLogger(__name__)

DEFAULT_MASTER_PASSWORD = "admin"  # Odoo's default admin_passwd
CONFIG_FILE_NAME = "odoo-emulator.conf"


@dataclass
class EmulatorConfig:
    data_dir: Path
    version: OdooVersion
    host: str = "127.0.0.1"
    port: int = 8069
    # libpq URL of a server where the emulator may create databases; None = embedded server.
    postgres_url: str | None = None
    # Given on the command line (stdin or environment); replaces the stored one.
    master_password: str | None = None
    # Odoo's ``list_db`` switch: off, db.list and database management answer AccessDenied.
    list_db: bool = True
    # Odoo's ``--dev`` features (``dev_mode``); ``werkzeug`` (and ``all``, which includes it)
    # wraps the server in Werkzeug's interactive debugger (odoo/service/server.py).
    dev_mode: tuple[str, ...] = ()

    @property
    def werkzeug_debugger(self) -> bool:
        return "werkzeug" in self.dev_mode or "all" in self.dev_mode

    @property
    def filestore_root(self) -> Path:
        return self.data_dir / "filestore"

    def filestore(self, db_name: str) -> Path:
        return self.filestore_root / db_name

    @property
    def sessions_dir(self) -> Path:
        return self.data_dir / "sessions"

    @property
    def config_file(self) -> Path:
        return self.data_dir / CONFIG_FILE_NAME


class MasterPassword:
    """Odoo's ``config.verify_admin_password`` / ``set_admin_password``."""

    def __init__(self, config_file: Path) -> None:
        self.config_file = config_file
        self._lock = threading.Lock()
        self._stored = self._load()

    def _load(self) -> str:
        parser = configparser.ConfigParser(interpolation=None)
        if self.config_file.exists():
            parser.read(self.config_file, encoding="utf-8")
            return parser.get("options", "admin_passwd", fallback=DEFAULT_MASTER_PASSWORD)
        return DEFAULT_MASTER_PASSWORD

    def _save(self) -> None:
        parser = configparser.ConfigParser(interpolation=None)
        if self.config_file.exists():
            parser.read(self.config_file, encoding="utf-8")
        if not parser.has_section("options"):
            parser.add_section("options")
        parser.set("options", "admin_passwd", self._stored)
        self.config_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.config_file.with_suffix(".tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            parser.write(fh)
        os.chmod(tmp, 0o600)
        tmp.replace(self.config_file)

    def verify_sync(self, candidate: str) -> bool:
        with self._lock:
            stored = self._stored
        if not stored or not candidate:
            return False  # an empty master password always fails (section 6)
        valid, replacement = passwords.verify_and_update(candidate, stored)
        if valid and replacement is not None:
            # Odoo rehashes a plaintext admin_passwd in memory on first use, without saving.
            with self._lock:
                if self._stored == stored:
                    self._stored = replacement
        return valid

    async def verify(self, candidate: str) -> bool:
        # pbkdf2 with 600,000 rounds: off the event loop.
        return await asyncio.to_thread(self.verify_sync, candidate)

    def set_sync(self, new_password: str) -> None:
        hashed = passwords.hash_password(new_password)
        with self._lock:
            self._stored = hashed
            self._save()

    async def set(self, new_password: str) -> None:
        await asyncio.to_thread(self.set_sync, new_password)

    def ensure(self, password: str) -> None:
        """Make ``password`` the master password, unless it is already (no rehash needed)."""
        if not self.verify_sync(password):
            self.set_sync(password)
