"""The OpenAI-compatible provider against a real OpenAI-compatible server on loopback
(fakellm, its own process): the summary it writes comes back named as generated, the key is
sent and never shown, a refusal or an outage is a 502 with the reason, and without a
configured endpoint the offline methods answer as before."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from saas_server.core.runtime import Runtime
from tests.fixtures.auth import verified_user
from tests.fixtures.errors import assert_envelope
from tests.fixtures.openai_server import API_KEY, SUMMARY, OpenAIServer, openai_server
from tests.fixtures.seo_sites import email
from tests.fixtures.smtp import Inbox

pytestmark = [pytest.mark.once, pytest.mark.slow]

TEXTS = [
    "Sunny Roofs installs solar panels on family homes. The installation takes two days.",
    "Customers can pay monthly with a financing plan, and every panel has a warranty.",
]


@pytest.fixture
def llm(tmp_path: Path) -> Iterator[OpenAIServer]:
    with openai_server(tmp_path) as server:
        yield server


@pytest.fixture
def settings_overrides(llm: OpenAIServer, request: pytest.FixtureRequest) -> dict[str, Any]:
    key = getattr(request, "param", API_KEY)
    if key is None:
        return {}
    return {
        "ai_openai_base_url": llm.base_url,
        "ai_openai_model": "tiny-model",
        "ai_openai_api_key": key,
    }


def _summary(provider: str | None = None) -> dict[str, Any]:
    options: dict[str, Any] = {"sentences": 1}
    if provider:
        options["provider"] = provider
    return {"data_type": "text", "data": TEXTS, "analysis_type": "summary", "options": options}


async def test_the_configured_endpoint_writes_the_summary_and_is_named(
    client: httpx.AsyncClient, runtime: Runtime, inbox: Inbox, llm: OpenAIServer
) -> None:
    user = await verified_user(client, runtime, inbox, email())
    answer = await client.post("/api/v1/ai/analyze", headers=user.headers, json=_summary("openai"))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["source"] == "generative" and body["confidence"] is None
    assert body["result"]["summary"] == SUMMARY
    assert body["result"]["model"] == "tiny-model"
    assert body["result"]["endpoint"] == llm.base_url
    assert "tiny-model" in body["method"] and llm.base_url in body["method"]
    assert body["result"]["usage"]["completion_tokens"] > 0
    assert API_KEY not in answer.text
    # The server matched the request by its bearer key and the prompt (no other rule hit).
    assert llm.stats()["by_rule"] == {"summary": 1}

    # Without the option the offline method answers, and nothing is sent.
    offline = await client.post("/api/v1/ai/analyze", headers=user.headers, json=_summary())
    assert offline.status_code == 200
    assert offline.json()["source"] == "offline"
    assert offline.json()["result"]["sentences"][0] in " ".join(TEXTS)
    assert llm.stats()["total_requests"] == 1

    # The provider writes summaries only; an unknown provider is named as such.
    keywords = {**_summary("openai"), "analysis_type": "keywords"}
    refused = await client.post("/api/v1/ai/analyze", headers=user.headers, json=keywords)
    assert_envelope(refused, 422, "VALIDATION_ERROR")
    unknown = await client.post("/api/v1/ai/analyze", headers=user.headers, json=_summary("gpt"))
    assert_envelope(unknown, 422, "VALIDATION_ERROR")


@pytest.mark.parametrize("settings_overrides", ["sk-wrong-key"], indirect=True)
async def test_a_refused_key_is_a_502_naming_the_endpoints_answer(
    client: httpx.AsyncClient, runtime: Runtime, inbox: Inbox, llm: OpenAIServer
) -> None:
    user = await verified_user(client, runtime, inbox, email())
    answer = await client.post("/api/v1/ai/analyze", headers=user.headers, json=_summary("openai"))
    error = assert_envelope(answer, 502, "AI_PROVIDER_FAILED")
    assert "401" in error["message"] and "Incorrect API key" in error["message"]
    assert "sk-wrong-key" not in answer.text
    assert llm.stats()["by_rule"] == {"unauthorised": 1}
    # The endpoint gone: still a 502, with what happened.
    llm.stop()
    gone = await client.post("/api/v1/ai/analyze", headers=user.headers, json=_summary("openai"))
    assert "could not be reached" in assert_envelope(gone, 502, "AI_PROVIDER_FAILED")["message"]


@pytest.mark.parametrize("settings_overrides", [None], indirect=True)
async def test_without_an_endpoint_the_generative_option_is_a_clear_422(
    client: httpx.AsyncClient, runtime: Runtime, inbox: Inbox
) -> None:
    user = await verified_user(client, runtime, inbox, email())
    answer = await client.post("/api/v1/ai/analyze", headers=user.headers, json=_summary("openai"))
    error = assert_envelope(answer, 422, "VALIDATION_ERROR")
    assert "SAAS_AI_OPENAI_BASE_URL" in error["message"]
