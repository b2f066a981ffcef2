from __future__ import annotations

from typing import Literal

from pydantic import Field

from saas_server.core.schemas import RequestSchema

LANGUAGE_PATTERN = r"^[a-z]{2,3}(_[A-Z]{2})?(@[a-z]+)?$"


class NotificationChannels(RequestSchema):
    email: bool | None = None
    push: bool | None = None


class SettingsUpdate(RequestSchema):
    """Seed 004's settings; fields left out keep their value."""

    language: str | None = Field(default=None, pattern=LANGUAGE_PATTERN, max_length=16)
    theme: Literal["light", "dark", "system"] | None = None
    notifications: NotificationChannels | None = None
