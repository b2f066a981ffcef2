"""Web sessions, stored as Odoo stores them: one file per session under ``<data dir>/sessions``
(section 7), found through the ``session_id`` cookie (section 11.2: ``Max-Age=604800;
HttpOnly; Path=/``)."""

from __future__ import annotations

import json
import os
import re
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SESSION_LIFETIME = 60 * 60 * 24 * 7
_VALID_SID = re.compile(r"^[A-Za-z0-9_-]{84}$")


def new_sid() -> str:
    return secrets.token_urlsafe(63)  # 84 characters, as Odoo's


@dataclass
class Session:
    sid: str
    db: str | None = None
    uid: int | None = None
    login: str | None = None
    session_token: str | None = None
    context: dict[str, Any] = field(default_factory=dict)
    create_time: float = field(default_factory=time.time)
    # Set when the content changed (saved at the end of the request) or the sid changed.
    dirty: bool = False
    rotated: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "db": self.db,
            "uid": self.uid,
            "login": self.login,
            "session_token": self.session_token,
            "context": self.context,
            "create_time": self.create_time,
        }

    def logout(self, *, keep_db: bool = False) -> None:
        db = self.db
        self.uid = None
        self.login = None
        self.session_token = None
        self.context = {}
        self.db = db if keep_db else None
        self.dirty = True


class SessionStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, sid: str) -> Path:
        return self.root / sid[:2] / sid

    def new(self) -> Session:
        return Session(sid=new_sid(), dirty=False)

    def get(self, sid: str | None) -> Session:
        """The stored session, a fresh one with the same id if nothing is stored (as
        werkzeug's store does), or a new one for a malformed id."""
        if not sid or not _VALID_SID.match(sid):
            return self.new()
        try:
            data = json.loads(self._path(sid).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return Session(sid=sid)
        if time.time() - data.get("create_time", 0) > SESSION_LIFETIME * 52:
            return Session(sid=sid)
        return Session(
            sid=sid,
            db=data.get("db"),
            uid=data.get("uid"),
            login=data.get("login"),
            session_token=data.get("session_token"),
            context=data.get("context") or {},
            create_time=data.get("create_time", time.time()),
        )

    def save(self, session: Session) -> None:
        path = self._path(session.sid)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(session.to_json()), encoding="utf-8")
        os.replace(tmp, path)
        session.dirty = False

    def delete(self, session: Session) -> None:
        try:
            self._path(session.sid).unlink()
        except OSError:
            pass

    def rotate(self, session: Session) -> None:
        """A new id for the same content (after a login), the old file removed."""
        self.delete(session)
        session.sid = new_sid()
        session.rotated = True
        self.save(session)
