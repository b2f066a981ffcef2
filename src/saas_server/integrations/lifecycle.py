"""The inbound event lifecycle as a transition table (core/lifecycle.py)."""

from __future__ import annotations

import enum

from saas_server.core.lifecycle import Lifecycle
from saas_server.integrations.models import EventStatus

E = EventStatus


class EventAction(enum.StrEnum):
    SUCCEED = "succeed"  # its handler ran and committed with the status
    FAIL_AND_RETRY = "fail_and_retry"  # an attempt failed; a retry is scheduled
    FAIL = "fail"  # the last scheduled attempt (or a manual one) failed
    FIND_NO_HANDLER = "find_no_handler"  # nothing is connected for its kind and type
    RETRY = "retry"  # a scheduled retry fell due, or an administrator asked for one


INBOUND_EVENT: Lifecycle[EventStatus, EventAction] = Lifecycle(
    "inbound event",
    {
        (E.PENDING, EventAction.SUCCEED): E.PROCESSED,
        (E.PENDING, EventAction.FAIL_AND_RETRY): E.RETRYING,
        (E.PENDING, EventAction.FAIL): E.FAILED,
        (E.PENDING, EventAction.FIND_NO_HANDLER): E.UNHANDLED,
        (E.RETRYING, EventAction.RETRY): E.PENDING,
        (E.FAILED, EventAction.RETRY): E.PENDING,
        (E.UNHANDLED, EventAction.RETRY): E.PENDING,
    },
    initial=(E.PENDING,),
    final=(E.PROCESSED,),
    user_actions=(EventAction.RETRY,),
    source="saas_server/integrations/lifecycle.py",
    description="""\
An event from an integration provider or a tenant's Odoo is stored `pending` when its
signature checks out, and a job processes it in the transaction that records the outcome.
A failed attempt is retried on the schedule of seed 002 (60 s, then doubling, capped at
300 s, at most 3 retries), each retry due on the platform's clock; after the last it is
`failed`. An event no handler is connected for (a payment before billing is wired) is
`unhandled`, kept with its payload. Failed, unhandled and waiting events can be retried by
hand (`POST /api/v1/integrations/events/{id}/retry`); a processed one never runs twice.""",
)
