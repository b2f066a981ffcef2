"""The offline analyses of POST /api/v1/ai/analyze: on a small labelled set committed with
the tests (accuracy printed), and on data built so the right answer is known."""

from __future__ import annotations

import csv
import math
import uuid
from pathlib import Path

import httpx
import pytest

from saas_server.core.errors import ValidationFailed
from saas_server.core.runtime import Runtime
from saas_server.marketing import analysis
from tests.fixtures.auth import verified_user
from tests.fixtures.errors import assert_envelope
from tests.fixtures.smtp import Inbox

# Plain SQL and loopback servers: the same on either database backend.
pytestmark = pytest.mark.once

DATA = Path(__file__).parent / "data"


def _email() -> str:
    return f"u{uuid.uuid4().hex[:10]}@example.com"


def _rows(name: str) -> list[dict[str, str]]:
    with (DATA / name).open(newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def test_sentiment_on_the_labelled_set() -> None:
    rows = _rows("sentiment.tsv")
    found = analysis.sentiment([row["text"] for row in rows]).result["items"]
    right = sum(1 for row, item in zip(rows, found, strict=True) if row["label"] == item["label"])
    accuracy = right / len(rows)
    print(f"\nsentiment accuracy on {len(rows)} labelled texts: {accuracy:.1%}")
    # VADER on short, plain texts: far above the 33 % of a guess, per class too.
    assert accuracy >= 0.8
    for label in ("positive", "negative", "neutral"):
        of_label = [(r, i) for r, i in zip(rows, found, strict=True) if r["label"] == label]
        assert sum(1 for r, i in of_label if i["label"] == label) / len(of_label) >= 0.6, label


def test_keywords_on_the_labelled_set() -> None:
    rows = _rows("keywords.tsv")
    hits = 0
    for row in rows:
        top = [
            k["keyword"].lower() for k in analysis.keywords([row["text"]], top=3).result["keywords"]
        ]
        hits += row["expected"] in top
    accuracy = hits / len(rows)
    print(f"\nkeywords: the expected phrase in the top 3 for {accuracy:.1%} of {len(rows)} texts")
    assert accuracy >= 0.75


def test_topics_separate_two_subjects() -> None:
    texts = [
        "The espresso machine brews coffee with fresh coffee beans every morning.",
        "Our baristas roast coffee beans and serve espresso and latte coffee.",
        "Coffee lovers taste espresso, latte and cappuccino made from roasted beans.",
        "The football team won the match after the striker scored two goals.",
        "Fans cheered when the goalkeeper saved the penalty and the team won the match.",
        "The striker and the goalkeeper trained for the football match all week.",
    ]
    found = analysis.topics(texts, count=2).result["topics"]
    groups = sorted(sorted(topic["documents"]) for topic in found)
    assert groups == [[0, 1, 2], [3, 4, 5]]
    coffee = next(t for t in found if 0 in t["documents"])
    assert {"coffee", "espresso", "beans"} & set(coffee["terms"])


def test_summary_keeps_the_sentences_about_the_subject() -> None:
    text = (
        "Our agency redesigned the website of the bakery. "
        "The website redesign made the bakery's pages faster and clearer. "
        "The weather was rainy on Tuesday. "
        "After the website redesign, online orders at the bakery doubled. "
        "Someone brought cake to the office."
    )
    result = analysis.summary([text], sentences=2).result
    assert len(result["sentences"]) == 2
    assert all("website" in s or "bakery" in s for s in result["sentences"])
    assert "weather" not in result["summary"]


def test_trend_finds_the_slope_and_the_season() -> None:
    weekly = [5, 1, 1, 1, 1, 1, 3]  # a busy Monday and a fair Sunday, every week
    values = [10 + 0.5 * day + weekly[day % 7] for day in range(56)]
    labels = [
        f"2026-01-{day + 1:02d}" if day < 31 else f"2026-02-{day - 30:02d}" for day in range(56)
    ]
    found = analysis.trend(values, labels, period=7)
    assert found.result["direction"] == "rising"
    assert math.isclose(found.result["slope_per_step"], 0.5, abs_tol=0.05)
    assert found.result["step"] == "day"
    pattern = found.result["seasonal"]["pattern"]
    assert max(range(7), key=lambda i: pattern[i]) == 0
    assert found.confidence > 0.99

    flat = analysis.trend([3, 4, 3, 4, 3, 4, 3, 4], [None] * 8, period=None)
    assert flat.result["direction"] == "flat"


def test_anomalies_flag_the_outliers_only() -> None:
    values = [100.0, 102, 98, 101, 99, 100, 250, 101, 97, 100, 3, 102]
    found = analysis.anomalies(values, [None] * len(values), threshold=3.5).result
    assert [(a["index"], a["direction"]) for a in found["anomalies"]] == [(6, "high"), (10, "low")]
    calm = analysis.anomalies([10.0, 11, 9, 10, 11, 9, 10], [None] * 7, threshold=3.5)
    assert calm.result["anomalies"] == []


def test_posts_and_audits_are_read_in_their_shapes() -> None:
    posts = [{"content": "We love this!", "likes": 10, "shares": 2}, {"content": "Awful day."}]
    assert analysis.texts_of("social_posts", posts) == ["We love this!", "Awful day."]
    values, _ = analysis.series_of(
        "social_posts", [{"likes": 1, "shares": 1}, {"engagement": 5}, {"comments": 3}]
    )
    assert values == [2.0, 5.0, 3.0]
    scores, labels = analysis.series_of(
        "seo_audits", [{"score": 50, "created_at": "2026-01-01T00:00:00Z"}] * 3
    )
    assert scores == [50.0] * 3 and labels[0] == "2026-01-01T00:00:00Z"
    with pytest.raises(ValidationFailed):
        analysis.analyze("trend", "text", "hello")
    with pytest.raises(ValidationFailed):
        analysis.analyze("sentiment", "timeseries", [1, 2, 3])


async def test_the_endpoint_answers_with_method_and_confidence(
    client: httpx.AsyncClient, runtime: Runtime, inbox: Inbox
) -> None:
    user = await verified_user(client, runtime, inbox, _email())
    response = await client.post(
        "/api/v1/ai/analyze",
        headers=user.headers,
        json={
            "data_type": "text",
            "data": ["I love it", "I hate it"],
            "analysis_type": "sentiment",
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["method"].startswith("VADER") and body["source"] == "offline"
    assert [i["label"] for i in body["result"]["items"]] == ["positive", "negative"]
    assert 0 <= body["confidence"] <= 1 and body["confidence_means"]

    series = await client.post(
        "/api/v1/ai/analyze",
        headers=user.headers,
        json={
            "data_type": "timeseries",
            "analysis_type": "anomaly",
            "data": [
                {"date": f"2026-03-{d:02d}", "value": 10 + (90 if d == 5 else 0)}
                for d in range(1, 11)
            ],
        },
    )
    assert series.status_code == 200, series.text
    assert [a["label"] for a in series.json()["result"]["anomalies"]] == ["2026-03-05"]


async def test_bad_input_is_a_clear_422(
    client: httpx.AsyncClient, runtime: Runtime, inbox: Inbox
) -> None:
    user = await verified_user(client, runtime, inbox, _email())
    cases = [
        {"data_type": "text", "data": "x", "analysis_type": "astrology"},
        {"data_type": "text", "data": [1, 2], "analysis_type": "sentiment"},
        {"data_type": "timeseries", "data": [1, "a", 3], "analysis_type": "trend"},
        {"data_type": "timeseries", "data": [1, 2], "analysis_type": "trend"},
        {"data_type": "text", "data": "   ", "analysis_type": "keywords"},
        {"data_type": "text", "data": "good", "analysis_type": "keywords", "options": {"top": 0}},
    ]
    for body in cases:
        response = await client.post("/api/v1/ai/analyze", headers=user.headers, json=body)
        assert_envelope(response, 422, "VALIDATION_ERROR")
    anonymous = await client.post("/api/v1/ai/analyze", json=cases[0])
    assert anonymous.status_code == 401
