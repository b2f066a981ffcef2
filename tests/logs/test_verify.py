"""``POST /api/v1/audit/verify``: the chain check a platform admin runs from the API (and the
dashboard's audit page), the same walk as ``saas audit verify``."""

from __future__ import annotations

import httpx

from saas_server.core.runtime import Runtime
from tests.fixtures.audit import record_steps, tamper
from tests.fixtures.auth import LoggedIn
from tests.fixtures.errors import assert_envelope

VERIFY = "/api/v1/audit/verify"


async def test_an_admin_sees_the_chain_intact_then_the_first_changed_entry(
    client: httpx.AsyncClient,
    runtime: Runtime,
    database_url: str,
    admin: LoggedIn,
    owner: LoggedIn,
) -> None:
    await record_steps(runtime, 5)
    refused = await client.post(VERIFY, headers=owner.headers)
    assert_envelope(refused, 403, "FORBIDDEN")
    assert (await client.post(VERIFY)).status_code == 401

    intact = await client.post(VERIFY, headers=admin.headers)
    assert intact.status_code == 200, intact.text
    body = intact.json()
    assert body["intact"] is True and body["broken"] is None
    assert body["checked"] >= 5 and body["last_seq"] is not None and body["last_hash"]
    assert body["checked_at"]

    # Someone with database access rewrites one entry behind the trigger's back.
    tamper(
        database_url,
        "UPDATE audit_log SET new_values = '{\"step\": 99}' WHERE action = 'test.step' "
        "AND resource_id = '2'",
    )
    broken = (await client.post(VERIFY, headers=admin.headers)).json()
    assert broken["intact"] is False
    problem = broken["broken"]
    assert problem["id"] and problem["problem"]
    assert broken["checked"] < body["checked"]
