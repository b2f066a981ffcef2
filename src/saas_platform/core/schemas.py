"""Pydantic building blocks shared by every domain's schemas."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, PlainSerializer

from saas_platform.core.clock import isoformat

# Every timestamp leaves the API as RFC 3339 UTC with a "Z" suffix.
UTCDateTime = Annotated[datetime, PlainSerializer(isoformat, return_type=str, when_used="json")]


class Schema(BaseModel):
    model_config = ConfigDict(from_attributes=True, populate_by_name=True)


class RequestSchema(BaseModel):
    """Request bodies refuse unknown fields' wrong types but tolerate extra keys (seed aliases)."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="ignore")


class Message(Schema):
    message: str
