from __future__ import annotations

from typing import Literal

from pydantic import Field

from saas_server.core.schemas import RequestSchema, Schema, UTCDateTime

# What a tenant shows of its production instance is what /instances answers: one schema,
# declared in tenants (which asks for it), re-exported here as the instance's own.
from saas_server.tenants.schemas import HostRef, InstanceRead

__all__ = ["HostRef", "InstanceAction", "InstanceRead", "TransitionRead"]


class InstanceAction(RequestSchema):
    action: Literal["start", "stop", "restart", "retry"]
    reason: str | None = Field(default=None, max_length=500)


class TransitionRead(Schema):
    action: str
    from_status: str
    to_status: str
    reason: str | None
    at: UTCDateTime
