"""The SDK's retry policy, without a platform (httpx.MockTransport answers): 502 and 503 are
asked again with a growing backoff or after ``Retry-After``; a ``Retry-After`` beyond
``max_retry_after`` is raised at once; a POST answered 502 or 503 goes again only with an
Idempotency-Key chosen for it (as the TypeScript SDK, which repeats no POST on them)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest
import saas_platform._sync.client as sync_client
from saas_platform import Client, MaintenanceMode, OdooUnavailable, RateLimitExceeded

TENANT = {
    "id": "3f2b8c1e-7d4a-4e9b-a6c5-1b2d3e4f5a6b",
    "name": "Acme",
    "subdomain": "acme",
    "status": "pending",
}
PAGE = {"count": 0, "next": None, "previous": None, "results": []}


def envelope(code: str) -> dict[str, object]:
    return {
        "error": {
            "code": code,
            "message": code.lower(),
            "details": {},
            "request_id": "req-1",
            "timestamp": "2026-12-05T00:00:00Z",
        }
    }


class Script:
    """Answers in order (the last one repeated), and what was sent."""

    def __init__(self, *answers: httpx.Response) -> None:
        self.answers = list(answers)
        self.sent: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        return self.answers[min(len(self.sent), len(self.answers)) - 1]


def failing(status: int, code: str, **headers: str) -> httpx.Response:
    return httpx.Response(status, json=envelope(code), headers=headers)


@pytest.fixture
def slept(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[float]]:
    delays: list[float] = []
    monkeypatch.setattr(sync_client.time, "sleep", delays.append)
    yield delays


def client_for(script: Callable[[httpx.Request], httpx.Response], **options: float) -> Client:
    http = httpx.Client(base_url="http://platform.test", transport=httpx.MockTransport(script))
    return Client(
        api_key="saas_live_offline",
        base_url="http://platform.test",
        http_client=http,
        **options,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(("status", "code"), [(502, "ODOO_UNAVAILABLE"), (503, "MAINTENANCE")])
def test_a_read_answered_502_or_503_is_retried_with_a_growing_backoff(
    slept: list[float], status: int, code: str
) -> None:
    script = Script(*(failing(status, code),) * 3, httpx.Response(200, json=PAGE))
    with client_for(script, max_retries=5, retry_initial_delay=1.0, retry_max_delay=3.0) as c:
        assert c.tenants.list().page().count == 0
    assert len(script.sent) == 4
    # Between half and all of 1, 2, then 4 capped at 3 seconds (the jitter).
    assert [0.5 <= slept[0] <= 1.0, 1.0 <= slept[1] <= 2.0, 1.5 <= slept[2] <= 3.0] == [True] * 3


def test_retries_stop_at_max_retries_and_raise_the_error(slept: list[float]) -> None:
    script = Script(failing(502, "ODOO_UNAVAILABLE"))
    with client_for(script, max_retries=2) as c, pytest.raises(OdooUnavailable) as raised:
        c.tenants.list().page()
    assert len(script.sent) == 3 and len(slept) == 2
    assert raised.value.request_id == "req-1"


def test_retry_after_is_waited_for_up_to_max_retry_after(slept: list[float]) -> None:
    told = Script(
        failing(503, "MAINTENANCE", **{"Retry-After": "7"}), httpx.Response(200, json=PAGE)
    )
    with client_for(told, max_retry_after=10) as c:
        c.tenants.list().page()
    assert slept == [7.0]

    slept.clear()
    too_long = Script(failing(503, "MAINTENANCE", **{"Retry-After": "120"}))
    with client_for(too_long, max_retry_after=60) as c, pytest.raises(MaintenanceMode):
        c.tenants.list().page()
    assert len(too_long.sent) == 1 and slept == []

    limited = Script(failing(429, "RATE_LIMIT_EXCEEDED", **{"Retry-After": "61"}))
    with client_for(limited, max_retry_after=60) as c, pytest.raises(RateLimitExceeded):
        c.tenants.list().page()
    assert len(limited.sent) == 1 and slept == []


@pytest.mark.parametrize("status", [502, 503])
def test_a_post_without_a_chosen_key_is_not_repeated_on_502_or_503(
    slept: list[float], status: int
) -> None:
    script = Script(failing(status, "ODOO_UNAVAILABLE"), httpx.Response(201, json={}))
    with client_for(script, max_retries=3) as c, pytest.raises((OdooUnavailable, MaintenanceMode)):
        c.request("POST", f"/tenants/{TENANT['id']}/users", json={"email": "a@example.com"})
    assert len(script.sent) == 1 and slept == []
    assert script.sent[0].headers["Idempotency-Key"]  # sent anyway, as every unsafe call


def test_a_post_to_an_endpoint_honouring_the_key_is_repeated_with_the_same_key(
    slept: list[float],
) -> None:
    script = Script(failing(502, "ODOO_UNAVAILABLE"), httpx.Response(202, json=TENANT))
    with client_for(script, max_retries=3) as c:
        tenant = c.tenants.create(name="Acme", subdomain="acme")
    assert tenant.subdomain == "acme"
    first, again = script.sent
    assert first.headers["Idempotency-Key"] == again.headers["Idempotency-Key"]
    assert len(slept) == 1

    chosen = Script(failing(503, "MAINTENANCE"), httpx.Response(202, json=TENANT))
    with client_for(chosen, max_retries=3) as c:
        c.tenants.create(name="Acme", subdomain="acme", idempotency_key="mine-1")
    assert [r.headers["Idempotency-Key"] for r in chosen.sent] == ["mine-1", "mine-1"]


def test_a_429_is_repeated_for_any_method(slept: list[float]) -> None:
    script = Script(
        failing(429, "RATE_LIMIT_EXCEEDED", **{"Retry-After": "2"}), httpx.Response(201, json={})
    )
    with client_for(script) as c:
        c.request("POST", f"/tenants/{TENANT['id']}/users", json={"email": "a@example.com"})
    assert len(script.sent) == 2 and slept == [2.0]
