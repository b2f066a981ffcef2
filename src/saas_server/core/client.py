from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ClientInfo:
    """Who is calling, as far as audit and sessions care (the CLI passes its own)."""

    ip: str | None = None
    user_agent: str | None = None
    request_id: str | None = None


CLI_CLIENT = ClientInfo(ip=None, user_agent="saas-cli", request_id=None)
