"""Pydantic building blocks shared by every domain's schemas."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, PlainSerializer, field_validator

from saas_server.core.clock import isoformat

# Every timestamp leaves the API as RFC 3339 UTC with a "Z" suffix.
UTCDateTime = Annotated[datetime, PlainSerializer(isoformat, return_type=str, when_used="json")]

NUL_MESSAGE = "Must not contain the NUL character (\\u0000)."


def contains_nul(value: Any) -> bool:
    """Whether a NUL character hides anywhere in ``value`` (keys of nested objects included).

    PostgreSQL cannot store NUL in text or JSONB, so such input is refused on the way in
    instead of failing in the database."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(contains_nul(k) or contains_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(contains_nul(v) for v in value)
    return False


def refuse_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError(NUL_MESSAGE)
    return value


# Text read outside a RequestSchema (form fields): refused when it holds a NUL.
NulFreeStr = Annotated[str, AfterValidator(refuse_nul)]


class Schema(BaseModel):
    model_config = ConfigDict(from_attributes=True, populate_by_name=True)


class RequestSchema(BaseModel):
    """Every request body: unknown fields are refused by name (the seeds' field names are
    declared as aliases where they differ), and no text anywhere in it may hold a NUL."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    # Every field, so the error names the field that holds the NUL (unknown fields are refused
    # by name anyway).
    @field_validator("*", mode="before")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        if contains_nul(value):
            raise ValueError(NUL_MESSAGE)
        return value


class Message(Schema):
    message: str
